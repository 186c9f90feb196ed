import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { AuthError, MeteringError, ValidationError } from '../../contract/errors.js';
import { truncateIp } from '../../contract/privacy.js';
import { logger } from '../runtime/logger.js';

export type HttpResult = APIGatewayProxyStructuredResultV2;

/** A JSON response. */
export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): HttpResult {
  return { statusCode, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) };
}

/** Maps a thrown error to a response: typed errors say what went wrong, anything else is a logged 500. */
export function errorResponse(err: unknown, requestId: string): HttpResult {
  if (err instanceof ValidationError) return json(400, { error: 'invalid request', errors: err.errors });
  if (err instanceof AuthError) return json(err.status, { error: err.message });
  if (err instanceof MeteringError && err.retryable) {
    logger.warn('transient failure', { requestId, error: err.message, context: err.context });
    return json(503, { error: 'temporarily unavailable; retry', requestId }, { 'retry-after': '1' });
  }
  logger.error('request failed', { requestId, error: err as Error });
  return json(500, { error: 'internal error', requestId });
}

/** The raw body bytes of an HTTP API request. */
export function bodyBytes(event: APIGatewayProxyEventV2): Buffer {
  return Buffer.from(event.body ?? '', event.isBase64Encoded ? 'base64' : 'utf8');
}

/** The request body parsed as JSON (an empty body is `null`), or the 400 answer when it is not JSON. */
export function jsonBody(event: APIGatewayProxyEventV2): { body: unknown } | { invalid: HttpResult } {
  try {
    return { body: JSON.parse(bodyBytes(event).toString('utf8') || 'null') };
  } catch {
    return { invalid: json(400, { error: 'body is not valid JSON' }) };
  }
}

/** Who called, as far as the audit trail may know: the network prefix and country/state from the edge. */
export function callerOf(event: APIGatewayProxyEventV2): { ipPrefix?: string; region?: string } {
  const ip = event.requestContext?.http?.sourceIp;
  const country = event.headers?.['cloudfront-viewer-country'];
  const state = event.headers?.['cloudfront-viewer-country-region'];
  return {
    ...(ip ? { ipPrefix: truncateIp(ip) } : {}),
    ...(country ? { region: state ? `${country}-${state}` : country } : {}),
  };
}

/** A URL path segment, decoded; a malformed one is a 400 naming `field`. */
export function decodeSegment(raw: string, field: string): string {
  let value: string;
  try {
    value = decodeURIComponent(raw);
  } catch {
    throw new ValidationError([{ field, message: 'is not a valid URL-encoded path segment' }]);
  }
  // Ids are at most 256 characters (the event contract's limit); a longer one would fail DynamoDB's key limit as a 500.
  if (value.length > MAX_ID_LENGTH) throw new ValidationError([{ field, message: `must be at most ${MAX_ID_LENGTH} characters` }]);
  return value;
}

/** Longest id (customer, flag, expected activity) a path or query may name. */
const MAX_ID_LENGTH = 256;
