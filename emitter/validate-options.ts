import type { KeyObject } from 'node:crypto';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { type Clock, systemClock } from '../contract/clock.js';
import { ConfigError, type FieldError } from '../contract/errors.js';
import { LIMITS } from '../contract/event-contract.js';
import { looksLikeCardNumber } from '../contract/privacy.js';
import { DEFAULTS, INGEST_REQUEST_LIMITS } from './constants.js';
import type { EmitterError } from './errors.js';
import { newUserIdKey } from './ids.js';
import type { RetryOptions, Transport, UsageEmitterOptions } from './types.js';

/** Where events go: a closed union, switched on with an exhaustiveness check. */
export type Target =
  | { kind: 'http'; endpoint: string; apiKey: string; requestTimeoutMs: number }
  | { kind: 'sqs'; queueUrl: string; sqs?: SQSClient }
  | { kind: 'custom'; transport: Transport };

/** Options with defaults applied, checked once at construction. */
export interface ResolvedOptions {
  source: string;
  flushIntervalMs: number;
  maxBatchEvents: number;
  maxPendingEvents: number;
  retry: RetryOptions;
  shutdownTimeoutMs: number;
  clock: Clock;
  onError?: (error: EmitterError) => void;
  /** The `userIdKey` secret as a key; undefined when not given (the emitter then draws a random one). */
  userIdKey?: KeyObject;
  target: Target;
}

const COMMON_KEYS = [
  'source',
  'flushIntervalMs',
  'maxBatchEvents',
  'maxPendingEvents',
  'retry',
  'shutdownTimeoutMs',
  'clock',
  'onError',
  'userIdKey',
];
const TARGET_KEYS = { http: ['endpoint', 'apiKey', 'requestTimeoutMs'], sqs: ['queueUrl', 'sqs'], custom: ['transport'] } as const;
const RETRY_KEYS = new Set(['maxAttempts', 'baseDelayMs', 'maxDelayMs']);
const MAX_TIMER_MS = 2 ** 31 - 1;
const ID_SAFE = /^[^#\s]+$/;
/** 32 characters: at least 128 bits of secret when random hex (192 as base64), beyond guessing. */
const MIN_USER_ID_KEY_LENGTH = 32;

/**
 * Checks emitter options and applies defaults, reporting every problem at once. Unknown keys are
 * errors, to catch typos. Throws ConfigError: construction is the one place the emitter fails loudly.
 */
export function resolveOptions(options: UsageEmitterOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) throw new ConfigError('usage emitter options must be an object');
  const o = options as unknown as Record<string, unknown>;
  const errors: FieldError[] = [];
  const fail = (field: string, message: string) => errors.push({ field, message });

  const kinds = (['http', 'sqs', 'custom'] as const).filter((k) => o[TARGET_KEYS[k][0]] !== undefined);
  if (kinds.length !== 1) fail('', 'needs exactly one target: { endpoint, apiKey }, { queueUrl } or { transport }');
  const kind = kinds[0];
  const allowed = new Set([...COMMON_KEYS, ...(kind ? TARGET_KEYS[kind] : [])]);
  for (const key of Object.keys(o)) {
    if (!allowed.has(key)) fail(key, kinds.length === 1 && isTargetKey(key) ? `does not apply to the ${kind} target` : 'unknown option');
  }

  const int = (field: string, value: unknown, min: number, max: number, fallback: number): number => {
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      fail(field, `must be an integer in [${min}, ${max}]`);
      return fallback;
    }
    return value;
  };
  const text = (field: string, value: unknown): string => {
    if (typeof value !== 'string' || value.length === 0) fail(field, 'must be a non-empty string');
    return String(value);
  };

  const source = text('source', o.source);
  if (typeof o.source === 'string') {
    if (o.source.length > LIMITS.maxStringLength) fail('source', `must be at most ${LIMITS.maxStringLength} characters`);
    if (!ID_SAFE.test(o.source)) fail('source', 'must not contain "#" or whitespace');
    if (looksLikeCardNumber(o.source)) fail('source', 'looks like a payment card number');
  }

  const retryIn = o.retry ?? {};
  if (typeof retryIn !== 'object' || retryIn === null) fail('retry', 'must be an object');
  const r = (typeof retryIn === 'object' && retryIn !== null ? retryIn : {}) as Record<string, unknown>;
  for (const key of Object.keys(r)) if (!RETRY_KEYS.has(key)) fail(`retry.${key}`, 'unknown option');
  const retry: RetryOptions = {
    maxAttempts: int('retry.maxAttempts', r.maxAttempts, 1, 100, DEFAULTS.retry.maxAttempts),
    baseDelayMs: int('retry.baseDelayMs', r.baseDelayMs, 0, MAX_TIMER_MS, DEFAULTS.retry.baseDelayMs),
    maxDelayMs: int('retry.maxDelayMs', r.maxDelayMs, 0, MAX_TIMER_MS, DEFAULTS.retry.maxDelayMs),
  };

  if (o.clock !== undefined && typeof (o.clock as Clock | null)?.now !== 'function') fail('clock', 'must have a now() method');
  if (o.onError !== undefined && typeof o.onError !== 'function') fail('onError', 'must be a function');
  // Never echo the value: it is a secret.
  const userIdKeyOk = typeof o.userIdKey === 'string' && o.userIdKey.length >= MIN_USER_ID_KEY_LENGTH;
  if (o.userIdKey !== undefined && !userIdKeyOk)
    fail('userIdKey', `must be a secret string of at least ${MIN_USER_ID_KEY_LENGTH} characters`);

  let target: Target | undefined;
  switch (kind) {
    case 'http': {
      const endpoint = text('endpoint', o.endpoint);
      if (!/^https?:\/\/[^/]/i.test(endpoint) || !URL.canParse(endpoint)) fail('endpoint', 'must be an http(s) URL');
      const apiKey = text('apiKey', o.apiKey);
      const requestTimeoutMs = int('requestTimeoutMs', o.requestTimeoutMs, 1, MAX_TIMER_MS, DEFAULTS.requestTimeoutMs);
      target = { kind, endpoint: endpoint.replace(/\/+$/, ''), apiKey, requestTimeoutMs };
      break;
    }
    case 'sqs': {
      const queueUrl = text('queueUrl', o.queueUrl);
      if (o.sqs !== undefined && typeof (o.sqs as SQSClient | null)?.send !== 'function') fail('sqs', 'must be an SQSClient');
      target = { kind, queueUrl, sqs: o.sqs as SQSClient | undefined };
      break;
    }
    case 'custom':
      if (typeof (o.transport as Transport | null)?.send !== 'function') fail('transport', 'must have a send(events) method');
      target = { kind, transport: o.transport as Transport };
      break;
    case undefined:
      break;
  }

  const resolved = {
    source,
    flushIntervalMs: int('flushIntervalMs', o.flushIntervalMs, 1, MAX_TIMER_MS, DEFAULTS.flushIntervalMs),
    maxBatchEvents: int('maxBatchEvents', o.maxBatchEvents, 1, INGEST_REQUEST_LIMITS.maxEvents, DEFAULTS.maxBatchEvents),
    maxPendingEvents: int('maxPendingEvents', o.maxPendingEvents, 1, 100_000_000, DEFAULTS.maxPendingEvents),
    retry,
    shutdownTimeoutMs: int('shutdownTimeoutMs', o.shutdownTimeoutMs, 0, MAX_TIMER_MS, DEFAULTS.shutdownTimeoutMs),
    clock: (o.clock as Clock | undefined) ?? systemClock,
    onError: o.onError as ResolvedOptions['onError'],
    userIdKey: userIdKeyOk ? newUserIdKey(o.userIdKey as string) : undefined,
  };
  if (errors.length > 0 || target === undefined) {
    throw new ConfigError(
      `invalid usage emitter options: ${errors.map((e) => (e.field ? `${e.field} ${e.message}` : e.message)).join('; ')}`,
      { errors },
    );
  }
  return { ...resolved, target };
}

function isTargetKey(key: string): boolean {
  return Object.values(TARGET_KEYS).some((keys) => (keys as readonly string[]).includes(key));
}
