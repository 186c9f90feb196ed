import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { TransientError } from '../../../contract/errors.js';
import type { ApiKey, AuditEntry } from '../../../functions/core/shared/ports.js';
import { rememberCaller } from '../../../functions/http/auth.js';
import { json } from '../../../functions/http/responses.js';
import { makeRouter, type RouteRequest } from '../../../functions/http/router.js';
import { logger } from '../../../functions/runtime/logger.js';

const key: ApiKey = { hash: 'h', prefix: 'mk_1', role: 'ingest', principal: 'gateway-eu', createdAt: '2026-01-01T00:00:00Z' };

const request = (requestId: string | undefined): APIGatewayProxyEventV2 =>
  ({
    routeKey: 'POST /v1/events',
    rawPath: '/v1/events',
    headers: {},
    requestContext: { ...(requestId ? { requestId } : {}), http: { method: 'POST', path: '/v1/events', sourceIp: '203.0.113.77' } },
  }) as unknown as APIGatewayProxyEventV2;

/** Services with an audit log that keeps what it is given, and ids the router may fall back to. */
function services() {
  const recorded: AuditEntry[] = [];
  const audit = { record: async (e: AuditEntry) => void recorded.push(e), list: async () => recorded };
  return { recorded, s: { newId: () => '01JFALLBACK0000000000000000', audit } };
}

afterEach(() => vi.restoreAllMocks());

describe('the router and the request id', () => {
  it("hands the route API Gateway's request id, and tags the route's audit records with it", async () => {
    // Prepare
    const { s, recorded } = services();
    const seen: RouteRequest[] = [];
    const router = makeRouter<typeof s>(
      {
        'POST /v1/events': async (req, deps) => {
          seen.push(req);
          await deps.audit.record({ id: '01JAUDIT', action: 'ingest', actor: 'gw', at: '2026-12-04T00:00:00Z' });
          return json(202, {});
        },
      },
      s,
    );
    // Act
    await router(request('Jq3xKgBVoAMEb4Q='));
    // Assess
    expect(seen.map((r) => r.requestId)).toEqual(['Jq3xKgBVoAMEb4Q=']);
    expect(recorded).toEqual([expect.objectContaining({ id: '01JAUDIT', requestId: 'Jq3xKgBVoAMEb4Q=' })]);
    // The audit's reads are the adapter's own.
    expect(await s.audit.list()).toBe(recorded);
  });

  it('makes a new id when the event has none (a test, a bare invoke)', async () => {
    const { s } = services();
    const router = makeRouter<typeof s>({ 'POST /v1/events': async ({ requestId }) => json(200, { requestId }) }, s);
    const res = await router(request(undefined));
    expect(JSON.parse(res.body ?? '{}')).toEqual({ requestId: '01JFALLBACK0000000000000000' });
  });

  it("answers an error with API Gateway's id", async () => {
    const { s } = services();
    vi.spyOn(logger, 'warn').mockImplementation(() => undefined);
    const router = makeRouter<typeof s>(
      {
        'POST /v1/events': async () => {
          throw new TransientError('throttled');
        },
      },
      s,
    );
    const res = await router(request('gw-id-1'));
    expect(res.statusCode).toBe(503);
    expect(JSON.parse(res.body ?? '{}')).toMatchObject({ requestId: 'gw-id-1' });
  });

  it("logs one line per request with the request id, the caller's /24 and the key's principal, never the address", async () => {
    // Prepare
    const { s } = services();
    const info = vi.spyOn(logger, 'info').mockImplementation(() => undefined);
    const router = makeRouter<typeof s>(
      {
        'POST /v1/events': async ({ event }) => {
          rememberCaller(event, key);
          return json(202, {});
        },
      },
      s,
    );
    // Act
    await router(request('gw-id-2'));
    await router({ ...request('gw-id-3'), rawPath: '/nowhere' } as APIGatewayProxyEventV2);
    // Assess
    const lines = info.mock.calls.filter(([message]) => message === 'request').map(([, fields]) => fields);
    expect(lines).toEqual([
      expect.objectContaining({ requestId: 'gw-id-2', status: 202, ipPrefix: '203.0.113.0/24', principal: 'gateway-eu', role: 'ingest' }),
      expect.objectContaining({ requestId: 'gw-id-3', status: 404, ipPrefix: '203.0.113.0/24' }),
    ]);
    expect(lines[1]).not.toHaveProperty('principal');
    expect(JSON.stringify(info.mock.calls)).not.toContain('203.0.113.77');
  });
});
