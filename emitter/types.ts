import type { SQSClient } from '@aws-sdk/client-sqs';
import type { Clock } from '../contract/clock.js';
import type { FieldError } from '../contract/errors.js';
import type { EventType } from '../contract/meters.js';
import type { EmitterError } from './errors.js';

/** A CloudEvents 1.0 structured-mode event of contract v1, exactly as POST /v1/events accepts it. */
export interface CloudEvent {
  specversion: '1.0';
  id: string;
  source: string;
  type: EventType;
  subject: string;
  time: string;
  datacontenttype: 'application/json';
  data: Record<string, unknown>;
}

/** The verdict on one event that was not accepted. */
export interface TransportRejection {
  id: string;
  /** True when resending the same event (same id) may succeed. */
  retryable: boolean;
  /** Short, countable reason, e.g. `invalid:time`, `not_enqueued`, `http_401`. */
  reason: string;
  errors: FieldError[];
}

/** What a transport says about a batch. An id in neither list is treated as a retryable failure. */
export interface TransportResult {
  accepted: string[];
  rejected: TransportRejection[];
}

/**
 * Delivers batches of events. Throwing means the whole batch failed; an error with
 * `retryable: false` settles the batch as rejected, anything else is retried with the same ids.
 * @example const transport: Transport = { send: async (events) => ({ accepted: events.map((e) => e.id), rejected: [] }) };
 */
export interface Transport {
  send(events: readonly CloudEvent[], options?: { signal?: AbortSignal }): Promise<TransportResult>;
}

/** Optional dimensions of one API call. Every field is part of the aggregation key. */
export interface ApiCallOptions {
  operation?: string;
  /** Truncated to /24 (IPv4) or /48 (IPv6) at record time; the full address is never kept in an event. */
  clientIp?: string;
  apiKeyId?: string;
  /** ISO 3166-1 alpha-2, e.g. `DE`. */
  country?: string;
  /** ISO 3166-2 state level, e.g. `US-CA`. */
  region?: string;
  /** Calls this record stands for; an integer in [1, 1_000_000]. Default 1. */
  quantity?: number;
}

/** Exponential backoff with full jitter: attempt n waits random(0, min(maxDelayMs, baseDelayMs * 2^(n-1))). */
export interface RetryOptions {
  /** Sends per event per flush round, the first included. */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

/** Why a recording call (or, for `shutdown_timeout`, a pending event) was not delivered. A closed set. */
export type DropReason =
  | 'backpressure'
  | 'invalid_customer_id'
  | 'invalid_ip'
  | 'card_number'
  | 'invalid_input'
  | 'after_shutdown'
  | 'shutdown_timeout'
  | 'internal_error';

/** Counters since the emitter was created. */
export interface EmitterStats {
  /** Calls to apiCall, userActive, fileProtected and fileUnprotected, dropped ones included. */
  recorded: number;
  /** userActive calls collapsed into an event already recorded for that user and hour. */
  deduplicated: number;
  /** Events handed to the transport, every attempt counted. */
  sent: number;
  accepted: number;
  /** Sends of an event after its first. */
  retries: number;
  /** Events the receiver refused for good, by reason. */
  rejected: { total: number; byReason: Record<string, number> };
  /** Recording calls not turned into an event, and events abandoned at the shutdown deadline, by reason. */
  dropped: { total: number; byReason: Partial<Record<DropReason, number>> };
  /** Events held in memory: open aggregates plus sealed events not yet accepted or rejected. */
  pending: number;
}

interface CommonOptions {
  /** The CloudEvents `source` of every event; (source, id) is the pipeline's dedupe key. */
  source: string;
  /** How often open aggregates are sealed and pending events sent. Default 5000. */
  flushIntervalMs?: number;
  /** Events per transport call, and open aggregates that force a seal. Default and maximum 1000. */
  maxBatchEvents?: number;
  /** Bound on events held in memory; beyond it new events are dropped. Default 100_000. */
  maxPendingEvents?: number;
  retry?: Partial<RetryOptions>;
  /** How long shutdown() keeps retrying before abandoning what is left. Default 10_000. */
  shutdownTimeoutMs?: number;
  /** Time source for event times, minutes and hours. Default the system clock. */
  clock?: Clock;
  /** Told about every drop, rejection and failed send. Must not throw (if it does, it is ignored). */
  onError?: (error: EmitterError) => void;
  /**
   * Secret key (at least 32 characters) of the HMAC that makes user.active ids, so a stored id cannot be
   * traced back to its user. Give every process of one source the same key to make their ids equal, so
   * the pipeline's (source, id) dedupe collapses repeats across processes. Default: a random key per
   * emitter; processes then send different ids for one user-hour, which costs only extra stored events
   * (distinct-user counts are by user, not by event id, so billing stays exact). Never logged or sent.
   */
  userIdKey?: string;
}

/** Send to the HTTP ingest endpoint. */
export interface HttpTargetOptions {
  /** Base URL; events go to `${endpoint}/v1/events`. */
  endpoint: string;
  /** An ingest key, sent as a bearer token. */
  apiKey: string;
  /** Per-request timeout. Default 10_000. */
  requestTimeoutMs?: number;
  queueUrl?: never;
  transport?: never;
}

/** Send straight to the events queue, normalised exactly as ingest would. */
export interface SqsTargetOptions {
  queueUrl: string;
  /** Default `new SQSClient({})`. */
  sqs?: SQSClient;
  endpoint?: never;
  transport?: never;
}

/** Any transport, e.g. a fake in tests. */
export interface CustomTargetOptions {
  transport: Transport;
  endpoint?: never;
  queueUrl?: never;
}

/** Options of createUsageEmitter: common settings plus exactly one target. */
export type UsageEmitterOptions = CommonOptions & (HttpTargetOptions | SqsTargetOptions | CustomTargetOptions);

/** The emitter's public surface. Recording methods are synchronous, return nothing and never throw. */
export interface UsageEmitter {
  /** Counts one API call (or `call.quantity`), aggregated per key and UTC minute into one api.call event. */
  apiCall(customerId: string, call?: ApiCallOptions): void;
  /** Marks a user active: one user.active event per (customer, user, UTC hour), its id a keyed MAC (see `userIdKey`). */
  userActive(customerId: string, userId: string): void;
  /** Records that a file came under protection (one event, id fixed now). */
  fileProtected(customerId: string, fileId: string): void;
  /** Records that a file left protection (one event, id fixed now). */
  fileUnprotected(customerId: string, fileId: string): void;
  /** Seals open aggregates and sends everything pending; resolves when each event is settled or has used its attempts. Never rejects. */
  flush(): Promise<void>;
  /** Stops the timer, flushes, and keeps retrying until everything is settled or the deadline passes. Never rejects. */
  shutdown(): Promise<void>;
  /** A snapshot of the counters. */
  stats(): EmitterStats;
}
