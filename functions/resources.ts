/**
 * The one definition of every table and queue. The CDK stack, the local stack and the handlers'
 * configuration all read from here, so a key or a setting cannot drift between them.
 */

export interface TableDefinition {
  /** Logical id, also the suffix of the local table name. */
  id: 'Events' | 'Usage' | 'Registry' | 'Quarantine' | 'Audit';
  /** Environment variable that carries the deployed table name into handlers. */
  env: string;
  partitionKey: 'pk';
  sortKey: 'sk';
  /** Attribute holding a Unix-seconds expiry, when items expire. */
  ttlAttribute?: string;
  /** What the table holds, for the README and CDK descriptions. */
  purpose: string;
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
    purpose: 'usage fragments: what one message added to each customer on one UTC day (hourly API calls, active users, file operations), one item per (day, message). pk F#<day>#<shard>, sk <messageKey>',
  },
  registry: {
    id: 'Registry',
    env: 'REGISTRY_TABLE',
    partitionKey: 'pk',
    sortKey: 'sk',
    purpose: 'customers (pk CUS#<id>) and hashed API keys (pk KEY#<sha256>)',
  },
  quarantine: {
    id: 'Quarantine',
    env: 'QUARANTINE_TABLE',
    partitionKey: 'pk',
    sortKey: 'sk',
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
  retentionDays: 14,
  dlqRetentionDays: 14,
  /** Records per consumer invocation and how long the event source may wait to fill a batch. */
  batchSize: 10,
  maxBatchingWindowSeconds: 1,
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
} as const;

/** Service name in logs and Powertools metadata. */
export const SERVICE_NAME = 'serenity-metering';
