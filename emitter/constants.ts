import { INGEST_LIMITS } from '../contract/ingest-limits.js';
import type { RetryOptions } from './types.js';

/** Limits of POST /v1/events that the emitter must respect: the contract's, which ingest enforces. */
export const INGEST_REQUEST_LIMITS = INGEST_LIMITS;

/** Defaults of the emitter's options. */
export const DEFAULTS = {
  flushIntervalMs: 5_000,
  maxBatchEvents: INGEST_REQUEST_LIMITS.maxEvents,
  maxPendingEvents: 100_000,
  shutdownTimeoutMs: 10_000,
  requestTimeoutMs: 10_000,
  retry: { maxAttempts: 5, baseDelayMs: 200, maxDelayMs: 10_000 } satisfies RetryOptions,
} as const;

/** Batches in flight at once during a flush round. */
export const SEND_CONCURRENCY = 4;

/** Distinct client IPs remembered with their prefix; the cache is also emptied every minute. */
export const IP_CACHE_SIZE = 4_096;

/**
 * Open API-call aggregates that force an early seal. Sealing early only multiplies events (a key then
 * makes several events in its minute); memory is bounded by maxPendingEvents, which open aggregates
 * count against, so this is a backstop, far above the batch size.
 */
export const MAX_OPEN_AGGREGATES = 50_000;
