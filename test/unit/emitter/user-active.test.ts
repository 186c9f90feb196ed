import { describe, expect, it } from 'vitest';
import { fixedClock } from '../../../contract/clock.js';
import { createUsageEmitter } from '../../../emitter/index.js';
import { FakeIngest } from '../../fakes/fake-ingest.js';

describe('userActive', () => {
  it('sends one event per (customer, user, UTC hour) and collapses repeats in memory', async () => {
    // Prepare
    const clock = fixedClock('2026-03-10T12:00:05.000Z');
    const ingest = new FakeIngest();
    const emitter = createUsageEmitter({ source: 'api-gw', transport: ingest, clock });
    // Act
    emitter.userActive('cus_1', 'user_1');
    clock.advance(30 * 60_000);
    emitter.userActive('cus_1', 'user_1');
    await emitter.flush();
    emitter.userActive('cus_1', 'user_1'); // after a flush: still remembered
    emitter.userActive('cus_1', 'user_2');
    emitter.userActive('cus_2', 'user_1');
    clock.advance(30 * 60_000); // 13:00:05, a new hour
    emitter.userActive('cus_1', 'user_1');
    await emitter.flush();
    // Assess
    const sent = ingest.received.map((e) => `${e.subject}/${e.data.userId}@${e.time}`).sort();
    expect(sent).toEqual([
      'cus_1/user_1@2026-03-10T12:00:00.000Z',
      'cus_1/user_1@2026-03-10T13:00:00.000Z',
      'cus_1/user_2@2026-03-10T12:00:00.000Z',
      'cus_2/user_1@2026-03-10T12:00:00.000Z',
    ]);
    expect(new Set(ingest.received.map((e) => e.id)).size).toBe(4);
    expect(emitter.stats()).toMatchObject({ recorded: 6, deduplicated: 2, accepted: 4 });
    await emitter.shutdown();
  });

  it('gives the same id in every process with the same source, so the pipeline collapses them', async () => {
    // Prepare: two instances (say, two API servers) share one receiver
    const clock = fixedClock('2026-03-10T12:10:00.000Z');
    const ingest = new FakeIngest();
    const a = createUsageEmitter({ source: 'api-gw', transport: ingest, clock });
    const b = createUsageEmitter({ source: 'api-gw', transport: ingest, clock });
    // Act
    a.userActive('cus_1', 'user_1');
    clock.advance(20 * 60_000);
    b.userActive('cus_1', 'user_1');
    await Promise.all([a.shutdown(), b.shutdown()]);
    // Assess
    expect(ingest.received).toHaveLength(2);
    expect(ingest.received[0]!.id).toBe(ingest.received[1]!.id);
    expect(ingest.storedOf('com.serenity.user.active')).toHaveLength(1);
  });
});
