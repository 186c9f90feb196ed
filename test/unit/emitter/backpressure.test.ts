import { describe, expect, it } from 'vitest';
import { fixedClock } from '../../../contract/clock.js';
import { createUsageEmitter, type EmitterError } from '../../../emitter/index.js';
import { FakeIngest } from '../../fakes/fake-ingest.js';

describe('backpressure', () => {
  it('drops and counts new events beyond maxPendingEvents, while calls to open aggregates still count', async () => {
    // Prepare
    const clock = fixedClock('2026-03-10T12:00:05.000Z');
    const ingest = new FakeIngest();
    const errors: EmitterError[] = [];
    const emitter = createUsageEmitter({ source: 'api-gw', transport: ingest, clock, maxPendingEvents: 3, onError: (e) => errors.push(e) });
    // Act
    for (let c = 0; c < 5; c++) emitter.apiCall(`cus_${c}`); // cus_3 and cus_4 find no room
    for (let i = 0; i < 10; i++) emitter.apiCall('cus_0'); // an open aggregate: costs no memory
    emitter.userActive('cus_0', 'user_1');
    emitter.fileProtected('cus_0', 'file_1');
    const during = emitter.stats();
    await emitter.flush(); // room again
    emitter.apiCall('cus_4');
    await emitter.flush();
    // Assess
    expect(during).toMatchObject({ pending: 3, dropped: { total: 4, byReason: { backpressure: 4 } } });
    expect(ingest.apiCalls('cus_0')).toBe(11);
    expect(ingest.apiCalls('cus_3')).toBe(0);
    expect(ingest.apiCalls('cus_4')).toBe(1);
    expect(ingest.storedOf('com.serenity.user.active')).toEqual([]);
    // Reported once, not once per dropped call
    expect(errors.filter((e) => e.reason === 'backpressure')).toHaveLength(1);
    expect(emitter.stats()).toMatchObject({ pending: 0, dropped: { total: 4 } });
    await emitter.shutdown();
  });

  it('counts events waiting for retries against the bound', async () => {
    // Prepare: the receiver is down, so sealed events stay pending
    const clock = fixedClock('2026-03-10T12:00:05.000Z');
    const down = { send: async () => Promise.reject(new Error('ECONNREFUSED')) };
    const emitter = createUsageEmitter({
      source: 'api-gw',
      transport: down,
      clock,
      maxPendingEvents: 2,
      retry: { maxAttempts: 1 },
      shutdownTimeoutMs: 0,
    });
    emitter.apiCall('cus_1');
    emitter.apiCall('cus_2');
    await emitter.flush();
    // Act
    emitter.apiCall('cus_1'); // its aggregate was sealed: this would be a new event
    // Assess
    expect(emitter.stats()).toMatchObject({ pending: 2, dropped: { byReason: { backpressure: 1 } } });
    await emitter.shutdown();
  });
});
