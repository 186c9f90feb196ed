import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { fixedClock } from '../../../contract/clock.js';
import { type CloudEvent, createHttpTransport, createUsageEmitter, type EmitterError } from '../../../emitter/index.js';

interface Seen {
  method?: string;
  url?: string;
  headers: IncomingHttpHeaders;
  events: CloudEvent[];
}

/** A tiny stand-in for POST /v1/events; `answer` decides each response from the request number. */
async function startIngest(
  answer: (n: number, events: CloudEvent[]) => { status: number; body: unknown; headers?: Record<string, string> },
) {
  const seen: Seen[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const events = JSON.parse(Buffer.concat(chunks).toString('utf8')) as CloudEvent[];
      seen.push({ method: req.method, url: req.url, headers: req.headers, events });
      const { status, body, headers } = answer(seen.length, events);
      res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { seen, server, endpoint: `http://127.0.0.1:${port}` };
}

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  server = undefined;
});

describe('HTTP transport against POST /v1/events', () => {
  it('authenticates, sends a CloudEvents batch, retries a 503 with the same ids and reads per-event verdicts', async () => {
    // Prepare: 503 first; then 202 with cus_bad's event rejected as invalid
    const ingest = await startIngest((n, events) =>
      n === 1
        ? { status: 503, body: { error: 'queue unavailable, retry' } }
        : {
            status: 202,
            body: {
              accepted: events.filter((e) => e.subject !== 'cus_bad').map((e) => ({ id: e.id })),
              rejected: events.flatMap((e, index) =>
                e.subject === 'cus_bad'
                  ? [{ index, id: e.id, errors: [{ field: 'subject', message: 'is not a registered customer' }] }]
                  : [],
              ),
            },
          },
    );
    server = ingest.server;
    const errors: EmitterError[] = [];
    const emitter = createUsageEmitter({
      endpoint: `${ingest.endpoint}/`,
      apiKey: 'mk_ingest_test',
      source: 'api-gw',
      clock: fixedClock('2026-03-10T12:00:05.000Z'),
      retry: { baseDelayMs: 1, maxDelayMs: 5 },
      onError: (e) => errors.push(e),
    });
    for (let i = 0; i < 5; i++) emitter.apiCall('cus_1', { operation: 'files.encrypt', clientIp: '203.0.113.9' });
    emitter.apiCall('cus_bad');
    emitter.userActive('cus_1', 'user_1');
    // Act
    await emitter.shutdown();
    // Assess
    expect(ingest.seen).toHaveLength(2);
    for (const req of ingest.seen) {
      expect(req.method).toBe('POST');
      expect(req.url).toBe('/v1/events');
      expect(req.headers.authorization).toBe('Bearer mk_ingest_test');
      expect(req.headers['content-type']).toBe('application/cloudevents-batch+json');
    }
    const ids = ingest.seen.map((req) => req.events.map((e) => e.id).sort());
    expect(ids[0]).toHaveLength(3);
    expect(ids[1]).toEqual(ids[0]);
    expect(ingest.seen[1]!.events.find((e) => e.subject === 'cus_1' && e.type === 'com.serenity.api.call')?.data).toEqual({
      quantity: 5,
      operation: 'files.encrypt',
      clientIp: '203.0.113.0',
    });
    expect(emitter.stats()).toMatchObject({
      sent: 6,
      accepted: 2,
      retries: 3,
      rejected: { total: 1, byReason: { 'invalid:subject': 1 } },
      pending: 0,
    });
    expect(errors.map((e) => [e.reason, e.context.detail])).toEqual([
      ['send_failed', 'http_503'],
      ['rejected', 'invalid:subject'],
    ]);
  });

  it("waits as long as a 429's Retry-After asks before trying again", async () => {
    // Prepare: 429 with Retry-After: 1 (second); then accepted
    const ingest = await startIngest((n, events) =>
      n === 1
        ? { status: 429, body: { error: 'slow down' }, headers: { 'retry-after': '1' } }
        : { status: 202, body: { accepted: events.map((e) => ({ id: e.id })), rejected: [] } },
    );
    server = ingest.server;
    const errors: EmitterError[] = [];
    const emitter = createUsageEmitter({
      endpoint: ingest.endpoint,
      apiKey: 'mk_ingest_test',
      source: 'api-gw',
      clock: fixedClock('2026-03-10T12:00:05.000Z'),
      retry: { baseDelayMs: 1, maxDelayMs: 5 },
      onError: (e) => errors.push(e),
    });
    emitter.fileProtected('cus_1', 'file_1');

    // Act
    await emitter.shutdown();

    // Assess: the failure reports the server's pacing, which the next try waits out instead of the 1-5 ms backoff
    expect(errors.map((e) => [e.reason, e.context.detail, e.context.retryAfterMs])).toEqual([['send_failed', 'http_429', 1000]]);
    expect(ingest.seen).toHaveLength(2);
    expect(emitter.stats()).toMatchObject({ accepted: 1, pending: 0 });
  });

  it('does not retry a 401, and splits a batch above the request limit', async () => {
    // Prepare
    const ingest = await startIngest((n, events) =>
      n === 1
        ? { status: 401, body: { error: 'unknown key' } }
        : { status: 202, body: { accepted: events.map((e) => ({ id: e.id })), rejected: [] } },
    );
    server = ingest.server;
    const transport = createHttpTransport({ endpoint: ingest.endpoint, apiKey: 'mk_ingest_wrong', requestTimeoutMs: 5_000 });
    const event = (i: number): CloudEvent => ({
      specversion: '1.0',
      id: `id_${i}`,
      source: 'api-gw',
      type: 'com.serenity.api.call',
      subject: 'cus_1',
      time: '2026-03-10T12:00:00.000Z',
      datacontenttype: 'application/json',
      data: { quantity: 1 },
    });
    // Act
    const refused = await transport.send([event(0)]).catch((e: unknown) => e);
    const split = await transport.send(Array.from({ length: 1500 }, (_, i) => event(i)));
    // Assess
    expect(refused).toMatchObject({ reason: 'http_401', retryable: false });
    expect(ingest.seen.slice(1).map((r) => r.events.length)).toEqual([1000, 500]);
    expect(split.accepted).toHaveLength(1500);
  });
});
