import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUsageEmitter } from '../../emitter/index.js';
import { parseUsageQuery, usageReport } from '../../functions/core/count/usage-query.js';
import { buildCustomer } from '../../functions/core/shared/customers.js';
import { freePort } from '../../local/free-port.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';

let stack: LocalStack;
let proxy: Server;
let proxyUrl: string;
let lostResponses = 0;

beforeAll(async () => {
  stack = await startLocalStack({ visibilityTimeoutSeconds: 2 });
  await stack.services.registry.putCustomer(buildCustomer({ id: 'emit-co' }, undefined, Date.now()));
  // A proxy that forwards the first two requests and then loses their responses, as a timeout would.
  const port = await freePort();
  proxy = createServer(async (req, res) => {
    const body = await new Promise<Buffer>((r) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c)).on('end', () => r(Buffer.concat(chunks)));
    });
    const upstream = await fetch(`${stack.url}${req.url}`, {
      method: req.method,
      headers: req.headers as Record<string, string>,
      body: new Uint8Array(body),
    });
    const text = await upstream.text();
    if (lostResponses < 2) {
      lostResponses++;
      req.socket.destroy();
      return;
    }
    res.writeHead(upstream.status, { 'content-type': 'application/json' }).end(text);
  });
  await new Promise<void>((r) => proxy.listen(port, '127.0.0.1', () => r()));
  proxyUrl = `http://127.0.0.1:${port}`;
});
afterAll(async () => {
  proxy?.close();
  await stack?.stop();
});

describe('emitter through the real pipeline', () => {
  it('counts every call exactly once when responses are lost and the emitter retries with the same ids', async () => {
    // Prepare
    const emitter = createUsageEmitter({
      endpoint: proxyUrl,
      apiKey: stack.ingestKey,
      source: 'local',
      flushIntervalMs: 50,
      retry: { baseDelayMs: 20, maxDelayMs: 100 },
    });
    // Act: calls, users and files, then shutdown (which flushes and waits for the retries)
    for (let i = 0; i < 1234; i++)
      emitter.apiCall('emit-co', { operation: i % 2 ? 'files.encrypt' : 'files.decrypt', clientIp: '203.0.113.50', country: 'NL' });
    for (let i = 0; i < 30; i++) emitter.userActive('emit-co', `user-${i % 7}`);
    for (let i = 0; i < 5; i++) emitter.fileProtected('emit-co', `file-${i}`);
    emitter.fileUnprotected('emit-co', 'file-0');
    await emitter.shutdown();
    await stack.drain();
    // Assess
    expect(lostResponses).toBe(2);
    expect(emitter.stats()).toMatchObject({ recorded: 1270, dropped: { total: 0 }, rejected: { total: 0 }, pending: 0 });
    expect(emitter.stats().retries).toBeGreaterThan(0);
    const now = Date.now();
    const customer = (await stack.services.registry.customers(['emit-co'])).get('emit-co')!;
    const report = await usageReport(
      parseUsageQuery({
        customer: 'emit-co',
        from: new Date(now - 3_600_000).toISOString(),
        to: new Date(now + 60_000).toISOString(),
        granularity: 'hour',
      }),
      customer,
      stack.services.usage,
      now,
      stack.services.rollups,
    );
    expect(report.totals).toEqual({ api_calls: 1234, active_users: 7, protected_files: 4 });
  });
});
