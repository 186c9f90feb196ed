/** The `error` object of a Stripe error response. */
export interface StripeErrorBody {
  type: string;
  message: string;
  code?: string;
  param?: string;
  doc_url?: string;
}

/**
 * An error answer in Stripe's shape. `saveIdempotent` is false for failures that happen before
 * an endpoint starts executing: Stripe saves no idempotent result for those, so a retry runs again.
 */
export class StripeHttpError extends Error {
  constructor(
    readonly status: number,
    readonly error: StripeErrorBody,
    readonly headers: Record<string, string> = {},
    readonly saveIdempotent = true,
  ) {
    super(error.message);
    this.name = 'StripeHttpError';
  }
}

/** A rule of the endpoint rejected the request (saved for idempotent replay). */
export function invalidRequest(message: string, param?: string, headers: Record<string, string> = {}): StripeHttpError {
  return new StripeHttpError(400, { type: 'invalid_request_error', message, ...(param ? { param } : {}) }, headers);
}

/** The request's parameters are malformed; Stripe rejects these before the endpoint runs. */
export function invalidParam(message: string, param: string): StripeHttpError {
  return new StripeHttpError(400, { type: 'invalid_request_error', message, param }, {}, false);
}

/** A required parameter is absent. */
export function missingParam(param: string): StripeHttpError {
  return new StripeHttpError(
    400,
    { type: 'invalid_request_error', code: 'parameter_missing', message: `Missing required param: ${param}.`, param },
    {},
    false,
  );
}

/** A parameter the endpoint does not take; this is also how "only display_name may change" surfaces. */
export function unknownParam(param: string): StripeHttpError {
  return new StripeHttpError(
    400,
    { type: 'invalid_request_error', code: 'parameter_unknown', message: `Received unknown parameter: ${param}`, param },
    {},
    false,
  );
}

/** A referenced object does not exist. */
export function noSuch(kind: string, id: string, param = 'id'): StripeHttpError {
  return new StripeHttpError(404, {
    type: 'invalid_request_error',
    code: 'resource_missing',
    doc_url: 'https://stripe.com/docs/error-codes/resource-missing',
    message: `No such ${kind}: '${id}'`,
    param,
  });
}

/** No route for this method and path. */
export function unrecognizedUrl(method: string, path: string): StripeHttpError {
  return new StripeHttpError(
    404,
    {
      type: 'invalid_request_error',
      message: `Unrecognized request URL (${method}: ${path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.`,
    },
    {},
    false,
  );
}

/** No credentials at all. */
export function missingApiKey(): StripeHttpError {
  return new StripeHttpError(
    401,
    {
      type: 'invalid_request_error',
      message:
        "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.",
    },
    {},
    false,
  );
}

/** Credentials that are not a test secret key (live keys are refused on purpose: this is not Stripe). */
export function invalidApiKey(key: string): StripeHttpError {
  const masked = key.length > 12 ? `${key.slice(0, 8)}${'*'.repeat(key.length - 12)}${key.slice(-4)}` : '****';
  return new StripeHttpError(401, { type: 'invalid_request_error', message: `Invalid API Key provided: ${masked}` }, {}, false);
}

/** A meter event stream token past its 15 minutes; the SDK maps this type to TemporarySessionExpiredError. */
export function sessionExpired(): StripeHttpError {
  return new StripeHttpError(
    401,
    {
      type: 'temporary_session_expired',
      code: 'billing_meter_event_session_expired',
      message: 'The meter event session has expired. Create a new meter event session and retry.',
    },
    {},
    false,
  );
}

/** Stripe's rate-limit answer. `Stripe-Should-Retry` is only sent when the caller of this asks for it. */
export function rateLimited(message: string, shouldRetry?: boolean): StripeHttpError {
  return new StripeHttpError(
    429,
    {
      type: 'invalid_request_error',
      code: 'rate_limit',
      doc_url: 'https://stripe.com/docs/error-codes/rate-limit',
      message,
    },
    shouldRetryHeader(shouldRetry),
    false,
  );
}

/** A server-side failure, as injected by a fault. */
export function apiError(status: number, shouldRetry?: boolean): StripeHttpError {
  return new StripeHttpError(
    status,
    { type: 'api_error', message: `Something went wrong on Stripe's end (HTTP ${status} injected by the Stripe test server).` },
    shouldRetryHeader(shouldRetry),
    false,
  );
}

/** The same idempotency key came back with other parameters or on another endpoint. */
export function idempotencyMismatch(key: string): StripeHttpError {
  return new StripeHttpError(
    400,
    {
      type: 'idempotency_error',
      message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
    },
    {},
    false,
  );
}

/** The same idempotency key is still being processed by an earlier request. */
export function idempotencyInUse(key: string): StripeHttpError {
  return new StripeHttpError(
    409,
    {
      type: 'invalid_request_error',
      code: 'idempotency_key_in_use',
      message: `There is currently another in-progress request using this Idempotent Key (that probably means you submitted twice, and the other request is still going through): ${key}. Please try again later.`,
    },
    {},
    false,
  );
}

function shouldRetryHeader(shouldRetry: boolean | undefined): Record<string, string> {
  return shouldRetry === undefined ? {} : { 'Stripe-Should-Retry': String(shouldRetry) };
}
