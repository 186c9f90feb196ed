import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { fixedClock } from '../../../contract/clock.js';
import { hashKey } from '../../../functions/core/shared/api-keys.js';
import { makeIngestHandler } from '../../../functions/handlers/ingest.js';
import type { Services } from '../../../functions/runtime/services.js';
import { MemoryQuarantine, MemoryQueue } from '../../fakes/memory-ports.js';

function services(queue: MemoryQueue): Services {
  const key = { hash: hashKey('k1'), prefix: 'k1', role: 'ingest' as const, source: 'gw', principal: 'gw', createdAt: '' };
  const audits: unknown[] = [];
  return {
    queue,
    quarantine: new MemoryQuarantine(),
    clock: fixedClock('2026-11-29T12:00:00Z'),
    config: { behindCloudFront: false },
    newId: () => '01JTESTREQUEST000000000000',
    keyByHash: async (h: string) => (h === key.hash ? key : undefined),
    audit: { record: async (e: unknown) => void audits.push(e), list: async () => [] },
  } as unknown as Services;
}

const request = (events: unknown[]): APIGatewayProxyEventV2 =>
  ({
    headers: { authorization: 'Bearer k1', 'content-type': 'application/cloudevents-batch+json' },
    body: JSON.stringify(events),
    isBase64Encoded: false,
    requestContext: { http: { method: 'POST', path: '/v1/events', sourceIp: '203.0.113.5' } },
  }) as unknown as APIGatewayProxyEventV2;

const call = (id: string) => ({
  specversion: '1.0',
  type: 'com.serenity.api.call',
  source: 'gw',
  subject: 'acme',
  id,
  time: '2026-11-29T11:00:00Z',
});

describe('POST /v1/events status', () => {
  it('is 503 when nothing valid could be enqueued, so the whole request may be resent', async () => {
    // Prepare
    const queue = new MemoryQueue();
    queue.failNext = 10;
    // Act
    const res = await makeIngestHandler(services(queue))(request([call('a'), call('b')]));
    // Assess
    expect(res.statusCode).toBe(503);
    expect(JSON.parse(res.body!).rejected.map((r: { id: string; retryable: boolean }) => [r.id, r.retryable])).toEqual([
      ['a', true],
      ['b', true],
    ]);
  });

  it('is 202 when everything valid was enqueued', async () => {
    const queue = new MemoryQueue();
    const res = await makeIngestHandler(services(queue))(request([call('a')]));
    expect(res.statusCode).toBe(202);
    expect(queue.bodies).toHaveLength(1);
  });
});
