import type { APIGatewayProxyEventV2, APIGatewayProxyEventV2WithJWTAuthorizer } from 'aws-lambda';
import { AuthError } from '../../contract/errors.js';
import { authenticate, markKeyUsed } from '../core/shared/api-keys.js';
import type { ApiKey, KeyRole, Registry } from '../core/shared/ports.js';

/** What a route needs to know about its caller: the key (or, deployed, the signed-in user) and its role. */
export type Caller = ApiKey;

type JwtClaims = APIGatewayProxyEventV2WithJWTAuthorizer['requestContext']['authorizer']['jwt']['claims'];

/**
 * The caller of an HTTP request, checked against the roles a route allows: 401 without a known
 * credential, 403 for one whose role is not allowed. Two credentials:
 * - an API key in the Authorization header (`Bearer mk_…`), for machines and the local console;
 * - deployed, a Cognito user whose JWT API Gateway's authorizer has already validated. Only API Gateway
 *   writes `requestContext.authorizer`, never a client (the local bridge never sets it), so claims are read
 *   from there and nothing in the request's headers can stand in for them.
 */
export async function authorize(
  event: APIGatewayProxyEventV2,
  s: { keyByHash: (hash: string) => Promise<ApiKey | undefined>; registry?: Pick<Registry, 'touchKey'>; clock?: { now(): number } },
  allowed: readonly KeyRole[],
): Promise<Caller> {
  const claims = (event.requestContext as Partial<APIGatewayProxyEventV2WithJWTAuthorizer['requestContext']>).authorizer?.jwt?.claims;
  if (claims) return rememberCaller(event, jwtCaller(claims, allowed));
  const key = rememberCaller(event, await authenticate(event.headers?.authorization, s.keyByHash, allowed));
  // Keys other than ingest keys are read afresh on every request (`cachedLookup`), so their lastUsedAt is current:
  // at most one write per key an hour. Only the api function writes it (the ingest function cannot write keys).
  if (s.registry && s.clock && key.role !== 'ingest') await markKeyUsed(key, s.registry, s.clock.now());
  return key;
}

const callers = new WeakMap<APIGatewayProxyEventV2, Caller>();

/** Notes who a request was authenticated as, for its request log line (`callerOfRequest`); returns the caller. */
export function rememberCaller(event: APIGatewayProxyEventV2, caller: Caller): Caller {
  callers.set(event, caller);
  return caller;
}

/** Who the request was authenticated as, once a route has authenticated it; undefined before or on a 401. */
export function callerOfRequest(event: APIGatewayProxyEventV2): Caller | undefined {
  return callers.get(event);
}

/** Console roles a Cognito group can grant, strongest first: a user in several groups acts with the strongest. */
const GROUP_ROLES: readonly KeyRole[] = ['admin', 'analyst', 'finance'];

/** The caller a validated JWT describes: 403 when its groups grant no console role or not one the route allows. */
export function jwtCaller(claims: JwtClaims, allowed: readonly KeyRole[]): Caller {
  const groups = groupsOf(claims['cognito:groups']);
  const role = GROUP_ROLES.find((r) => groups.includes(r));
  if (!role) throw new AuthError('this user is in none of the groups finance, analyst or admin', 403);
  if (!allowed.includes(role)) throw new AuthError(`a ${role} user cannot do this; needs ${allowed.join(' or ')}`, 403);
  const principal = [claims.email, claims['cognito:username'], claims.username].find((v): v is string => typeof v === 'string' && v !== '');
  if (!principal) throw new AuthError('the token names no user (email or username)');
  const sub = typeof claims.sub === 'string' ? claims.sub : principal;
  // A user is not a stored key: the hash marks it as a JWT caller, so nothing mistakes it for a registry key.
  return { hash: `jwt:${sub}`, prefix: 'jwt', role, principal, createdAt: new Date(0).toISOString() };
}

/**
 * `cognito:groups` as API Gateway passes it: an array when the claim is read raw, but HTTP APIs flatten array
 * claims into a string such as `[admin analyst]`; commas are accepted as separators too.
 */
function groupsOf(claim: JwtClaims[string] | undefined): string[] {
  if (Array.isArray(claim)) return claim.map(String);
  if (typeof claim !== 'string') return [];
  return claim
    .replace(/^\[|\]$/g, '')
    .split(/[\s,]+/)
    .filter((g) => g !== '');
}
