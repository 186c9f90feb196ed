import { describe, expect, it, vi } from 'vitest';
import { fixedClock } from '../../../contract/clock.js';
import { createUsageEmitter } from '../../../emitter/index.js';
import { FakeIngest } from '../../fakes/fake-ingest.js';

const START = '2026-03-10T12:00:05.000Z';
const setup = (extra: { maxBatchEvents?: number } = {}) => {
  const clock = fixedClock(START);
  const ingest = new FakeIngest();
  const emitter = createUsageEmitter({ source: 'api-gw', transport: ingest, clock, ...extra });
  return { clock, ingest, emitter };
};

describe('api call aggregation', () => {
  it('turns 1000 calls of one key in one minute into one event with quantity 1000', async () => {
    // Prepare
    const { ingest, emitter } = setup();
    // Act
    for (let i = 0; i < 1000; i++) emitter.apiCall('cus_1', { operation: 'files.encrypt', clientIp: '203.0.113.7', country: 'DE' });
    await emitter.flush();
    // Assess
    expect(ingest.received).toHaveLength(1);
    const [event] = ingest.received;
    expect(event).toMatchObject({
      specversion: '1.0',
      source: 'api-gw',
      type: 'com.serenity.api.call',
      subject: 'cus_1',
      time: '2026-03-10T12:00:00.000Z',
      data: { quantity: 1000, operation: 'files.encrypt', clientIp: '203.0.113.0', country: 'DE' },
    });
    expect(emitter.stats()).toMatchObject({ recorded: 1000, sent: 1, accepted: 1, pending: 0 });
    await emitter.shutdown();
  });

  it('starts a new event, with a new id, when the UTC minute changes', async () => {
    // Prepare
    const { clock, ingest, emitter } = setup();
    // Act
    for (let i = 0; i < 3; i++) emitter.apiCall('cus_1');
    clock.advance(60_000);
    for (let i = 0; i < 2; i++) emitter.apiCall('cus_1');
    await emitter.flush();
    // Assess
    const events = ingest.received.sort((a, b) => a.time.localeCompare(b.time));
    expect(events.map((e) => [e.time, e.data.quantity])).toEqual([
      ['2026-03-10T12:00:00.000Z', 3],
      ['2026-03-10T12:01:00.000Z', 2],
    ]);
    expect(events[0]!.id).not.toBe(events[1]!.id);
    await emitter.shutdown();
  });

  it('keeps every key dimension apart, and two IPs of one /24 together', async () => {
    // Prepare
    const { ingest, emitter } = setup();
    // Act
    emitter.apiCall('cus_1', { operation: 'a' });
    emitter.apiCall('cus_1', { operation: 'b' });
    emitter.apiCall('cus_1', { operation: 'a', apiKeyId: 'key_1' });
    emitter.apiCall('cus_1', { operation: 'a', clientIp: '198.51.100.1' });
    emitter.apiCall('cus_1', { operation: 'a', clientIp: '198.51.100.200' });
    emitter.apiCall('cus_1', { operation: 'a', country: 'US', region: 'US-CA' });
    emitter.apiCall('cus_1', { operation: 'a', country: 'US', region: 'US-NY' });
    emitter.apiCall('cus_2', { operation: 'a' });
    emitter.apiCall('cus_1', { operation: 'a', quantity: 5 });
    await emitter.flush();
    // Assess
    const summary = ingest.received.map((e) => ({ subject: e.subject, ...e.data }));
    expect(summary).toHaveLength(7);
    expect(summary).toEqual(
      expect.arrayContaining([
        { subject: 'cus_1', operation: 'a', quantity: 6 },
        { subject: 'cus_1', operation: 'b', quantity: 1 },
        { subject: 'cus_1', operation: 'a', apiKeyId: 'key_1', quantity: 1 },
        { subject: 'cus_1', operation: 'a', clientIp: '198.51.100.0', quantity: 2 },
        { subject: 'cus_1', operation: 'a', country: 'US', region: 'US-CA', quantity: 1 },
        { subject: 'cus_1', operation: 'a', country: 'US', region: 'US-NY', quantity: 1 },
        { subject: 'cus_2', operation: 'a', quantity: 1 },
      ]),
    );
    await emitter.shutdown();
  });

  it('splits an aggregate that would pass the contract quantity limit', async () => {
    // Prepare
    const { ingest, emitter } = setup();
    // Act
    emitter.apiCall('cus_1', { quantity: 600_000 });
    emitter.apiCall('cus_1', { quantity: 600_000 });
    await emitter.flush();
    // Assess
    expect(ingest.received.map((e) => e.data.quantity)).toEqual([600_000, 600_000]);
    expect(ingest.apiCalls('cus_1')).toBe(1_200_000);
    await emitter.shutdown();
  });

  it('keeps a minute open however many keys it has, then sends it in full batches once it ends', async () => {
    // Prepare
    const { clock, ingest, emitter } = setup({ maxBatchEvents: 10 });
    // Act: 25 keys in one minute, then one call in the next minute
    for (let round = 0; round < 3; round++) for (let c = 0; c < 25; c++) emitter.apiCall(`cus_${c}`);
    await new Promise((r) => setImmediate(r));
    const sentInTheMinute = ingest.batches.length;
    clock.advance(60_000);
    emitter.apiCall('cus_0');
    await vi.waitFor(() => expect(ingest.batches).toHaveLength(3));
    // Assess: nothing left early (one event per key and minute), then three batches of at most 10, never inside the call
    expect(sentInTheMinute).toBe(0);
    expect(ingest.batches.map((b) => b.length)).toEqual([10, 10, 5]);
    expect(ingest.received.every((e) => (e.data as { quantity: number }).quantity === 3)).toBe(true);
    expect(emitter.stats().pending).toBe(1);
    await emitter.shutdown();
    expect(ingest.apiCalls()).toBe(76);
  });
});
