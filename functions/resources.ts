/**
 * The one definition of every table and queue. The CDK stack, the local stack and the handlers'
 * configuration all read from here, so a key or a setting cannot drift between them.
 */

export interface TableDefinition {
  /** Logical id, also the suffix of the local table name. */
  id: 'Events' | 'Usage' | 'Registry' | 'Pseudonyms' | 'Quarantine' | 'Audit' | 'Rollups' | 'Ledger' | 'Flags';
  /** Environment variable that carries the deployed table name into handlers. */
  env: string;
  partitionKey: 'pk';
  sortKey: 'sk';
  /** Attribute holding a Unix-seconds expiry, when items expire. */
  ttlAttribute?: string;
  /** What the table holds, for the README and CDK descriptions. */
  purpose: string;
  /**
   * `customer-managed`: encrypted at rest with a KMS key of the stack's own (rotated yearly), so reading the table
   * takes a grant on the key besides the table's, and the key's use is logged in CloudTrail. Otherwise AWS-managed.
   */
  encryption?: 'customer-managed';
  /** Global secondary indexes (string keys, projecting the keys and `nonKeyAttributes`): sparse where items may lack the keys. */
  globalIndexes?: readonly GlobalIndexDefinition[];
}

/** A global secondary index of a table (see `TableDefinition.globalIndexes`). */
export interface GlobalIndexDefinition {
  name: string;
  partitionKey: string;
  sortKey: string;
  /** The attributes copied into the index besides the table's and the index's keys. */
  nonKeyAttributes: readonly string[];
}

export const TABLES = {
  events: {
    id: 'Events',
    env: 'EVENTS_TABLE',
    partitionKey: 'pk',
    sortKey: 'sk',
    ttlAttribute: 'expiresAt',
    purpose: 'raw usage events, once each: the audit trail and the dedupe record. pk E#<customer>#<day>, sk <source>#<id>',
  },
  usage: {
    id: 'Usage',
    env: 'USAGE_TABLE',
    partitionKey: 'pk',
    sortKey: 'sk',
    ttlAttribute: 'expiresAt',
    purpose:
      'usage fragments: what one message added to each customer on one UTC day (hourly API calls, active users, file operations), one item per (day, message). pk F#<day>#<shard>, sk <messageKey>',
  },
  registry: {
    id: 'Registry',
    env: 'REGISTRY_TABLE',
    partitionKey: 'pk',
    sortKey: 'sk',
    ttlAttribute: 'expiresAt',
    purpose:
      "customers (pk CUS#<id>), hashed API keys (pk KEY#<sha256>), erased customers' marks (pk CX#<id>, TTL) and privacy requests (pk PR#<id>, TTL)",
  },
  pseudonyms: {
    id: 'Pseudonyms',
    env: 'PSEUDONYMS_TABLE',
    partitionKey: 'pk',
    sortKey: 'sk',
    ttlAttribute: 'expiresAt',
    encryption: 'customer-managed',
    purpose:
      "what links end users to what is stored: each customer's pseudonym secret (pk PS#<id>, sk SECRET), users' refs by pseudonym (pk UT#<id>, sk <pseudonym>) and erased users' tombstones (pk UX#<id>, TTL expiresAt)",
  },
  quarantine: {
    id: 'Quarantine',
    env: 'QUARANTINE_TABLE',
    partitionKey: 'pk',
    sortKey: 'sk',
    ttlAttribute: 'expiresAt',
    purpose: 'rejected or unprocessable events with their reason, replayable. pk Q#<customer|->, sk <reason>#<key>',
  },
  audit: {
    id: 'Audit',
    env: 'AUDIT_TABLE',
    partitionKey: 'pk',
    sortKey: 'sk',
    ttlAttribute: 'expiresAt',
    purpose: 'one record per operation (ingest, consume, quarantine, replay, customer change). pk A#<YYYY-MM-DD>, sk <ulid>',
  },
  rollups: {
    id: 'Rollups',
    env: 'ROLLUPS_TABLE',
    partitionKey: 'pk',
    sortKey: 'sk',
    ttlAttribute: 'expiresAt',
    purpose:
      'what the nightly close computed: daily rollups (pk R#<customer>, sk D#<day>), users seen per period (pk PU#<customer>#<period>, sk <user>), file histories (pk FH#<customer>, sk <file>), late-day markers (pk LATE, sk <customer>#<day>), runs (pk RUN#<day>, sk <runId>)',
  },
  ledger: {
    id: 'Ledger',
    env: 'LEDGER_TABLE',
    partitionKey: 'pk',
    sortKey: 'sk',
    purpose:
      'every meter event reported to Stripe: pk L#<customer>, sk <meter>#<day>#r<revision>; identifier, value, timestamp, state, attempts, last error',
  },
  flags: {
    id: 'Flags',
    env: 'FLAGS_TABLE',
    partitionKey: 'pk',
    sortKey: 'sk',
    ttlAttribute: 'expiresAt',
    purpose: 'fraud flags with evidence, status, notes and history: pk FLAG#<id>, sk FLAG; and per customer, pk CF#<customer>, sk <id>',
    // Open flags only (the attributes are written on an open flag by id and dropped with its review), in queue order: see `urgencyKey`.
    globalIndexes: [
      {
        name: 'OpenByUrgency',
        partitionKey: 'queue',
        sortKey: 'urgency',
        nonKeyAttributes: ['row', 'customerId', 'severity', 'rule', 'meter'],
      },
    ],
  },
} as const satisfies Record<string, TableDefinition>;

export type TableName = keyof typeof TABLES;

/** The usage-event queue and its dead-letter queue. */
export const EVENT_QUEUE = {
  id: 'UsageEvents',
  env: 'EVENTS_QUEUE_URL',
  dlqId: 'UsageEventsDlq',
  dlqEnv: 'EVENTS_DLQ_URL',
  /** Six times the consumer timeout, as AWS recommends for Lambda event sources. */
  visibilityTimeoutSeconds: 180,
  maxReceiveCount: 5,
  /**
   * How long a record that failed for a reason waiting can cure (throttling, a 5xx) stays hidden, by the
   * receive it failed on; the consumer sets it with ChangeMessageVisibility. Together they ride out
   * 71,760 s (19.9 h) of unbroken throttling before the DLQ, against 15 min at the bare visibility timeout.
   * The last stays under SQS's 12 h limit counted from the receive, with the invocation's 30 s to spare.
   */
  transientRedeliveryDelaysSeconds: [60, 900, 7200, 21_600, 42_000],
  retentionDays: 14,
  dlqRetentionDays: 14,
  /** Records per consumer invocation and how long the event source may wait to fill a batch. */
  batchSize: 10,
  maxBatchingWindowSeconds: 1,
} as const;

/** The nightly close's work queue: chunks of customers, fanned out to reporting workers. */
export const CLOSE_QUEUE = {
  id: 'CloseWork',
  env: 'CLOSE_QUEUE_URL',
  dlqId: 'CloseWorkDlq',
  dlqEnv: 'CLOSE_DLQ_URL',
  /** A worker may spend minutes on a chunk (Stripe rate limits); six times its timeout. */
  visibilityTimeoutSeconds: 5400,
  maxReceiveCount: 5,
  retentionDays: 4,
  dlqRetentionDays: 14,
  batchSize: 1,
  /** Customers per chunk message. */
  customersPerChunk: 50,
  /** The EventBridge schedule: 00:30 UTC every day. */
  scheduleCron: { minute: '30', hour: '0' },
} as const;

/** Nightly close function settings; the close queue's visibility timeout depends on the worker's timeout. */
export const CLOSE_FUNCTIONS = {
  plannerTimeoutSeconds: 300,
  /** CLOSE_QUEUE.visibilityTimeoutSeconds is six times this. */
  workerTimeoutSeconds: 900,
  workerMemoryMb: 1024,
  /**
   * Worker invocations at once. Stripe's rate limit is per account, so each worker is given
   * `stripeRatePerSecond / workerMaxConcurrency` (SQS event sources accept 2..1000).
   */
  workerMaxConcurrency: 10,
  /**
   * Customers one worker closes side by side (CLOSE_CONCURRENCY). They share that worker's one rate
   * limiter, so this does not change the rate split above.
   */
  customersAtOnce: 4,
  /** Calls per second to Stripe shared by all workers; 25 is Stripe's test-mode limit. */
  stripeRatePerSecond: 25,
} as const;

/** The Stripe secret key in Secrets Manager: its SecretString is the bare key (`sk_live_…` or `rk_live_…`). */
export const STRIPE_SECRET = {
  name: 'serenity-metering/stripe',
  /** Environment variable that carries the secret's ARN into the close worker. */
  env: 'STRIPE_SECRET_ARN',
} as const;

/** The signing secret of Stripe's event destination (POST /v1/stripe/webhooks) in Secrets Manager: the bare `whsec_…`. */
export const STRIPE_WEBHOOK_SECRET = {
  name: 'serenity-metering/stripe-webhook',
  /** Environment variable that carries the secret's ARN into the api function. */
  env: 'STRIPE_WEBHOOK_SECRET_ARN',
} as const;

/** Consumer function settings that the queue settings depend on. */
export const CONSUMER = {
  timeoutSeconds: 30,
  memoryMb: 1024,
} as const;

/** Defaults that configuration may override. */
export const DEFAULTS = {
  eventRetentionDays: 400,
  auditRetentionDays: 2555,
  /** Usage fragments, from their UTC day: as long as the raw events, so the usage API reads back as far as they reach. */
  fragmentRetentionDays: 400,
  /** Quarantined events, from their quarantine. */
  quarantineRetentionDays: 90,
  /** Daily rollups and period user sets, from their billing period's end: seven years, as tax records. */
  rollupRetentionDays: 2555,
  /** Decided fraud flags, from their decision (or their last change after it). */
  flagRetentionDays: 730,
  /** An erased customer's ledger amounts kept for tax: ten years, as the strictest VAT record-keeping rules (Germany's, for one) ask. */
  ledgerRetentionDays: 3650,
} as const;

/** Service name in logs and Powertools metadata. */
export const SERVICE_NAME = 'serenity-metering';

/**
 * The Lambda functions, by the one name each goes by: its file under `functions/handlers/`, its CDK
 * construct (`HANDLER_CONSTRUCT_IDS`) and the `function` key of its logs.
 */
export const HANDLERS = ['ingest', 'consume', 'api', 'close-planner', 'close-worker'] as const;
export type HandlerName = (typeof HANDLERS)[number];

/** A handler's CDK construct id: its name in PascalCase, then `Function` (`close-worker` is `CloseWorkerFunction`). */
export function handlerConstructId(name: HandlerName): string {
  return `${name.replace(/(^|-)(\w)/g, (_, _dash: string, c: string) => c.toUpperCase())}Function`;
}

/** The SNS topic new fraud flags are published to. */
export const FLAG_TOPIC = {
  id: 'FraudFlags',
  env: 'FLAG_TOPIC_ARN',
} as const;

/**
 * Every HTTP route (`METHOD /path`, `{name}` for a path parameter) and the function that serves it. The
 * API function's router must handle every `api` route (its table is typed from this one), the CDK API
 * adds exactly these routes, and the local HTTP bridge forwards them.
 */
export const HTTP_ROUTES = {
  'POST /v1/events': 'ingest',
  'GET /v1/usage': 'api',
  'GET /v1/health': 'api',
  'GET /v1/statements/{customer}': 'api',
  'GET /v1/flags': 'api',
  'GET /v1/flags/{id}': 'api',
  'POST /v1/flags/{id}/review': 'api',
  'POST /v1/customers': 'api',
  'GET /v1/customers/{customer}/expected-activity': 'api',
  'POST /v1/customers/{customer}/expected-activity': 'api',
  'DELETE /v1/customers/{customer}/expected-activity/{id}': 'api',
  // console: caller
  'GET /v1/me': 'api',
  // console: flags (queue, claim, bulk review)
  'POST /v1/flags/{id}/claim': 'api',
  'DELETE /v1/flags/{id}/claim': 'api',
  'POST /v1/flags/review': 'api',
  // console: finance (customers, periods, reconcile, ledger)
  'GET /v1/customers': 'api',
  'GET /v1/periods/{period}': 'api',
  'POST /v1/reconcile': 'api',
  'GET /v1/ledger/{customer}': 'api',
  // console: operations (close runs, quarantine, DLQ, audit, keys)
  'GET /v1/close-runs': 'api',
  'GET /v1/quarantine': 'api',
  'POST /v1/quarantine/replay': 'api',
  'POST /v1/dlq/redrive': 'api',
  'GET /v1/audit': 'api',
  'GET /v1/keys': 'api',
  'POST /v1/keys': 'api',
  'DELETE /v1/keys/{id}': 'api',
  // privacy requests (admin): export and erase one end user's data
  'POST /v1/privacy/requests': 'api',
  'GET /v1/privacy/requests/{id}': 'api',
  'GET /v1/privacy/requests/{id}/export': 'api',
  // Stripe's event destination: no API key, the Stripe-Signature header is the auth
  'POST /v1/stripe/webhooks': 'api',
} as const satisfies Record<string, Extract<HandlerName, 'ingest' | 'api'>>;

export type HttpRouteKey = keyof typeof HTTP_ROUTES;
/** The routes the API function serves. */
export type ApiRouteKey = { [K in HttpRouteKey]: (typeof HTTP_ROUTES)[K] extends 'api' ? K : never }[HttpRouteKey];
