import { gzipSync } from 'node:zlib';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { fixedClock } from '../../../contract/clock.js';
import { hashKey } from '../../../functions/core/shared/api-keys.js';
import { makeIngestHandler } from '../../../functions/handlers/ingest.js';
import type { Services } from '../../../functions/runtime/services.js';
import { MemoryQuarantine, MemoryQueue } from '../../fakes/memory-ports.js';

const key = { hash: hashKey('k1'), prefix: 'k1', role: 'ingest' as const, source: 'gw', principal: 'gw', createdAt: '' };
const services = (queue: MemoryQueue) =>
  ({
    queue,
    quarantine: new MemoryQuarantine(),
    clock: fixedClock('2026-11-29T12:00:00Z'),
    newId: () => '01JTESTREQUEST000000000000',
    keyByHash: async (h: string) => (h === key.hash ? key : undefined),
    audit: { record: async () => undefined, list: async () => [] },
    config: { behindCloudFront: false },
  }) as unknown as Services;

const text = JSON.stringify([
  {
    specversion: '1.0',
    type: 'com.serenity.api.call',
    source: 'gw',
    subject: 'acme',
    id: 'a',
    time: '2026-11-29T11:00:00Z',
    data: { operation: 'encrypté' },
  },
]);
const request = (body: Buffer, headers: Record<string, string>): APIGatewayProxyEventV2 =>
  ({
    headers: { authorization: 'Bearer k1', ...headers },
    body: body.toString('base64'),
    isBase64Encoded: true,
    requestContext: { http: { method: 'POST', path: '/v1/events', sourceIp: '203.0.113.5' } },
  }) as unknown as APIGatewayProxyEventV2;

describe('POST /v1/events reads only what it can read as sent', () => {
  it.each([
    ['latin1 bytes declared as latin1', Buffer.from(text, 'latin1'), { 'content-type': 'application/json; charset=latin1' }, 415],
    ['bytes that are not UTF-8', Buffer.from(text, 'latin1'), { 'content-type': 'application/cloudevents-batch+json' }, 400],
    ['a gzip body', gzipSync(text), { 'content-type': 'application/cloudevents-batch+json', 'content-encoding': 'gzip' }, 415],
    [
      'a gzip header on a plain body',
      Buffer.from(text),
      { 'content-type': 'application/cloudevents-batch+json', 'content-encoding': 'gzip' },
      415,
    ],
    ['text/plain', Buffer.from(text), { 'content-type': 'text/plain' }, 415],
    ['multipart', Buffer.from(text), { 'content-type': 'multipart/form-data; boundary=x' }, 415],
  ])('refuses %s, enqueuing nothing and naming the reason', async (_name, body, headers, status) => {
    // Prepare
    const queue = new MemoryQueue();
    // Act
    const res = await makeIngestHandler(services(queue))(request(body, headers));
    // Assess
    expect([res.statusCode, typeof JSON.parse(res.body!).error]).toEqual([status, 'string']);
    expect(queue.bodies).toHaveLength(0);
  });

  it('accepts UTF-8 JSON with no content type, or application/json; charset=utf-8', async () => {
    const queue = new MemoryQueue();
    const none = await makeIngestHandler(services(queue))(request(Buffer.from(text), {}));
    const utf8 = await makeIngestHandler(services(queue))(
      request(Buffer.from(text), { 'content-type': 'application/json; charset=utf-8' }),
    );
    expect([none.statusCode, utf8.statusCode]).toEqual([202, 202]);
    expect(queue.bodies.join('')).toContain('encrypté');
  });
});
