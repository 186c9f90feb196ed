import { ulid } from 'ulid';
import { type Clock, systemClock } from '../../contract/clock.js';
import { type AwsClients, makeAwsClients } from '../adapters/aws/aws-clients.js';
import { SqsEventQueue } from '../adapters/aws/sqs-event-queue.js';
import { CapacityMeter } from '../adapters/dynamodb/capacity-meter.js';
import { DynamoDbAuditLog } from '../adapters/dynamodb/dynamodb-audit-log.js';
import { DynamoDbCustomerData } from '../adapters/dynamodb/dynamodb-customer-data.js';
import { DynamoDbEventStore } from '../adapters/dynamodb/dynamodb-event-store.js';
import { DynamoDbFlagStore } from '../adapters/dynamodb/dynamodb-flag-store.js';
import { DynamoDbLedger } from '../adapters/dynamodb/dynamodb-ledger.js';
import { DynamoDbPrivacyRequests } from '../adapters/dynamodb/dynamodb-privacy-requests.js';
import { DynamoDbQuarantine } from '../adapters/dynamodb/dynamodb-quarantine.js';
import { DynamoDbRegistry } from '../adapters/dynamodb/dynamodb-registry.js';
import { DynamoDbRollupStore } from '../adapters/dynamodb/dynamodb-rollup-store.js';
import { DynamoDbUsageStore } from '../adapters/dynamodb/dynamodb-usage-store.js';
import { DynamoDbUserRefs } from '../adapters/dynamodb/dynamodb-user-refs.js';
import type { StripeAccess } from '../core/billing/reconcile-period.js';
import type { StripeWebhooks } from '../core/billing/stripe-async-errors.js';
import type { CustomerData } from '../core/privacy/erase-customer.js';
import type { PrivacyRequests } from '../core/privacy/requests.js';
import { cachedLookup } from '../core/shared/api-keys.js';
import type {
  ApiKey,
  AuditLog,
  AuditSearch,
  CloseRunListing,
  CustomerPages,
  DeadLetters,
  EventQueue,
  EventStore,
  FlagStore,
  LedgerPages,
  LedgerStore,
  QuarantinePages,
  QuarantineStore,
  Registry,
  RollupStore,
  UsageStore,
  UserRefs,
} from '../core/shared/ports.js';
import { type Config, loadConfig } from './config.js';
import { lazy } from './lazy.js';
import { traced } from './tracer.js';

/** Every adapter a handler may use, wired from one Config. The composition root. */
export interface Services {
  config: Config;
  clients: AwsClients;
  capacity: CapacityMeter;
  clock: Clock;
  newId: () => string;
  events: EventStore;
  usage: UsageStore;
  registry: Registry & CustomerPages;
  quarantine: QuarantineStore & QuarantinePages;
  audit: AuditLog & AuditSearch;
  queue: EventQueue & DeadLetters;
  rollups: RollupStore & CloseRunListing;
  ledger: LedgerStore & LedgerPages;
  flags: FlagStore;
  /** End users' refs (pseudonyms), in the Registry table. */
  userRefs: UserRefs;
  /** Privacy requests and their export downloads, in the Registry table. */
  privacyRequests: PrivacyRequests;
  /** What a customer's erasure deletes, across the tables. */
  customerData: CustomerData;
  /** Hands a queued privacy export to the close worker (the api function, when the close queue is configured). */
  privacyJobs?: (requestId: string) => Promise<void>;
  /**
   * Stripe as reconciliation and the period close read it, built on first use; only the api function has it
   * (`makeApiServices`), and only when a Stripe key or its secret is configured.
   */
  stripe?: () => Promise<StripeAccess>;
  /** Stripe's webhooks, verified; only the api function has it, when the endpoint's signing secret is configured. */
  stripeWebhooks?: () => Promise<StripeWebhooks>;
  /** Cached API-key lookup by hash. */
  keyByHash: (hash: string) => Promise<ApiKey | undefined>;
}

export interface ServiceOverrides {
  env?: NodeJS.ProcessEnv;
  clients?: AwsClients;
  clock?: Clock;
  capacity?: CapacityMeter;
  newId?: () => string;
}

/** Builds the services from the environment; tests and the local stack pass their own clients or clock. */
export function makeServices(o: ServiceOverrides = {}): Services {
  const config = loadConfig(o.env);
  const clients = o.clients ?? traced(makeAwsClients({ region: config.region }));
  const capacity = o.capacity ?? new CapacityMeter();
  const clock = o.clock ?? systemClock;
  const registry = new DynamoDbRegistry(clients.doc, config.tables.registry, capacity);
  const quarantine = new DynamoDbQuarantine(clients, config.tables.quarantine, capacity, {
    retentionDays: config.quarantineRetentionDays,
    now: () => clock.now(),
  });
  return {
    config,
    clients,
    capacity,
    clock,
    newId: o.newId ?? (() => ulid(clock.now())),
    events: new DynamoDbEventStore(clients.dynamo, config.tables.events, config.eventRetentionDays, capacity),
    usage: new DynamoDbUsageStore(clients.dynamo, config.tables.usage, capacity, config.fragmentRetentionDays),
    registry,
    quarantine,
    audit: new DynamoDbAuditLog(clients.doc, config.tables.audit, config.auditRetentionDays, capacity),
    queue: new SqsEventQueue(clients.sqs, config.queueUrl, config.dlqUrl),
    rollups: new DynamoDbRollupStore(clients, config.tables.rollups, capacity, {
      rollupDays: config.rollupRetentionDays,
      eventDays: config.eventRetentionDays,
    }),
    ledger: new DynamoDbLedger(clients.dynamo, clients.doc, config.tables.ledger, capacity),
    flags: new DynamoDbFlagStore(
      clients,
      config.tables.flags,
      capacity,
      { holdSeverities: config.holdSeverities },
      config.flagRetentionDays,
    ),
    userRefs: new DynamoDbUserRefs(clients.dynamo, config.tables.pseudonyms, () => clock.now(), capacity),
    privacyRequests: new DynamoDbPrivacyRequests(clients.doc, config.tables.registry, capacity),
    customerData: new DynamoDbCustomerData(clients.doc, config.tables, quarantine, capacity),
    keyByHash: cachedLookup(
      (h) => registry.keyByHash(h),
      () => clock.now(),
    ),
  };
}

/** The process-wide services, created on first use (a Lambda cold start). */
export const services: () => Services = lazy(() => makeServices());
