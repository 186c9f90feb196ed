import { describe, expect, it } from 'vitest';
import { fixedClock } from '../../../contract/clock.js';
import { createUsageEmitter, type EmitterError } from '../../../emitter/index.js';
import { FakeIngest } from '../../fakes/fake-ingest.js';

const FULL_IPS = ['203.0.113.77', '2001:db8:abcd:12:1:2:3:4', '::ffff:198.51.100.99'];

describe('client IP privacy', () => {
  it('never lets a full client IP reach the transport, the error reports or the stats', async () => {
    // Prepare
    const ingest = new FakeIngest();
    ingest.script = ['lose-response'];
    ingest.verdict = (e, attempt) =>
      attempt === 1 && e.data.clientIp === '2001:db8:abcd::' ? { retryable: true, reason: 'not_enqueued' } : undefined;
    const errors: EmitterError[] = [];
    const emitter = createUsageEmitter({
      source: 'api-gw',
      transport: ingest,
      clock: fixedClock('2026-03-10T12:00:05.000Z'),
      retry: { baseDelayMs: 1, maxDelayMs: 2 },
      onError: (e) => errors.push(e),
    });
    // Act
    for (const ip of FULL_IPS) {
      emitter.apiCall('cus_1', { operation: 'files.encrypt', clientIp: ip });
      emitter.apiCall('cus_1', { operation: 'files.encrypt', clientIp: ip, country: 'de' }); // invalid country: dropped and reported
    }
    await emitter.shutdown();
    // Assess
    const everything = [
      ...ingest.payloads,
      JSON.stringify(errors.map((e) => ({ message: e.message, context: e.context }))),
      JSON.stringify(emitter.stats()),
    ].join('\n');
    for (const ip of FULL_IPS) expect(everything).not.toContain(ip);
    expect(everything).not.toContain('113.77');
    expect(everything).not.toContain('100.99');
    expect(ingest.batches.length).toBeGreaterThan(1); // the retry path was taken too
    expect(
      ingest
        .storedOf('com.serenity.api.call')
        .map((e) => e.data.clientIp)
        .sort(),
    ).toEqual(['198.51.100.0', '2001:db8:abcd::', '203.0.113.0']);
    expect(ingest.apiCalls('cus_1')).toBe(3);
    expect(errors.filter((e) => e.reason === 'invalid_input')).toHaveLength(3);
  });
});
