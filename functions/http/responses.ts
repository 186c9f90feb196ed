import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import {
  AuthError,
  ConflictError,
  MeteringError,
  NotConfiguredError,
  NotFoundError,
  StateConflictError,
  ValidationError,
  WebhookSignatureError,
} from '../../contract/errors.js';
import { logger } from '../runtime/logger.js';

export type HttpResult = APIGatewayProxyStructuredResultV2;

/** A JSON response. */
export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): HttpResult {
  return { statusCode, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) };
}

/**
 * The one place a thrown error becomes a response. A route just throws: the input is wrong (400), the
 * key (401/403), nothing by that name (404), the record moved on or is past that step (409), an outside
 * system failed in a way that may pass (503, retry) or a feature is not configured (503, naming it); anything else is a logged 500 that says nothing of its cause.
 */
export function errorResponse(err: unknown, requestId: string): HttpResult {
  if (err instanceof ValidationError) return json(400, { error: 'invalid request', errors: err.errors });
  if (err instanceof AuthError) return json(err.status, { error: err.message });
  // A webhook whose Stripe-Signature does not verify: refused, nothing read (the SDK's reason, never the secret).
  if (err instanceof WebhookSignatureError) return json(400, { error: err.message });
  if (err instanceof NotFoundError) return json(404, { error: err.message });
  // A record changed under us even after the retries a route makes: the caller may read it again and decide.
  if (err instanceof ConflictError || err instanceof StateConflictError) return json(409, { error: err.message });
  // A feature this deployment has not configured (Stripe for reconcile): unavailable until an operator sets it, saying which.
  if (err instanceof NotConfiguredError) return json(503, { error: err.message });
  if (err instanceof MeteringError && err.retryable) {
    logger.warn('transient failure', { requestId, error: err.message, context: err.context });
    return json(503, { error: 'temporarily unavailable; retry', requestId }, { 'retry-after': '1' });
  }
  logger.error('request failed', { requestId, error: err as Error });
  return json(500, { error: 'internal error', requestId });
}
