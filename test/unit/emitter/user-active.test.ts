import { createHash } from 'node:crypto';
import { inspect } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fixedClock, HOUR_MS } from '../../../contract/clock.js';
import { looksLikeCardNumber } from '../../../contract/privacy.js';
import { createUsageEmitter, type EmitterError } from '../../../emitter/index.js';
import { FAST_RETRY, FakeIngest } from '../../fakes/fake-ingest.js';

const KEY = 'test-only-user-id-key-0123456789abcdef';

/** The id the emitter made before issue 12: an unkeyed sha256 that anyone could recompute from a guessed user id. */
function unkeyedHash(customerId: string, userId: string, hour: number): string {
  return createHash('sha256')
    .update(JSON.stringify([customerId, userId, hour, 0]))
    .digest('base64url')
    .slice(0, 22);
}

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

  it('gives the same id in every process given the same source and userIdKey, so the pipeline collapses them', async () => {
    // Prepare: two instances (say, two API servers) share one receiver and one key
    const clock = fixedClock('2026-03-10T12:10:00.000Z');
    const ingest = new FakeIngest();
    const a = createUsageEmitter({ source: 'api-gw', transport: ingest, clock, userIdKey: KEY });
    const b = createUsageEmitter({ source: 'api-gw', transport: ingest, clock, userIdKey: KEY });
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

  it('keeps an id for the retries of one instance, and draws a different key per instance without userIdKey', async () => {
    // Prepare: the first send is stored but its response is lost, so the event is sent again
    const clock = fixedClock('2026-03-10T12:10:00.000Z');
    const ingest = new FakeIngest();
    ingest.script = ['lose-response'];
    const a = createUsageEmitter({ source: 'api-gw', transport: ingest, clock, retry: FAST_RETRY });
    const b = createUsageEmitter({ source: 'api-gw', transport: ingest, clock, retry: FAST_RETRY });
    // Act
    a.userActive('cus_1', 'user_1');
    await a.flush();
    b.userActive('cus_1', 'user_1');
    await Promise.all([a.shutdown(), b.shutdown()]);
    // Assess
    const [first, retry, other] = ingest.received.map((e) => e.id);
    expect(ingest.received).toHaveLength(3);
    expect(retry).toBe(first);
    expect(other).not.toBe(first);
    for (const id of [first, other]) expect(id).toMatch(/^ua_[0-9a-z]+_[\w-]{22}$/);
    // Two stored events for one user-hour, which the pipeline still counts as one user.
    const stored = ingest.storedOf('com.serenity.user.active');
    expect(stored).toHaveLength(2);
    expect(new Set(stored.map((e) => `${e.subject}/${e.data.userId}@${e.time}`)).size).toBe(1);
  });

  it('makes ids that are not the unkeyed hash and do not hold the user id, for any user id', async () => {
    // Opaque ids, as the contract asks (it drops a userId that holds an e-mail or IP address).
    const userId = fc.oneof(fc.stringMatching(/^[\w-]{8,64}$/), fc.uuid()).filter((u) => !looksLikeCardNumber(u));
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(userId, { minLength: 1, maxLength: 20 }),
        fc.option(fc.string({ minLength: 32, maxLength: 64 }), { nil: undefined }),
        fc.integer({ min: 0, max: 200_000 }),
        async (userIds, userIdKey, hoursSince2020) => {
          // Prepare
          const hour = Date.parse('2020-01-01T00:00:00.000Z') / HOUR_MS + hoursSince2020;
          const ingest = new FakeIngest();
          const emitter = createUsageEmitter({ source: 'api-gw', transport: ingest, clock: fixedClock(hour * HOUR_MS + 1), userIdKey });
          // Act
          for (const u of userIds) emitter.userActive('cus_1', u);
          await emitter.shutdown();
          // Assess
          expect(ingest.received.map((e) => e.data.userId).sort()).toEqual([...userIds].sort());
          for (const e of ingest.received) {
            const unkeyed = unkeyedHash('cus_1', e.data.userId as string, hour);
            expect(e.id.startsWith(`ua_${hour.toString(36)}_`)).toBe(true);
            expect(e.id).not.toBe(`ua_${hour.toString(36)}_${unkeyed}`);
            expect(e.id).not.toContain(unkeyed.slice(0, 11));
            expect(e.id).not.toContain(e.data.userId);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('never puts the key in an event, an error report, the stats or the emitter itself', async () => {
    // Prepare
    const ingest = new FakeIngest();
    ingest.script = ['fail'];
    const errors: EmitterError[] = [];
    const emitter = createUsageEmitter({
      source: 'api-gw',
      transport: ingest,
      clock: fixedClock('2026-03-10T12:00:05.000Z'),
      retry: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1 },
      userIdKey: KEY,
      onError: (e) => errors.push(e),
    });
    // Act: a delivered user, a dropped one (card number) and a failed send
    emitter.userActive('cus_1', 'user_1');
    emitter.userActive('cus_1', '4111 1111 1111 1111');
    await emitter.flush();
    await emitter.shutdown();
    // Assess
    const everything = [
      ...ingest.payloads,
      JSON.stringify(errors.map((e) => ({ message: e.message, context: e.context }))),
      inspect(errors, { depth: 10 }),
      JSON.stringify(emitter.stats()),
      inspect(emitter, { depth: 10, showHidden: true }),
    ].join('\n');
    expect(errors.length).toBeGreaterThan(0);
    expect(ingest.storedOf('com.serenity.user.active')).toHaveLength(1);
    expect(everything).not.toContain(KEY);
    expect(everything).not.toContain(KEY.slice(0, 16));
  });
});
