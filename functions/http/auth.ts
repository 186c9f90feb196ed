import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { authenticate } from '../core/shared/api-keys.js';
import type { ApiKey, KeyRole } from '../core/shared/ports.js';

/** What a route needs to know about its caller: the key (or, deployed, the signed-in user) and its role. */
export type Caller = ApiKey;

/**
 * The caller of an HTTP request, checked against the roles a route allows: 401 without a known
 * credential, 403 for one whose role is not allowed. Today the credential is an API key in the
 * Authorization header (`Bearer mk_…`).
 */
export function authorize(
  event: APIGatewayProxyEventV2,
  s: { keyByHash: (hash: string) => Promise<ApiKey | undefined> },
  allowed: readonly KeyRole[],
): Promise<Caller> {
  return authenticate(event.headers?.authorization, s.keyByHash, allowed);
}
