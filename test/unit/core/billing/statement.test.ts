import { describe, expect, it } from 'vitest';
import { renderStatement } from '../../../../cli/render/statement.js';
import { ValidationError } from '../../../../contract/errors.js';
import type { Meter } from '../../../../contract/meters.js';
import { buildStatement, LOST_IN_STRIPE, periodForStatement, type Statement } from '../../../../functions/core/billing/statement.js';
import { periodForKey } from '../../../../functions/core/close/billing-period.js';
import type { Customer, LedgerRecord, LedgerState, StoredDay } from '../../../../functions/core/shared/ports.js';
import { ledgerRecord } from '../../../fakes/ledger.js';

const acme: Customer = {
  id: 'acme',
  name: 'Acme',
  stripeCustomerId: 'cus_acme',
  createdAt: '2026-01-01T00:00:00Z',
  updatedAt: '2026-01-01T00:00:00Z',
};
const MARCH = periodForKey('2026-03');

/** A stored day: the day's own figures and the period-to-date values it reports. */
function day(
  d: string,
  own: { calls: number; users: number; filesPeak: number },
  ptd: { users: number; files: number },
  customerId = 'acme',
): StoredDay {
  return {
    customerId,
    day: d,
    periodKey: d.slice(0, 7),
    anchorDay: 1,
    eventCount: own.calls + own.users,
    apiCalls: own.calls,
    apiCallsByHour: new Array(24).fill(0),
    activeUsers: own.users,
    files: { start: 0, end: own.filesPeak, peak: own.filesPeak },
    ptd: { apiCalls: 0, activeUsers: ptd.users, filesPeak: ptd.files, filesEnd: ptd.files },
    values: { api_calls: own.calls, active_users: ptd.users, protected_files: ptd.files },
    computedAt: `${d}T23:59:00Z`,
  };
}

/** A ledger record as the nightly close writes it. */
function rec(
  meter: Meter,
  d: string,
  revision: number,
  value: number,
  state: LedgerState = 'sent',
  extra: Partial<LedgerRecord> = {},
): LedgerRecord {
  return ledgerRecord(
    meter,
    d,
    revision,
    value,
    state,
    { periodKey: d.slice(0, 7), createdAt: `${d}T23:59:59Z`, sentAt: '2026-03-04T00:31:00.000Z' },
    extra,
  );
}

const DAYS = [
  day('2026-02-28', { calls: 999, users: 9, filesPeak: 9 }, { users: 9, files: 9 }), // previous period: ignored
  day('2026-03-01', { calls: 40, users: 2, filesPeak: 3 }, { users: 2, files: 3 }),
  day('2026-03-02', { calls: 2, users: 1, filesPeak: 5 }, { users: 3, files: 5 }),
  day('2026-03-03', { calls: 10, users: 2, filesPeak: 4 }, { users: 4, files: 5 }),
];
const meterOf = (s: Statement, m: Meter) => s.meters.find((x) => x.meter === m)!;

describe('buildStatement: what we bill', () => {
  it('sums api calls over the period, takes users and files from the latest day, and ignores other periods', () => {
    // Act
    const s = buildStatement({ customer: acme, period: MARCH, days: DAYS, ledger: [] });
    // Assess
    expect(s.closedThrough).toBe('2026-03-03');
    expect(s.meters.map((m) => [m.meter, m.formula, m.billed])).toEqual([
      ['api_calls', 'sum', 52],
      ['active_users', 'last', 4],
      ['protected_files', 'last', 5],
    ]);
  });

  it("lists each day with its reported value and, for last meters, the day's own figure", () => {
    // Act
    const s = buildStatement({ customer: acme, period: MARCH, days: [...DAYS].reverse(), ledger: [] });
    // Assess
    expect(meterOf(s, 'api_calls').daily.map((d) => [d.day, d.value, d.dayFigure])).toEqual([
      ['2026-03-01', 40, undefined],
      ['2026-03-02', 2, undefined],
      ['2026-03-03', 10, undefined],
    ]);
    expect(meterOf(s, 'active_users').daily.map((d) => [d.value, d.dayFigure])).toEqual([
      [2, 2],
      [3, 1],
      [4, 2],
    ]);
    expect(meterOf(s, 'protected_files').daily.map((d) => [d.value, d.dayFigure])).toEqual([
      [3, 3],
      [5, 5],
      [5, 4],
    ]);
  });

  it('bills nothing and reports closedThrough null before the first close', () => {
    // Act
    const s = buildStatement({ customer: acme, period: periodForKey('2026-04'), days: DAYS, ledger: [] });
    // Assess
    expect(s.closedThrough).toBeNull();
    expect(s.meters.map((m) => m.billed)).toEqual([0, 0, 0]);
  });

  it('refuses a period computed for another anchor day', () => {
    // Act / Assess
    expect(() => buildStatement({ customer: { ...acme, anchorDay: 15 }, period: MARCH, days: [], ledger: [] })).toThrow(ValidationError);
  });
});

describe('buildStatement: what was reported, aggregated as Stripe does', () => {
  it('sums only sent records for a sum meter and lists late corrections, pending and errors', () => {
    // Prepare
    const ledger = [
      rec('api_calls', '2026-03-01', 0, 38),
      rec('api_calls', '2026-03-01', 1, 2), // late events: a correction
      rec('api_calls', '2026-03-02', 0, 2, 'error', { lastError: 'unknown_customer' }),
      rec('api_calls', '2026-03-03', 0, 10, 'pending', { lastError: 'failed_transient: server_error' }),
      rec('api_calls', '2026-02-28', 0, 999), // another period
    ];
    // Act
    const m = meterOf(buildStatement({ customer: acme, period: MARCH, days: DAYS, ledger }), 'api_calls');
    // Assess
    expect(m.reportedTotal).toBe(40);
    expect(m.unreported).toBe(12);
    expect(m.reports.map((r) => [r.day, r.revision, r.state])).toEqual([
      ['2026-03-01', 0, 'sent'],
      ['2026-03-01', 1, 'sent'],
      ['2026-03-02', 0, 'error'],
      ['2026-03-03', 0, 'pending'],
    ]);
    expect(m.corrections.map((r) => r.identifier)).toEqual(['srn:api:2026-03-01:r1:acme']);
    expect(m.pending.map((r) => [r.identifier, r.lastError])).toEqual([['srn:api:2026-03-03:r0:acme', 'failed_transient: server_error']]);
    expect(m.errors.map((r) => [r.identifier, r.lastError])).toEqual([['srn:api:2026-03-02:r0:acme', 'unknown_customer']]);
    expect(m.reports[0]!.sentAt).toBe('2026-03-04T00:31:00.000Z');
  });

  it('counts a negative correction into the sum', () => {
    // Prepare
    const ledger = [
      rec('api_calls', '2026-03-01', 0, 45),
      rec('api_calls', '2026-03-01', 1, -5),
      rec('api_calls', '2026-03-02', 0, 2),
      rec('api_calls', '2026-03-03', 0, 10),
    ];
    // Act
    const m = meterOf(buildStatement({ customer: acme, period: MARCH, days: DAYS, ledger }), 'api_calls');
    // Assess
    expect(m.reportedTotal).toBe(52);
    expect(m.unreported).toBe(0);
  });

  it('takes the sent record with the latest timestamp for a last meter, not the latest record', () => {
    // Prepare
    const ledger = [
      rec('active_users', '2026-03-01', 0, 2),
      rec('active_users', '2026-03-02', 0, 3),
      rec('active_users', '2026-03-02', 1, 1), // a correction downwards on the same day: later timestamp wins
      rec('active_users', '2026-03-03', 0, 4, 'error', { lastError: 'timestamp_out_of_window' }),
    ];
    // Act
    const m = meterOf(buildStatement({ customer: acme, period: MARCH, days: DAYS, ledger }), 'active_users');
    // Assess
    expect(m.reportedTotal).toBe(1);
    expect(m.unreported).toBe(3);
    expect(m.errors).toHaveLength(1);
  });

  it('nets usage recorded as lost in Stripe and keeps those markers out of the errors', () => {
    // Prepare: day 1 was sent (40), Stripe lost it, reconcile recorded -40 and re-sent 40.
    const ledger = [
      rec('api_calls', '2026-03-01', 0, 40),
      rec('api_calls', '2026-03-01', 1, -40, 'error', { lastError: LOST_IN_STRIPE, runId: 'reconcile:1' }),
      rec('api_calls', '2026-03-01', 2, 40, 'sent', { runId: 'reconcile:1' }),
    ];
    // Act
    const m = meterOf(buildStatement({ customer: acme, period: MARCH, days: DAYS.slice(0, 2), ledger }), 'api_calls');
    // Assess
    expect(m.reportedTotal).toBe(40);
    expect(m.errors).toEqual([]);
    expect(m.lostInStripe.map((r) => [r.revision, r.value])).toEqual([[1, -40]]);
  });

  it('lists holds that overlap the period for their meter only', () => {
    // Prepare
    const holds = [
      { customerId: 'acme', meter: 'api_calls' as const, from: '2026-03-02', to: '2026-03-03' },
      { customerId: 'acme', meter: 'api_calls' as const, from: '2026-04-01', to: '2026-04-02' },
      { customerId: 'other', meter: 'api_calls' as const, from: '2026-03-02', to: '2026-03-03' },
    ];
    // Act
    const s = buildStatement({ customer: acme, period: MARCH, days: DAYS, ledger: [], holds });
    // Assess
    expect(meterOf(s, 'api_calls').held).toEqual([holds[0]]);
    expect(meterOf(s, 'active_users').held).toEqual([]);
  });
});

describe('periodForStatement', () => {
  it('maps YYYY-MM to the calendar month, or to the period starting in that month for an anchored customer', () => {
    // Act / Assess
    expect(periodForStatement('2026-03').start).toBe('2026-03-01T00:00:00.000Z');
    expect(periodForStatement('2026-03', 15)).toMatchObject({ key: '2026-03-15', end: '2026-04-15T00:00:00.000Z' });
    expect(periodForStatement('2026-02', 31)).toMatchObject({ key: '2026-02-28', end: '2026-03-31T00:00:00.000Z' });
    expect(periodForStatement('2026-03-15', 15).key).toBe('2026-03-15');
  });

  it.each([
    [undefined, undefined],
    ['2026-13', undefined],
    ['2026-03-01', undefined],
    ['2026-03-14', 15],
    ['march', 15],
  ])('rejects %s (anchor %s) naming the field period', (key, anchor) => {
    // Act
    let error: unknown;
    try {
      periodForStatement(key, anchor);
    } catch (err) {
      error = err;
    }
    // Assess
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).errors.map((e) => e.field)).toEqual(['period']);
  });
});

describe('renderStatement', () => {
  const statement = buildStatement({
    customer: { ...acme, id: '=cmd|calc' },
    period: MARCH,
    days: DAYS.map((d) => ({ ...d, customerId: '=cmd|calc' })),
    ledger: [
      { ...rec('api_calls', '2026-03-01', 0, 40, 'error', { lastError: 'invalid_request: bad, "quoted"' }), customerId: '=cmd|calc' },
    ],
  });

  it('writes one CSV row per figure, quoted and safe to open in a spreadsheet', () => {
    // Act
    const lines = renderStatement(statement, 'csv').split('\n');
    // Assess
    expect(lines[0]).toBe('customer,period,meter,kind,day,revision,identifier,value,day_figure,state,sent_at,last_error');
    expect(lines[1]).toBe("'=cmd|calc,2026-03,api_calls,billed,,,,52,,,,");
    expect(lines).toContain("'=cmd|calc,2026-03,active_users,daily,2026-03-02,,,3,1,,,");
    const report = lines.find((l) => l.includes(',report,'))!;
    expect(report.endsWith(',error,,"invalid_request: bad, ""quoted"""')).toBe(true);
  });

  it('renders JSON that parses back to the statement, and a table naming each meter with its totals', () => {
    // Act
    const json = JSON.parse(renderStatement(statement, 'json')) as Statement;
    const table = renderStatement(statement, 'table');
    // Assess
    expect(json).toEqual(JSON.parse(JSON.stringify(statement)));
    const lines = table.split('\n');
    expect(lines[1]).toBe('Period 2026-03: [2026-03-01T00:00:00.000Z, 2026-04-01T00:00:00.000Z), closed through 2026-03-03');
    expect(lines).toContain('api_calls        sum      52      0         52          0            0        1       0               none');
    expect(lines).toContain('2026-03-02  2          3             1               5                5');
    expect(table).toMatch(/api_calls\s+srn:api:2026-03-01:r0:acme\s+2026-03-01\s+0\s+40\s+error/);
  });
});
