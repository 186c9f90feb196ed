/** One problem with one input field: `field` is a dotted path into the submitted object. */
export interface FieldError {
  field: string;
  message: string;
}

/** Base of every error the pipeline raises on purpose: says whether trying again can help. */
export abstract class MeteringError extends Error {
  abstract readonly retryable: boolean;
  constructor(
    message: string,
    readonly context: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The input is wrong and will stay wrong: quarantine it, never retry it. */
export class ValidationError extends MeteringError {
  readonly retryable = false;
  constructor(
    readonly errors: FieldError[],
    context: Record<string, unknown> = {},
  ) {
    super(errors.map((e) => `${e.field}: ${e.message}`).join('; '), context);
  }
}

/**
 * A meter event the pre-send guard refuses (Stripe would refuse it too): `field` names the field, `reason` the rule.
 * Never retried: the record is settled in error under `reason`, which reconcile lists.
 */
export class MeterEventGuardError extends ValidationError {
  constructor(
    readonly reason: 'value_too_many_digits' | 'identifier_too_long' | 'timestamp_out_of_window' | 'invalid_event',
    errors: FieldError[],
    context: Record<string, unknown> = {},
  ) {
    super(errors, context);
  }
}

/** A webhook whose signature does not verify (wrong secret, altered body, stale timestamp): HTTP 400, never processed. */
export class WebhookSignatureError extends MeteringError {
  readonly retryable = false;
}

/** Configuration is missing or malformed: fail loudly at cold start. */
export class ConfigError extends MeteringError {
  readonly retryable = false;
}

/** A feature a request needs is not configured in this deployment (e.g. Stripe for the API's reconcile): HTTP 503, naming the setting. */
export class NotConfiguredError extends ConfigError {}

/** An outside system failed in a way that may pass (throttling, network, 5xx): retry. */
export class TransientError extends MeteringError {
  readonly retryable = true;
}

/** A permanent, non-input failure (e.g. a conflict that cannot resolve by waiting). */
export class PermanentError extends MeteringError {
  readonly retryable = false;
}

/** A stored record changed since it was read: read it again and redo the change (retryable). */
export class ConflictError extends MeteringError {
  readonly retryable = true;
}

/** What a request names does not exist (HTTP 404). */
export class NotFoundError extends MeteringError {
  readonly retryable = false;
}

/** The request conflicts with the record as it now stands, and waiting will not change that (HTTP 409): e.g. a flag already reviewed. */
export class StateConflictError extends MeteringError {
  readonly retryable = false;
}

/** Authentication failed: missing or unknown key, or a key without the needed role. */
export class AuthError extends MeteringError {
  readonly retryable = false;
  constructor(
    message: string,
    readonly status: 401 | 403 = 401,
  ) {
    super(message);
  }
}
