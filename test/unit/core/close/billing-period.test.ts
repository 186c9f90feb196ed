import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../../contract/errors.js';
import {
  type BillingPeriod,
  daysInMonth,
  daysOfPeriod,
  MAX_PERIOD_INSTANT_MS,
  MIN_PERIOD_INSTANT_MS,
  nextPeriod,
  periodContaining,
  periodContains,
  periodForKey,
  previousPeriod,
} from '../../../../functions/core/close/billing-period.js';

const at = (iso: string) => Date.parse(iso);
/** `[start, end)` as dates only, for compact tables. */
const span = (p: BillingPeriod) => [p.key, p.start.slice(0, 10), p.end.slice(0, 10)];

describe('daysInMonth', () => {
  it.each([
    [2026, 0, 31],
    [2026, 1, 28],
    [2024, 1, 29], // divisible by 4
    [2100, 1, 28], // divisible by 100, not by 400
    [2000, 1, 29], // divisible by 400
    [2026, 3, 30],
    [2026, 11, 31],
  ])('%i-%i has %i days', (year, month, days) => {
    // Act / Assess
    expect(daysInMonth(year, month)).toBe(days);
  });
});

describe('periodContaining: calendar months (no anchor)', () => {
  it.each([
    ['2026-01-01T00:00:00.000Z', '2026-01', '2026-01-01', '2026-02-01'],
    ['2026-01-31T23:59:59.999Z', '2026-01', '2026-01-01', '2026-02-01'],
    ['2026-02-01T00:00:00.000Z', '2026-02', '2026-02-01', '2026-03-01'],
    ['2026-02-28T23:59:59.999Z', '2026-02', '2026-02-01', '2026-03-01'],
    ['2024-02-29T12:00:00.000Z', '2024-02', '2024-02-01', '2024-03-01'],
    ['2026-04-30T23:59:59.999Z', '2026-04', '2026-04-01', '2026-05-01'],
    ['2026-12-31T23:59:59.999Z', '2026-12', '2026-12-01', '2027-01-01'],
    ['2027-01-01T00:00:00.000Z', '2027-01', '2027-01-01', '2027-02-01'],
  ])('%s lies in %s', (instant, key, start, end) => {
    // Act
    const period = periodContaining(at(instant));
    // Assess
    expect(span(period)).toEqual([key, start, end]);
    expect(period.start).toBe(`${start}T00:00:00.000Z`);
    expect(period.anchorDay).toBe(1);
  });

  it('treats the end as exclusive: the last millisecond is inside, the end itself starts the next period', () => {
    // Prepare
    const feb = periodForKey('2026-02');
    // Act / Assess
    expect(periodContains(feb, at('2026-03-01T00:00:00.000Z') - 1)).toBe(true);
    expect(periodContains(feb, at('2026-03-01T00:00:00.000Z'))).toBe(false);
    expect(periodContaining(at('2026-03-01T00:00:00.000Z')).key).toBe('2026-03');
  });

  it('makes anchor day 1 exactly the calendar month, key included', () => {
    // Prepare
    const instants = ['2026-01-01T00:00:00Z', '2024-02-29T23:00:00Z', '2100-02-28T10:00:00Z', '2026-12-31T23:59:59Z'].map(at);
    // Act / Assess
    for (const t of instants) expect(periodContaining(t, 1)).toEqual(periodContaining(t));
  });
});

describe('periodContaining: anchored periods', () => {
  it.each([
    // anchor 15: an ordinary mid-month anchor
    [15, '2026-03-14T23:59:59.999Z', '2026-02-15', '2026-03-15'],
    [15, '2026-03-15T00:00:00.000Z', '2026-03-15', '2026-04-15'],
    [15, '2026-01-10T00:00:00.000Z', '2025-12-15', '2026-01-15'],
    // anchor 31 across Jan -> Feb -> Mar -> Apr -> May (2026, not leap)
    [31, '2026-01-31T00:00:00.000Z', '2026-01-31', '2026-02-28'],
    [31, '2026-02-27T23:59:59.999Z', '2026-01-31', '2026-02-28'],
    [31, '2026-02-28T00:00:00.000Z', '2026-02-28', '2026-03-31'],
    [31, '2026-03-30T12:00:00.000Z', '2026-02-28', '2026-03-31'],
    [31, '2026-03-31T00:00:00.000Z', '2026-03-31', '2026-04-30'],
    [31, '2026-04-30T00:00:00.000Z', '2026-04-30', '2026-05-31'],
    // anchor 31 in a leap year clamps to Feb 29
    [31, '2024-02-28T23:59:59.999Z', '2024-01-31', '2024-02-29'],
    [31, '2024-02-29T00:00:00.000Z', '2024-02-29', '2024-03-31'],
    // anchor 30 across Jan -> Feb -> Mar
    [30, '2026-01-30T00:00:00.000Z', '2026-01-30', '2026-02-28'],
    [30, '2026-02-28T00:00:00.000Z', '2026-02-28', '2026-03-30'],
    [30, '2026-03-30T00:00:00.000Z', '2026-03-30', '2026-04-30'],
    [30, '2024-02-29T00:00:00.000Z', '2024-02-29', '2024-03-30'],
    // anchor 29 exists in leap Februaries only
    [29, '2026-01-29T00:00:00.000Z', '2026-01-29', '2026-02-28'],
    [29, '2026-02-28T00:00:00.000Z', '2026-02-28', '2026-03-29'],
    [29, '2024-02-28T23:59:59.999Z', '2024-01-29', '2024-02-29'],
    [29, '2024-02-29T00:00:00.000Z', '2024-02-29', '2024-03-29'],
    // century rules: 2100 is not a leap year, 2000 is
    [29, '2100-02-28T00:00:00.000Z', '2100-02-28', '2100-03-29'],
    [31, '2000-02-29T00:00:00.000Z', '2000-02-29', '2000-03-31'],
    [31, '2000-02-28T23:59:59.999Z', '2000-01-31', '2000-02-29'],
    // across the year boundary
    [31, '2026-12-31T00:00:00.000Z', '2026-12-31', '2027-01-31'],
    [31, '2026-12-30T23:59:59.999Z', '2026-11-30', '2026-12-31'],
  ])('anchor %i: %s lies in [%s, %s)', (anchor, instant, start, end) => {
    // Act
    const period = periodContaining(at(instant), anchor);
    // Assess
    expect(span(period)).toEqual([start, start, end]);
    expect(period.anchorDay).toBe(anchor);
  });

  it('returns to the anchor day after a short month rather than drifting to the clamped day', () => {
    // Prepare
    let period = periodForKey('2026-01-31', 31);
    const starts: string[] = [];
    // Act
    for (let i = 0; i < 7; i += 1) {
      starts.push(period.key);
      period = nextPeriod(period);
    }
    // Assess
    expect(starts).toEqual(['2026-01-31', '2026-02-28', '2026-03-31', '2026-04-30', '2026-05-31', '2026-06-30', '2026-07-31']);
  });
});

describe('periodForKey, previousPeriod, nextPeriod', () => {
  it('round-trips keys and walks backwards and forwards', () => {
    // Prepare
    const mar = periodForKey('2026-03-31', 31);
    // Act
    const feb = previousPeriod(mar);
    const jan = previousPeriod(feb);
    // Assess
    expect(span(feb)).toEqual(['2026-02-28', '2026-02-28', '2026-03-31']);
    expect(span(jan)).toEqual(['2026-01-31', '2026-01-31', '2026-02-28']);
    expect(nextPeriod(jan)).toEqual(feb);
    expect(periodForKey('2026-02')).toEqual(previousPeriod(periodForKey('2026-03')));
    expect(previousPeriod(periodForKey('2026-01')).key).toBe('2025-12');
  });

  it('rejects keys that name no period for the anchor, and bad anchors, with the field at fault', () => {
    // Act
    const cases = [
      () => periodForKey('2026-02-15', 31), // anchor 31 starts February on the 28th
      () => periodForKey('2026-02-15'), // calendar keys have no day
      () => periodForKey('2026-02', 15), // anchored keys need a day
      () => periodForKey('2026-13'),
      () => periodForKey('1969-11'),
      () => periodContaining(Date.now(), 0),
      () => periodContaining(Date.now(), 32),
      () => periodContaining(Date.now(), 1.5),
      () => periodContaining(Number.NaN),
    ];
    // Assess
    for (const run of cases) expect(run).toThrow(ValidationError);
    expect(() => periodForKey('2026-02-15', 31)).toThrow(/starts on 2026-02-28/);
  });

  it('supports the whole range: the first period may start in 1969, the last ends by 9999-11-30', () => {
    // Act
    const first = periodContaining(MIN_PERIOD_INSTANT_MS, 15);
    const last = periodContaining(MAX_PERIOD_INSTANT_MS, 31);
    // Assess
    expect(span(first)).toEqual(['1969-12-15', '1969-12-15', '1970-01-15']);
    expect(periodForKey('1969-12-15', 15)).toEqual(first);
    expect(span(last)).toEqual(['9999-10-31', '9999-10-31', '9999-11-30']);
    expect(() => previousPeriod(periodForKey('1970-01'))).toThrow(ValidationError);
  });

  it('reports a bad instant and a bad anchor together', () => {
    // Act
    let error: unknown;
    try {
      periodContaining(-1, 40);
    } catch (e) {
      error = e;
    }
    // Assess
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).errors.map((e) => e.field)).toEqual(['instant', 'anchorDay']);
  });
});

describe('daysOfPeriod', () => {
  it.each([
    ['2026-02', undefined, 28, '2026-02-01', '2026-02-28'],
    ['2024-02', undefined, 29, '2024-02-01', '2024-02-29'],
    ['2100-02', undefined, 28, '2100-02-01', '2100-02-28'],
    ['2000-02', undefined, 29, '2000-02-01', '2000-02-29'],
    ['2026-04', undefined, 30, '2026-04-01', '2026-04-30'],
    ['2026-01-31', 31, 28, '2026-01-31', '2026-02-27'],
    ['2026-02-28', 31, 31, '2026-02-28', '2026-03-30'],
    ['2024-01-31', 31, 29, '2024-01-31', '2024-02-28'],
    ['2026-12-15', 15, 31, '2026-12-15', '2027-01-14'],
  ] as const)('%s (anchor %s) has %i days from %s to %s', (key, anchor, count, first, last) => {
    // Act
    const days = daysOfPeriod(periodForKey(key, anchor));
    // Assess
    expect(days).toHaveLength(count);
    expect(days[0]).toBe(first);
    expect(days.at(-1)).toBe(last);
    expect(new Set(days).size).toBe(count);
  });
});

describe('properties', () => {
  const instant = fc.integer({ min: MIN_PERIOD_INSTANT_MS + 62 * 86_400_000, max: MAX_PERIOD_INSTANT_MS - 62 * 86_400_000 });
  const anchor = fc.option(fc.integer({ min: 1, max: 31 }), { nil: undefined });

  it('puts every instant in its period, start < end, 28-31 days long, and the key names that period', () => {
    fc.assert(
      fc.property(instant, anchor, (t, a) => {
        // Act
        const p = periodContaining(t, a);
        // Assess
        const start = Date.parse(p.start);
        const end = Date.parse(p.end);
        expect(start).toBeLessThanOrEqual(t);
        expect(t).toBeLessThan(end);
        expect(start).toBeLessThan(end);
        expect(daysOfPeriod(p).length).toBeGreaterThanOrEqual(28);
        expect(daysOfPeriod(p).length).toBeLessThanOrEqual(31);
        expect(periodForKey(p.key, a)).toEqual(p);
      }),
      { numRuns: 2000 },
    );
  });

  it('gives every instant exactly one period: its neighbours do not contain it', () => {
    fc.assert(
      fc.property(instant, anchor, (t, a) => {
        // Act
        const p = periodContaining(t, a);
        // Assess
        expect(periodContains(previousPeriod(p), t)).toBe(false);
        expect(periodContains(nextPeriod(p), t)).toBe(false);
        // Every instant of the period maps back to the same period.
        expect(periodContaining(Date.parse(p.start), a)).toEqual(p);
        expect(periodContaining(Date.parse(p.end) - 1, a)).toEqual(p);
      }),
      { numRuns: 2000 },
    );
  });

  it('tiles time: consecutive periods meet with no gap or overlap, and their days never repeat', () => {
    fc.assert(
      // Walks up to 30 periods forward, so it starts well before the supported maximum.
      fc.property(
        fc.integer({ min: MIN_PERIOD_INSTANT_MS + 62 * 86_400_000, max: Date.UTC(9990, 0, 1) }),
        anchor,
        fc.integer({ min: 2, max: 30 }),
        (t, a, count) => {
          // Prepare
          let p = periodContaining(t, a);
          const seen = new Set<string>();
          // Act / Assess
          for (let i = 0; i < count; i += 1) {
            const next = nextPeriod(p);
            expect(next.start).toBe(p.end);
            expect(previousPeriod(next)).toEqual(p);
            for (const day of daysOfPeriod(p)) {
              expect(seen.has(day)).toBe(false);
              seen.add(day);
            }
            p = next;
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('starts a period on the anchor day, or on the last day of a month too short for it', () => {
    fc.assert(
      fc.property(instant, fc.integer({ min: 1, max: 31 }), (t, a) => {
        // Act
        const start = new Date(periodContaining(t, a).start);
        // Assess
        const expected = Math.min(a, daysInMonth(start.getUTCFullYear(), start.getUTCMonth()));
        expect(start.getUTCDate()).toBe(expected);
        expect(start.getUTCHours() + start.getUTCMinutes() + start.getUTCSeconds() + start.getUTCMilliseconds()).toBe(0);
      }),
      { numRuns: 2000 },
    );
  });
});
