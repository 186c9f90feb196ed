import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../../contract/errors.js';
import type { UsageEvent } from '../../../../contract/event-contract.js';
import { periodContaining } from '../../../../functions/core/close/billing-period.js';
import {
  type DayRollup,
  DEFAULT_METER_SETTINGS,
  type PeriodToDate,
  periodToDate,
  rollupDay,
  unionActiveUsers,
  valuesToReport,
} from '../../../../functions/core/close/daily-rollup.js';
import { emptyFileState, type FileTimelineState } from '../../../../functions/core/close/file-timeline.js';

let n = 0;
const ev = (time: string, over: Partial<UsageEvent> = {}): UsageEvent => ({
  id: `e${n++}`,
  source: 's',
  customerId: 'acme',
  type: 'com.serenity.api.call',
  time,
  quantity: 1,
  ...over,
});
const call = (time: string, quantity: number) => ev(time, { quantity });
const user = (time: string, userId: string) => ev(time, { type: 'com.serenity.user.active', userId });
const file = (time: string, fileId: string, kind: '+' | '-') =>
  ev(time, { type: kind === '+' ? 'com.serenity.file.protected' : 'com.serenity.file.unprotected', fileId });
const startOf = (day: string) => emptyFileState(`${day}T00:00:00.000Z`);

/** Rolls up consecutive days and folds them into period-to-date values, as the nightly close will. */
function runDays(days: { day: string; events: UsageEvent[] }[], anchorDay?: number) {
  let files: FileTimelineState = startOf(days[0]!.day);
  let ptd: PeriodToDate | undefined;
  let seen = new Set<string>();
  const out: { rollup: DayRollup; ptd: PeriodToDate }[] = [];
  for (const { day, events } of days) {
    const rollup = rollupDay(events, day, files);
    const period = periodContaining(Date.parse(`${day}T00:00:00Z`), anchorDay);
    if (ptd && ptd.periodKey !== period.key) seen = new Set(); // a new period starts an empty id set
    const users = unionActiveUsers(seen, rollup.activeUserIds);
    for (const id of users.newIds) seen.add(id);
    ptd = periodToDate(ptd, rollup, users, period);
    files = rollup.fileEnd;
    out.push({ rollup, ptd });
  }
  return out;
}

describe('rollupDay', () => {
  it('counts calls per hour, distinct users and protected files of one day', () => {
    // Prepare: events in no particular order
    const events = [
      call('2026-03-09T13:59:59.999Z', 4),
      user('2026-03-09T08:00:00.000Z', 'zoe'),
      call('2026-03-09T00:00:00.000Z', 10),
      file('2026-03-09T09:00:00.000Z', 'f1', '+'),
      user('2026-03-09T09:00:00.000Z', 'adam'),
      call('2026-03-09T13:00:00.000Z', 6),
      file('2026-03-09T09:30:00.000Z', 'f2', '+'),
      user('2026-03-09T22:00:00.000Z', 'zoe'),
      file('2026-03-09T10:00:00.000Z', 'f0', '-'),
      call('2026-03-09T23:59:59.999Z', 1),
    ];
    const byHour = new Array(24).fill(0);
    byHour[0] = 10;
    byHour[13] = 10;
    byHour[23] = 1;
    // Act
    const r = rollupDay(events, '2026-03-09', { asOf: '2026-03-09T00:00:00.000Z', protectedFiles: new Set(['f0']) });
    // Assess
    expect(r).toMatchObject({
      day: '2026-03-09',
      eventCount: 10,
      apiCalls: 21,
      apiCallsByHour: byHour,
      activeUsers: 2,
      activeUserIds: ['adam', 'zoe'],
      files: { start: 1, end: 2, peak: 3 },
    });
    expect(r.fileEnd.asOf).toBe('2026-03-10T00:00:00.000Z');
    expect([...r.fileEnd.protectedFiles].sort()).toEqual(['f1', 'f2']);
  });

  it('an empty day carries the files over', () => {
    // Act
    const r = rollupDay([], '2026-03-09', { asOf: '2026-03-09T00:00:00.000Z', protectedFiles: new Set(['a', 'b']) });
    // Assess
    expect(r).toMatchObject({ eventCount: 0, apiCalls: 0, activeUsers: 0, activeUserIds: [], files: { start: 2, end: 2, peak: 2 } });
  });

  it('reports every problem at once', () => {
    // Prepare
    const dup = call('2026-03-09T10:00:00.000Z', 1);
    const events = [
      dup,
      call('2026-03-10T00:00:00.000Z', 1),
      ev('2026-03-09T11:00:00.000Z', { customerId: 'other' }),
      dup,
      ev('2026-03-09T12:00:00.000Z', { type: 'com.serenity.file.protected' }),
    ];
    // Act / Assess
    try {
      rollupDay(events, '2026-03-09', startOf('2026-03-08'));
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ValidationError);
      expect((err as ValidationError).errors.map((e) => e.field)).toEqual([
        'fileStart.asOf',
        'events[1].time',
        'events[2].customerId',
        'events[3].id',
        'events[4].fileId',
      ]);
    }
  });

  it('rejects a day that does not exist', () => {
    // Act / Assess
    expect(() => rollupDay([], '2026-02-29', startOf('2026-02-28'))).toThrow(ValidationError);
  });
});

describe('unionActiveUsers', () => {
  it.each([
    { seen: [], day: ['b', 'a'], newIds: ['a', 'b'], count: 2 },
    { seen: ['a', 'b'], day: ['b', 'c'], newIds: ['c'], count: 3 },
    { seen: ['a', 'b'], day: ['a'], newIds: [], count: 2 },
    { seen: ['a'], day: ['c', 'c'], newIds: ['c'], count: 2 },
  ])('seen $seen + day $day -> new $newIds, $count', ({ seen, day, newIds, count }) => {
    // Act / Assess
    expect(unionActiveUsers(new Set(seen), day)).toEqual({ newIds, count });
  });
});

describe('periodToDate', () => {
  it('sums calls, unions users and keeps the peak within a period, and starts afresh in the next one', () => {
    // Prepare: Jan 30 - Feb 1, calendar months; f1 stays protected across the boundary
    const days = [
      {
        day: '2026-01-30',
        events: [
          call('2026-01-30T10:00:00.000Z', 5),
          user('2026-01-30T10:00:00.000Z', 'u1'),
          file('2026-01-30T10:00:00.000Z', 'f1', '+'),
          file('2026-01-30T11:00:00.000Z', 'f2', '+'),
          file('2026-01-30T12:00:00.000Z', 'f2', '-'),
        ],
      },
      {
        day: '2026-01-31',
        events: [call('2026-01-31T10:00:00.000Z', 7), user('2026-01-31T10:00:00.000Z', 'u1'), user('2026-01-31T10:00:00.000Z', 'u2')],
      },
      { day: '2026-02-01', events: [call('2026-02-01T10:00:00.000Z', 1), user('2026-02-01T10:00:00.000Z', 'u2')] },
    ];
    // Act
    const out = runDays(days);
    // Assess
    expect(out.map((o) => o.ptd)).toEqual([
      { periodKey: '2026-01', anchorDay: 1, throughDay: '2026-01-30', apiCalls: 5, activeUsers: 1, filesPeak: 2, filesEnd: 1 },
      { periodKey: '2026-01', anchorDay: 1, throughDay: '2026-01-31', apiCalls: 12, activeUsers: 2, filesPeak: 2, filesEnd: 1 },
      // a fresh period: u1 is not counted, the peak of 2 stays in January, f1 is carried in
      { periodKey: '2026-02', anchorDay: 1, throughDay: '2026-02-01', apiCalls: 1, activeUsers: 1, filesPeak: 1, filesEnd: 1 },
    ]);
  });

  it('follows an anchored period boundary', () => {
    // Prepare: anchor day 15, so Feb 14 and Feb 15 are in different periods
    const days = [
      { day: '2026-02-14', events: [user('2026-02-14T10:00:00.000Z', 'u1')] },
      { day: '2026-02-15', events: [user('2026-02-15T10:00:00.000Z', 'u1')] },
    ];
    // Act
    const out = runDays(days, 15);
    // Assess
    expect(out.map((o) => [o.ptd.periodKey, o.ptd.activeUsers])).toEqual([
      ['2026-01-15', 1],
      ['2026-02-15', 1],
    ]);
  });

  it('rejects a skipped day, a day outside the period and a user count that cannot be right', () => {
    // Prepare
    const [first] = runDays([{ day: '2026-03-01', events: [user('2026-03-01T10:00:00.000Z', 'u1')] }]);
    const march = periodContaining(Date.parse('2026-03-01T00:00:00Z'));
    const day3 = rollupDay([user('2026-03-03T10:00:00.000Z', 'u2')], '2026-03-03', startOf('2026-03-03'));
    const april1 = rollupDay([user('2026-04-01T10:00:00.000Z', 'u2')], '2026-04-01', startOf('2026-04-01'));
    // Act / Assess
    expect(() => periodToDate(first!.ptd, day3, { newIds: ['u2'], count: 2 }, march)).toThrow(/day before/);
    expect(() => periodToDate(undefined, april1, { newIds: ['u2'], count: 1 }, march)).toThrow(/must lie in period/);
    // a fresh period with a stale id set: one user that day cannot make 2 in the period
    const april = periodContaining(Date.parse('2026-04-01T00:00:00Z'));
    expect(() => periodToDate(first!.ptd, april1, { newIds: ['u2'], count: 2 }, april)).toThrow(/users.count/);
    // a continuing period whose stored ids were lost: the period cannot shrink below its previous count
    const [, second] = runDays([
      { day: '2026-03-01', events: [user('2026-03-01T10:00:00.000Z', 'u1'), user('2026-03-01T10:00:00.000Z', 'u2')] },
      { day: '2026-03-02', events: [] },
    ]);
    const day3Again = rollupDay([user('2026-03-03T10:00:00.000Z', 'u3')], '2026-03-03', startOf('2026-03-03'));
    expect(() => periodToDate(second!.ptd, day3Again, unionActiveUsers(new Set(), day3Again.activeUserIds), march)).toThrow(/users.count/);
  });
});

describe('valuesToReport', () => {
  it.each([
    { basis: 'peak' as const, protectedFiles: 3 },
    { basis: 'end' as const, protectedFiles: 1 },
  ])('protected files on the $basis basis', ({ basis, protectedFiles }) => {
    // Prepare: three files protected in the morning, two unprotected by night
    const [, second] = runDays([
      { day: '2026-03-01', events: [call('2026-03-01T01:00:00.000Z', 9), user('2026-03-01T01:00:00.000Z', 'a')] },
      {
        day: '2026-03-02',
        events: [
          call('2026-03-02T01:00:00.000Z', 4),
          user('2026-03-02T01:00:00.000Z', 'b'),
          file('2026-03-02T08:00:00.000Z', 'f1', '+'),
          file('2026-03-02T08:01:00.000Z', 'f2', '+'),
          file('2026-03-02T08:02:00.000Z', 'f3', '+'),
          file('2026-03-02T20:00:00.000Z', 'f1', '-'),
          file('2026-03-02T20:01:00.000Z', 'f2', '-'),
        ],
      },
    ]);
    // Act
    const values = valuesToReport(second!.rollup, second!.ptd, { protected_files: { basis } });
    // Assess: api_calls is the day's own total (a sum meter), the others are period-to-date
    expect(values).toEqual({ api_calls: 4, active_users: 2, protected_files: protectedFiles });
  });

  it('refuses a period-to-date value of another day', () => {
    // Prepare
    const [a, b] = runDays([
      { day: '2026-03-01', events: [] },
      { day: '2026-03-02', events: [] },
    ]);
    // Act / Assess
    expect(() => valuesToReport(b!.rollup, a!.ptd, DEFAULT_METER_SETTINGS)).toThrow(ValidationError);
  });
});

describe('properties', () => {
  const DAYS = ['2026-01-29', '2026-01-30', '2026-01-31', '2026-02-01', '2026-02-02'];
  const eventArb = fc.record({
    day: fc.integer({ min: 0, max: DAYS.length - 1 }),
    ms: fc.integer({ min: 0, max: 86_399_999 }),
    kind: fc.constantFrom('call', 'user', '+', '-'),
    who: fc.constantFrom('a', 'b', 'c', 'd', 'e'),
    quantity: fc.integer({ min: 1, max: 1000 }),
  });

  it('period-to-date values equal the same quantities computed over the whole period at once', () => {
    fc.assert(
      fc.property(fc.array(eventArb, { maxLength: 60 }), (rows) => {
        // Prepare
        const events = rows.map((r) => {
          const time = new Date(Date.parse(`${DAYS[r.day]}T00:00:00Z`) + r.ms).toISOString();
          return r.kind === 'call' ? call(time, r.quantity) : r.kind === 'user' ? user(time, r.who) : file(time, r.who, r.kind);
        });
        // Act
        const out = runDays(DAYS.map((day) => ({ day, events: events.filter((e) => e.time.startsWith(day)) })));
        // Assess: brute force per period over the days up to each day
        for (const { ptd } of out) {
          const inPeriod = events.filter((e) => e.time.slice(0, 7) === ptd.periodKey && e.time.slice(0, 10) <= ptd.throughDay);
          expect(ptd.apiCalls).toBe(inPeriod.filter((e) => e.type === 'com.serenity.api.call').reduce((s, e) => s + e.quantity, 0));
          expect(ptd.activeUsers).toBe(new Set(inPeriod.filter((e) => e.userId).map((e) => e.userId)).size);
          // the peak: highest count at the period start or at any operation time in the period so far
          const ops = events.filter((e) => e.fileId).sort((x, y) => x.time.localeCompare(y.time) || `s#${x.id}`.localeCompare(`s#${y.id}`));
          const countAt = (iso: string) => {
            const latest = new Map<string, string>();
            for (const o of ops) if (o.time <= iso) latest.set(o.fileId!, o.type);
            return [...latest.values()].filter((t) => t === 'com.serenity.file.protected').length;
          };
          const instants = [`${ptd.periodKey}-01T00:00:00.000Z`, ...inPeriod.filter((e) => e.fileId).map((e) => e.time)];
          expect(ptd.filesPeak).toBe(Math.max(...instants.map(countAt)));
          expect(ptd.filesEnd).toBe(countAt(`${ptd.throughDay}T23:59:59.999Z`));
        }
      }),
    );
  });
});
