import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { ValidationError } from '../../contract/errors.js';
import { truncateIp } from '../../contract/privacy.js';
import { countryOfIp, regionFromViewerHeaders } from './caller-geography.js';
import { type HttpResult, json } from './responses.js';

/** Longest id (customer, flag, expected activity) a path or query may name: the event contract's limit, inside DynamoDB's key limit. */
const MAX_ID_LENGTH = 256;

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

/**
 * Who called, as far as the audit trail may know: the network prefix (never the address) and the region.
 * Behind CloudFront (`behindCloudFront`), the region is its viewer headers' ISO 3166 codes; anywhere else
 * those headers are the caller's own words and are ignored: the country comes from the source address
 * through an offline GeoIP database (no state then). Fraud detection is the named use of this geography.
 */
export function callerOf(event: APIGatewayProxyEventV2, config: { behindCloudFront: boolean }): { ipPrefix?: string; region?: string } {
  const ip = event.requestContext?.http?.sourceIp;
  const region = config.behindCloudFront
    ? regionFromViewerHeaders(event.headers?.['cloudfront-viewer-country'], event.headers?.['cloudfront-viewer-country-region'])
    : ip
      ? countryOfIp(ip)
      : undefined;
  const ipPrefix = ip ? truncateIp(ip) : undefined;
  return {
    ...(ipPrefix ? { ipPrefix } : {}),
    ...(region ? { region } : {}),
  };
}

/** A URL path segment, decoded; a malformed or over-long one is a 400 naming `field` (it would fail DynamoDB's key limit as a 500). */
export function decodeSegment(raw: string, field: string): string {
  let value: string;
  try {
    value = decodeURIComponent(raw);
  } catch {
    throw new ValidationError([{ field, message: 'is not a valid URL-encoded path segment' }]);
  }
  if (value.length > MAX_ID_LENGTH) throw new ValidationError([{ field, message: `must be at most ${MAX_ID_LENGTH} characters` }]);
  return value;
}
