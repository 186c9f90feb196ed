import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { AuthError } from '../../contract/errors.js';
import { hashKey } from '../../functions/core/shared/api-keys.js';
import type { ApiKey, KeyRole } from '../../functions/core/shared/ports.js';
import { authorize } from '../../functions/http/auth.js';

/** A payload-v2 request with these headers and, when given, the claims API Gateway's JWT authorizer validated. */
function request(headers: Record<string, string>, claims?: Record<string, string | string[] | number>): APIGatewayProxyEventV2 {
  return {
    version: '2.0',
    routeKey: 'GET /v1/me',
    rawPath: '/v1/me',
    rawQueryString: '',
    headers,
    requestContext: {
      http: { method: 'GET', path: '/v1/me', protocol: 'HTTP/1.1', sourceIp: '198.51.100.7', userAgent: 'test' },
      ...(claims ? { authorizer: { jwt: { claims, scopes: null }, principalId: '', integrationLatency: 0 } } : {}),
    },
  } as unknown as APIGatewayProxyEventV2;
}

const ANALYST_KEY = 'mk_analyst_test-key-0000000000000000';
const stored: ApiKey = {
  hash: hashKey(ANALYST_KEY),
  prefix: ANALYST_KEY.slice(0, 12),
  role: 'analyst',
  principal: 'ana',
  createdAt: '2026-01-01T00:00:00.000Z',
};
const services = { keyByHash: async (h: string) => (h === stored.hash ? stored : undefined) };
const ALL: KeyRole[] = ['finance', 'analyst', 'admin'];

/** The status authorize refuses with, or 'ok'. */
async function outcome(event: APIGatewayProxyEventV2, roles: readonly KeyRole[]): Promise<number | 'ok'> {
  try {
    await authorize(event, services, roles);
    return 'ok';
  } catch (err) {
    if (err instanceof AuthError) return err.status;
    throw err;
  }
}

describe('authorize with a JWT validated by API Gateway', () => {
  it('takes the strongest console role from cognito:groups, in either form API Gateway passes it', async () => {
    // Act
    const flattened = await authorize(request({}, { 'cognito:groups': '[finance admin]', email: 'fi@example.com' }), services, ALL);
    const asArray = await authorize(request({}, { 'cognito:groups': ['finance', 'analyst'], email: 'an@example.com' }), services, ALL);
    const single = await authorize(request({}, { 'cognito:groups': 'finance', email: 'f@example.com' }), services, ALL);

    // Assess
    expect([flattened.role, flattened.principal]).toEqual(['admin', 'fi@example.com']);
    expect([asArray.role, asArray.principal]).toEqual(['analyst', 'an@example.com']);
    expect(single.role).toBe('finance');
  });

  it('names the user by email, else by username', async () => {
    // Act
    const byCognitoName = await authorize(request({}, { 'cognito:groups': 'admin', 'cognito:username': 'jdoe' }), services, ALL);
    const byName = await authorize(request({}, { 'cognito:groups': 'admin', username: 'jroe' }), services, ALL);

    // Assess
    expect(byCognitoName.principal).toBe('jdoe');
    expect(byName.principal).toBe('jroe');
    expect(await outcome(request({}, { 'cognito:groups': 'admin', sub: 'abc' }), ALL)).toBe(401);
  });

  it('refuses a user in no console group, or whose role the route does not allow, with 403', async () => {
    // Act / Assess
    expect(await outcome(request({}, { 'cognito:groups': '[ingest staff]', email: 'x@example.com' }), ALL)).toBe(403);
    expect(await outcome(request({}, { email: 'x@example.com' }), ALL)).toBe(403);
    expect(await outcome(request({}, { 'cognito:groups': 'finance', email: 'x@example.com' }), ['analyst', 'admin'])).toBe(403);
    expect(await outcome(request({}, { 'cognito:groups': 'analyst', email: 'x@example.com' }), ['admin'])).toBe(403);
  });
});

describe('authorize without a JWT', () => {
  it('keeps the API-key path: a known key passes, an unknown or missing one is 401, a wrong role 403', async () => {
    // Act / Assess
    expect((await authorize(request({ authorization: `Bearer ${ANALYST_KEY}` }), services, ALL)).principal).toBe('ana');
    expect(await outcome(request({ authorization: 'Bearer mk_admin_not-a-key' }), ALL)).toBe(401);
    expect(await outcome(request({}), ALL)).toBe(401);
    expect(await outcome(request({ authorization: `Bearer ${ANALYST_KEY}` }), ['admin'])).toBe(403);
  });

  it('ignores headers a client names like claims: they grant nothing', async () => {
    // Prepare: everything a client could write to pass itself off as a Cognito admin
    const forged = {
      'cognito:groups': 'admin',
      email: 'mallory@example.com',
      'x-amzn-oidc-data': 'admin',
      'x-amzn-oidc-identity': 'mallory',
      authorizer: '{"jwt":{"claims":{"cognito:groups":"admin"}}}',
    };

    // Act / Assess: no key, so 401; with an analyst key, still the analyst, still refused admin routes
    expect(await outcome(request(forged), ['admin'])).toBe(401);
    const withKey = await authorize(request({ ...forged, authorization: `Bearer ${ANALYST_KEY}` }), services, ALL);
    expect([withKey.role, withKey.principal]).toEqual(['analyst', 'ana']);
    expect(await outcome(request({ ...forged, authorization: `Bearer ${ANALYST_KEY}` }), ['admin'])).toBe(403);
  });
});
