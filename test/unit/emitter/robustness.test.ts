import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fixedClock } from '../../../contract/clock.js';
import { createUsageEmitter, type EmitterError, type UsageEmitter } from '../../../emitter/index.js';
import { FakeIngest } from '../../fakes/fake-ingest.js';

const CARD = '4111 1111 1111 1111';
const hostile = new Proxy(
  {},
  {
    get() {
      throw new Error('hostile getter');
    },
  },
);

/** Calls every recording method with the given arguments; returns what each returned. */
function callAll(emitter: UsageEmitter, a: unknown, b: unknown): unknown[] {
  const e = emitter as unknown as Record<string, (x: unknown, y: unknown) => unknown>;
  return ['apiCall', 'userActive', 'fileProtected', 'fileUnprotected'].map((m) => e[m]!(a, b));
}

describe('recording never throws into the caller', () => {
  it('drops garbage with a counted reason and returns undefined, whatever the input', async () => {
    // Prepare
    const ingest = new FakeIngest();
    const errors: EmitterError[] = [];
    const emitter = createUsageEmitter({
      source: 'api-gw',
      transport: ingest,
      clock: fixedClock('2026-03-10T12:00:05.000Z'),
      onError: (e) => errors.push(e),
    });
    const garbage: [unknown, unknown][] = [
      [undefined, undefined],
      [null, null],
      [42, { operation: 42 }],
      ['', ''],
      ['has space', 'u'],
      ['cus#1', 'u'],
      ['x'.repeat(10_000), 'x'.repeat(10_000)],
      [{}, []],
      ['cus_1', hostile],
      [hostile, hostile],
      [Symbol('s'), Symbol('t')],
      ['cus_1', { quantity: -1 }],
      ['cus_1', { quantity: 1.5 }],
      ['cus_1', { quantity: Number.NaN }],
      ['cus_1', { quantity: 2_000_000 }],
      ['cus_1', { clientIp: 'not-an-ip' }],
      ['cus_1', { clientIp: 12345 }],
      ['cus_1', { country: 'Germany' }],
      ['cus_1', { operation: `charge ${CARD}` }],
      [CARD, 'user'],
    ];
    // Act
    const returned = garbage.flatMap(([a, b]) => callAll(emitter, a, b));
    await emitter.flush();
    // Assess
    expect(returned.every((r) => r === undefined)).toBe(true);
    const { dropped, recorded } = emitter.stats();
    expect(recorded).toBe(garbage.length * 4);
    expect(dropped.byReason).toMatchObject({
      invalid_customer_id: expect.any(Number),
      invalid_ip: 2,
      card_number: expect.any(Number),
      invalid_input: expect.any(Number),
      internal_error: expect.any(Number),
    });
    expect(dropped.total).toBe(recorded); // none of it was valid
    expect(ingest.received).toEqual([]);
    expect(JSON.stringify(ingest.payloads)).not.toContain('4111');
    expect(JSON.stringify(errors.map((e) => e.message))).not.toContain('4111');
    await emitter.shutdown();
  });

  it('names the caller-facing field and reason for the common mistakes', () => {
    // Prepare
    const errors: EmitterError[] = [];
    const emitter = createUsageEmitter({
      source: 'api-gw',
      transport: new FakeIngest(),
      clock: fixedClock('2026-03-10T12:00:05.000Z'),
      onError: (e) => errors.push(e),
    });
    // Act
    emitter.apiCall('cus#1');
    emitter.apiCall('cus_1', { clientIp: '999.1.1.1' });
    emitter.userActive('cus_1', CARD);
    emitter.fileProtected('cus_1', '');
    // Assess
    expect(errors.map((e) => [e.reason, e.context.method, e.context.errors?.[0]?.field])).toEqual([
      ['invalid_customer_id', 'apiCall', 'customerId'],
      ['invalid_ip', 'apiCall', 'clientIp'],
      ['card_number', 'userActive', 'userId'],
      ['invalid_input', 'fileProtected', 'fileId'],
    ]);
    void emitter.shutdown();
  });

  it('survives an onError that throws and a clock that throws or lies', async () => {
    // Prepare
    let broken = false;
    const clock = {
      now: () => {
        if (broken) throw new Error('clock broke');
        return Number.NaN;
      },
    };
    const emitter = createUsageEmitter({
      source: 'api-gw',
      transport: new FakeIngest(),
      clock,
      onError: () => {
        throw new Error('the host logger is down');
      },
    });
    // Act
    const act = () => {
      callAll(emitter, 'cus_1', 'x');
      broken = true;
      callAll(emitter, 'cus_1', 'x');
    };
    // Assess
    expect(act).not.toThrow();
    expect(emitter.stats().dropped).toEqual({ total: 8, byReason: { internal_error: 8 } });
    await expect(emitter.flush()).resolves.toBeUndefined();
    await expect(emitter.shutdown()).resolves.toBeUndefined();
  });

  it('never throws for arbitrary values (property)', () => {
    // Prepare
    const emitter = createUsageEmitter({ source: 'api-gw', transport: new FakeIngest(), clock: fixedClock('2026-03-10T12:00:05.000Z') });
    // Act / Assess
    fc.assert(
      fc.property(
        fc.anything(),
        fc.oneof(
          fc.anything(),
          fc.record({ operation: fc.anything(), clientIp: fc.anything(), quantity: fc.anything(), country: fc.anything() }),
        ),
        (a, b) => {
          expect(callAll(emitter, a, b)).toEqual([undefined, undefined, undefined, undefined]);
        },
      ),
      { numRuns: 500 },
    );
    void emitter.shutdown();
  });
});
