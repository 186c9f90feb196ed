import { type FieldError, MeteringError } from '../contract/errors.js';
import type { CloudEvent, DropReason } from './types.js';

/** What the emitter reports: a dropped call, a refused event, or a failed send. A closed set. */
export type EmitterErrorReason = DropReason | 'rejected' | 'send_failed';

/** Context of an emitter error. Never holds a full IP address or a card-number-like value. */
export interface EmitterErrorContext {
  /** The recording method, for drops at record time. */
  method?: 'apiCall' | 'userActive' | 'fileProtected' | 'fileUnprotected';
  /** Field problems; messages name fields, never echo the value. */
  errors?: FieldError[];
  /** Events concerned (rejected or abandoned ones), so that the host can log or keep them. */
  events?: CloudEvent[];
  /** Calls or events concerned, when `events` is not given. */
  count?: number;
  /** The finer, countable reason from the transport, e.g. `invalid:time`, `http_401`, `http_503`. */
  detail?: string;
  [key: string]: unknown;
}

/**
 * The one error type the emitter reports through `onError` (it never throws into the caller).
 * `retryable` is true when the emitter is still trying.
 * @example createUsageEmitter({ ..., onError: (e) => logger.warn(e.message, { reason: e.reason, detail: e.context.detail }) })
 */
export class EmitterError extends MeteringError {
  constructor(
    readonly reason: EmitterErrorReason,
    message: string,
    readonly retryable: boolean,
    override readonly context: EmitterErrorContext = {},
    options?: { cause?: unknown },
  ) {
    super(message, context, options);
  }
}

/**
 * What a transport throws when a whole batch failed. `reason` is countable (`http_503`, `network`);
 * `retryable` says whether the same events may succeed later.
 * @example throw new TransportError('http_401', 'ingest answered 401', false, { status: 401 });
 */
export class TransportError extends MeteringError {
  constructor(
    readonly reason: string,
    message: string,
    readonly retryable: boolean,
    context: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(message, context, options);
  }
}

/** Whether a thrown value says that trying again can help; unknown errors are assumed transient. */
export function isRetryable(err: unknown): boolean {
  const flag = (err as { retryable?: unknown } | null)?.retryable;
  return typeof flag === 'boolean' ? flag : true;
}

/** The countable reason of a thrown value. */
export function reasonOf(err: unknown): string {
  const reason = (err as { reason?: unknown } | null)?.reason;
  return typeof reason === 'string' ? reason : 'transport_error';
}
