import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DAY_MS } from '../../../../contract/clock.js';
import { dayRange, flagImpact } from '../../../../functions/core/fraud/flag-impact.js';
import {
  annotateForQueue,
  byUrgency,
  escalationDeadline,
  heldQuantityOf,
  holdStanding,
  queueRow,
  urgencyKey,
} from '../../../../functions/core/fraud/flag-queue.js';
import { openFlag } from '../../../../functions/core/fraud/merge-flags.js';
import type { CustomerActivityDay, Flag, FlagSeverity } from '../../../../functions/core/fraud/types.js';

/** An open flag over `[from, to)` with the queue's figures given. */
function flag(o: {
  id: string;
  from: string;
  to: string;
  severity?: FlagSeverity;
  score?: number;
  held?: number;
  escalateBy?: string;
}): Flag {
  const f = openFlag(
    {
      customerId: `cus-${o.id}`,
      rule: 'volume_spike',
      meter: 'api_calls',
      window: { from: o.from, to: o.to },
      score: o.score ?? 0.9,
      severity: o.severity ?? 'high',
      evidence: { summary: 's', observed: 10, expected: 1, signals: {}, series: [] },
    },
    '2026-03-05T00:30:00.000Z',
  );
  return {
    ...f,
    id: o.id,
    ...(o.held !== undefined ? { heldQuantity: o.held } : {}),
    ...(o.escalateBy ? { escalateBy: o.escalateBy } : {}),
  };
}

describe('escalation deadline', () => {
  it('is the first day + 35 days, or the end of the billing period + grace when that comes first', () => {
    const w = { from: '2026-03-03T10:00:00.000Z', to: '2026-03-05T02:00:00.000Z' };
    // Calendar month: March ends 1 April + 1 h grace, before 3 March + 35 days (7 April).
    expect(new Date(escalationDeadline(w, 1, 3_600_000)).toISOString()).toBe('2026-04-01T01:00:00.000Z');
    // Anchored on the 4th: the period of 3 March ends 4 March, + 48 h.
    expect(new Date(escalationDeadline(w, 4, 48 * 3_600_000)).toISOString()).toBe('2026-03-06T00:00:00.000Z');
    // Without an anchor only Stripe's limit.
    expect(new Date(escalationDeadline(w)).toISOString()).toBe('2026-04-07T00:00:00.000Z');
    // Anchored on the 3rd: the period runs to 3 April, before Stripe's 7 April, and no grace.
    expect(new Date(escalationDeadline(w, 3, 0)).toISOString()).toBe('2026-04-03T00:00:00.000Z');
  });

  it('gives a holding flag its deadline and whole days left, and a non-holding flag neither', () => {
    const held = annotateForQueue(
      flag({ id: 'a', from: '2026-03-03T10:00:00.000Z', to: '2026-03-05T00:00:00.000Z' }),
      48_120,
      1,
      3_600_000,
    );
    const now = Date.parse('2026-03-29T13:00:00.000Z');
    expect(holdStanding(held, now)).toEqual({ holding: true, heldQuantity: 48_120, escalateBy: '2026-04-01T01:00:00.000Z', daysLeft: 2 });
    expect(holdStanding({ ...held, severity: 'low' }, now)).toEqual({ holding: false, heldQuantity: 48_120 });
    // A policy that holds low flags makes it hold.
    expect(holdStanding({ ...held, severity: 'low' }, now, { holdSeverities: ['low', 'high'] }).holding).toBe(true);
    const row = queueRow(held, now);
    expect(row).not.toHaveProperty('history');
    expect(row.evidence).toEqual({ summary: 's', observed: 10, expected: 1 });
  });
});

describe('urgency order', () => {
  it('puts holding flags first by deadline, then quantity and score descending; the rest by score', () => {
    const flags = [
      flag({ id: 'n-low', from: '2026-03-01T00:00:00Z', to: '2026-03-02T00:00:00Z', severity: 'medium', score: 0.6 }),
      flag({ id: 'h-late', from: '2026-03-01T00:00:00Z', to: '2026-03-02T00:00:00Z', held: 10, escalateBy: '2026-04-05T00:00:00.000Z' }),
      flag({ id: 'h-small', from: '2026-03-01T00:00:00Z', to: '2026-03-02T00:00:00Z', held: 5, escalateBy: '2026-04-01T00:00:00.000Z' }),
      flag({ id: 'n-high', from: '2026-03-01T00:00:00Z', to: '2026-03-02T00:00:00Z', severity: 'medium', score: 0.8 }),
      flag({
        id: 'h-big-lo',
        from: '2026-03-01T00:00:00Z',
        to: '2026-03-02T00:00:00Z',
        held: 500,
        score: 0.85,
        escalateBy: '2026-04-01T00:00:00.000Z',
      }),
      flag({
        id: 'h-big-hi',
        from: '2026-03-01T00:00:00Z',
        to: '2026-03-02T00:00:00Z',
        held: 500,
        score: 0.95,
        escalateBy: '2026-04-01T00:00:00.000Z',
      }),
    ];
    expect([...flags].sort(byUrgency()).map((f) => f.id)).toEqual(['h-big-hi', 'h-big-lo', 'h-small', 'h-late', 'n-high', 'n-low']);
  });

  it('keys a reviewed flag out of the index', () => {
    expect(
      urgencyKey({ ...flag({ id: 'x', from: '2026-03-01T00:00:00Z', to: '2026-03-02T00:00:00Z' }), status: 'dismissed' }),
    ).toBeUndefined();
  });

  it('orders keys as the comparison of (holding, deadline, -quantity, -score) does, for any figures', () => {
    const arb = fc.record({
      holding: fc.boolean(),
      day: fc.integer({ min: 0, max: 400 }),
      held: fc.integer({ min: 0, max: 10 ** 12 }),
      score: fc.double({ min: 0.5, max: 1, noNaN: true }),
    });
    fc.assert(
      fc.property(arb, arb, (a, b) => {
        const make = (x: typeof a, id: string) =>
          flag({
            id,
            from: '2026-01-01T00:00:00Z',
            to: '2026-01-02T00:00:00Z',
            severity: x.holding ? 'high' : 'medium',
            score: Math.round(x.score * 1e6) / 1e6,
            held: x.held,
            escalateBy: new Date(Date.parse('2026-02-01T00:00:00Z') + x.day * DAY_MS).toISOString(),
          });
        const [fa, fb] = [make(a, 'a'), make(b, 'b')];
        const tuple = (x: typeof a, f: Flag) => (x.holding ? [0, x.day, -x.held, -f.score] : [1, 0, 0, -f.score]);
        const ta = tuple(a, fa);
        const tb = tuple(b, fb);
        const cmp = ta.findIndex((v, i) => v !== tb[i]);
        const expected = cmp === -1 ? -1 : ta[cmp]! < tb[cmp]! ? -1 : 1; // ties go by id: 'a' < 'b'
        expect(Math.sign(byUrgency()(fa, fb))).toBe(expected);
      }),
    );
  });
});

describe('held quantity', () => {
  const day = (d: string, calls: number, users: number, files: number): CustomerActivityDay => ({
    day: d,
    apiCalls: [calls, ...new Array(23).fill(0)],
    activeUsers: new Array(24).fill(0),
    activeUsersDay: users,
    protectedFiles: new Array(24).fill(files),
    keys: [],
  });
  const activity = new Map([
    ['2026-03-03', day('2026-03-03', 30_000, 12, 400)],
    ['2026-03-04', day('2026-03-04', 18_120, 20, 380)],
    ['2026-03-05', day('2026-03-05', 999, 99, 999)],
  ]);
  it('sums API calls over the window days and takes users and files at their highest day', () => {
    const w = { from: '2026-03-03T10:00:00.000Z', to: '2026-03-05T00:00:00.000Z' };
    expect(heldQuantityOf({ meter: 'api_calls', window: w }, activity)).toBe(48_120);
    expect(heldQuantityOf({ meter: 'active_users', window: w }, activity)).toBe(20);
    expect(heldQuantityOf({ meter: 'protected_files', window: w }, activity)).toBe(400);
    expect(
      heldQuantityOf({ meter: 'api_calls', window: { from: '2026-01-01T00:00:00Z', to: '2026-01-02T00:00:00Z' } }, activity),
    ).toBeUndefined();
  });
});

describe('decision impact in words', () => {
  const f = {
    meter: 'api_calls' as const,
    window: { from: '2026-03-03T10:00:00.000Z', to: '2026-03-05T00:00:00.000Z' },
    heldQuantity: 48_120,
  };
  it('says what a holding flag releases or keeps', () => {
    expect(flagImpact(f, true)).toEqual({
      confirm: 'Confirming keeps 48,120 API calls, dated 3-4 March, held for finance.',
      dismiss: 'Dismissing releases 48,120 API calls, dated 3-4 March, at the next close.',
    });
  });
  it('says a non-holding flag holds nothing', () => {
    expect(flagImpact({ ...f, meter: 'active_users', heldQuantity: 20 }, false)).toEqual({
      confirm:
        'This flag holds no usage; confirming holds 20 active users, dated 3-4 March, for finance from the next close (what was already reported stays reported).',
      dismiss: 'This flag holds no usage; dismissing closes it and changes nothing that is reported.',
    });
  });
  it('names days across months and years, and one day alone', () => {
    expect(dayRange('2026-02-28', '2026-03-03')).toBe('28 February-2 March');
    expect(dayRange('2026-12-31', '2027-01-02')).toBe('31 December 2026-1 January 2027');
    expect(dayRange('2026-03-03', '2026-03-04')).toBe('3 March');
    expect(flagImpact({ ...f, heldQuantity: undefined }, true).dismiss).toBe(
      'Dismissing releases the API calls, dated 3-4 March, at the next close.',
    );
  });
});
