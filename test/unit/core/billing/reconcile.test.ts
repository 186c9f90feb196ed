import { describe, expect, it } from 'vitest';
import type { Meter } from '../../../../contract/meters.js';
import {
  type CompareInput,
  compareCustomer,
  planLostRepairs,
  type ReconcileRow,
  sentDays,
  settleRecord,
  stripeWindow,
} from '../../../../functions/core/billing/reconcile.js';
import { planReports, revisionTimestamp } from '../../../../functions/core/billing/reporting-plan.js';
import { buildStatement, LOST_IN_STRIPE } from '../../../../functions/core/billing/statement.js';
import { periodForKey } from '../../../../functions/core/close/billing-period.js';
import type { Customer, LedgerRecord, LedgerState, StoredDay } from '../../../../functions/core/shared/ports.js';
import { ledgerRecord } from '../../../fakes/ledger.js';

const acme: Customer = { id: 'acme', stripeCustomerId: 'cus_acme', createdAt: '2026-01-01T00:00:00Z', updatedAt: '2026-01-01T00:00:00Z' };
const MARCH = periodForKey('2026-03');
const NOW = Date.parse('2026-03-10T12:00:00Z');
const LONG_AGO = '2026-03-04T00:31:00.000Z';

function day(d: string, calls: number, usersPtd: number, filesPtd: number): StoredDay {
  return {
    customerId: 'acme',
    day: d,
    periodKey: '2026-03',
    anchorDay: 1,
    eventCount: calls,
    apiCalls: calls,
    apiCallsByHour: new Array(24).fill(0),
    activeUsers: usersPtd,
    files: { start: 0, end: filesPtd, peak: filesPtd },
    ptd: { apiCalls: 0, activeUsers: usersPtd, filesPeak: filesPtd, filesEnd: filesPtd },
    values: { api_calls: calls, active_users: usersPtd, protected_files: filesPtd },
    computedAt: `${d}T23:59:00Z`,
  };
}

function rec(
  meter: Meter,
  d: string,
  revision: number,
  value: number,
  state: LedgerState = 'sent',
  extra: Partial<LedgerRecord> = {},
): LedgerRecord {
  return ledgerRecord(meter, d, revision, value, state, { periodKey: '2026-03', createdAt: LONG_AGO, sentAt: LONG_AGO }, extra);
}

const DAYS = [day('2026-03-01', 40, 2, 3), day('2026-03-02', 2, 3, 5)];
/** Everything metered, reported and sent. */
const LEDGER = [
  rec('api_calls', '2026-03-01', 0, 40),
  rec('api_calls', '2026-03-02', 0, 2),
  rec('active_users', '2026-03-02', 0, 3),
  rec('protected_files', '2026-03-02', 0, 5),
];
const AGREEING = { api_calls: 42, active_users: 3, protected_files: 5 };

const compare = (over: Partial<CompareInput>) =>
  compareCustomer({ customer: acme, period: MARCH, days: DAYS, ledger: LEDGER, stripe: AGREEING, nowMs: NOW, ...over });
const row = (rows: ReconcileRow[], m: Meter) => rows.find((r) => r.meter === m)!;
const brief = (r: ReconcileRow) => [r.metered, r.reported, r.stripe, r.status, r.action];

describe('compareCustomer', () => {
  it('finds every meter ok when rollups, ledger and Stripe agree', () => {
    // Act
    const rows = compare({});
    // Assess
    expect(rows.map((r) => [r.meter, ...brief(r)])).toEqual([
      ['api_calls', 42, 42, 42, 'ok', 'none'],
      ['active_users', 3, 3, 3, 'ok', 'none'],
      ['protected_files', 5, 5, 5, 'ok', 'none'],
    ]);
  });

  it('calls pending and retryable error records unreported and lists them for resending', () => {
    // Prepare
    const ledger = [
      rec('api_calls', '2026-03-01', 0, 40),
      rec('api_calls', '2026-03-02', 0, 2, 'pending', { lastError: 'failed_transient: server_error' }),
      rec('active_users', '2026-03-02', 0, 3, 'error', { lastError: 'no_stripe_customer' }),
      rec('protected_files', '2026-03-02', 0, 5),
    ];
    // Act
    const rows = compare({ ledger, stripe: { api_calls: 40, active_users: 0, protected_files: 5 } });
    // Assess
    expect(brief(row(rows, 'api_calls'))).toEqual([42, 40, 40, 'unreported', 'resend']);
    expect(row(rows, 'api_calls').resend).toEqual(['srn:api:2026-03-02:r0:acme']);
    expect(row(rows, 'active_users').resend).toEqual(['srn:users:2026-03-02:r0:acme']);
    expect(row(rows, 'active_users').note).toContain('1 in error');
    expect(row(rows, 'protected_files').status).toBe('ok');
  });

  it('lists records Stripe refused after accepting them as their own kind, refused_by_stripe, with its code and event', () => {
    // Prepare: day 2's calls refused by webhook (customer not found, resendable); the files' refused for too many digits
    const refused = (code: string) => ({ asyncError: { code, message: `Stripe says ${code}`, eventId: 'evt_1', reportedAt: LONG_AGO } });
    const ledger = [
      rec('api_calls', '2026-03-01', 0, 40),
      rec('api_calls', '2026-03-02', 0, 2, 'error', { lastError: 'unknown_customer', ...refused('meter_event_customer_not_found') }),
      rec('active_users', '2026-03-02', 0, 3),
      rec('protected_files', '2026-03-02', 0, 5, 'error', {
        lastError: 'stripe_async:meter_event_value_too_many_digits',
        ...refused('meter_event_value_too_many_digits'),
      }),
    ];
    // Act
    const rows = compare({ ledger, stripe: { api_calls: 40, active_users: 3, protected_files: 0 } });
    // Assess
    expect(rows.map((r) => [r.meter, r.status, r.action, r.resend])).toEqual([
      ['api_calls', 'refused_by_stripe', 'resend', ['srn:api:2026-03-02:r0:acme']],
      ['active_users', 'ok', 'none', []],
      ['protected_files', 'refused_by_stripe', 'manual', []],
    ]);
    expect(row(rows, 'api_calls').refusedByStripe).toEqual([
      {
        identifier: 'srn:api:2026-03-02:r0:acme',
        day: '2026-03-02',
        value: 2,
        code: 'meter_event_customer_not_found',
        message: 'Stripe says meter_event_customer_not_found',
        eventId: 'evt_1',
      },
    ]);
    expect(row(rows, 'protected_files').note).toContain('meter_event_value_too_many_digits');
    expect(row(rows, 'active_users').refusedByStripe).toBeUndefined();
  });

  it('resends only what the nightly close would send: not a held day, not a record refused for good or of a final invoice', () => {
    // Prepare: day 2's calls pending but now held; users refused as period_invoiced; files refused as an invalid event
    const ledger = [
      rec('api_calls', '2026-03-01', 0, 40),
      rec('api_calls', '2026-03-02', 0, 2, 'pending', { lastError: 'failed_transient: server_error' }),
      rec('active_users', '2026-03-02', 0, 3, 'error', { lastError: 'period_invoiced' }),
      rec('protected_files', '2026-03-02', 0, 5, 'error', { lastError: 'invalid_event' }),
    ];
    const holds = [{ customerId: 'acme', meter: 'api_calls' as const, from: '2026-03-02', to: '2026-03-03' }];

    // Act
    const rows = compare({ ledger, holds, stripe: { api_calls: 40, active_users: 0, protected_files: 0 } });

    // Assess
    expect(rows.map((r) => [r.meter, r.action, r.resend])).toEqual([
      ['api_calls', 'manual', []],
      ['active_users', 'manual', []],
      ['protected_files', 'manual', []],
    ]);
    expect(row(rows, 'active_users').note).toContain('period_invoiced');
  });

  it('sends to the nightly close a day the ledger holds nothing for', () => {
    // Prepare: day 2 was never reported.
    const ledger = [
      rec('api_calls', '2026-03-01', 0, 40),
      rec('active_users', '2026-03-02', 0, 3),
      rec('protected_files', '2026-03-02', 0, 5),
    ];
    // Act
    const r = row(compare({ ledger, stripe: { ...AGREEING, api_calls: 40 } }), 'api_calls');
    // Assess
    expect(brief(r)).toEqual([42, 40, 40, 'unreported', 'run_nightly']);
    expect(r.note).toContain('run meter nightly');
  });

  it("shows finance a record the close settled as still unsent after Stripe's window, by its reason", () => {
    // Act
    const expired = rec('api_calls', '2026-03-02', 0, 2, 'error', { lastError: 'pending_beyond_stripe_window' });
    const r = row(compare({ nowMs: Date.parse('2026-04-30T00:00:00Z'), ledger: [LEDGER[0]!, expired, ...LEDGER.slice(2)] }), 'api_calls');
    // Assess
    expect([r.status, r.action, r.resend]).toEqual(['unreported', 'manual', []]);
    expect(r.note).toContain('pending_beyond_stripe_window');
  });

  it("leaves records older than Stripe's window to a person", () => {
    // Act
    const r = row(
      compare({
        nowMs: Date.parse('2026-04-30T00:00:00Z'),
        ledger: [...LEDGER.slice(0, 1), rec('api_calls', '2026-03-02', 0, 2, 'pending'), ...LEDGER.slice(2)],
      }),
      'api_calls',
    );
    // Assess
    expect([r.status, r.action, r.resend]).toEqual(['unreported', 'manual', []]);
  });

  it('finds usage lost in Stripe on a sum meter and proposes the repair once the sends have settled', () => {
    // Act
    const settled = row(compare({ stripe: { ...AGREEING, api_calls: 2 } }), 'api_calls');
    const fresh = row(compare({ stripe: { ...AGREEING, api_calls: 2 }, nowMs: Date.parse(LONG_AGO) + 10 * 60_000 }), 'api_calls');
    // Assess
    expect(brief(settled)).toEqual([42, 42, 2, 'not_in_stripe', 'repair_lost']);
    expect(brief(fresh)).toEqual([42, 42, 2, 'not_in_stripe', 'wait']);
  });

  it('calls it a mismatch when Stripe holds more than was sent, or another last value', () => {
    // Act
    const rows = compare({ stripe: { api_calls: 50, active_users: 2, protected_files: 0 } });
    // Assess
    expect(brief(row(rows, 'api_calls'))).toEqual([42, 42, 50, 'mismatch', 'manual']);
    expect(brief(row(rows, 'active_users'))).toEqual([3, 3, 2, 'mismatch', 'manual']);
    expect(brief(row(rows, 'protected_files'))).toEqual([5, 5, 0, 'not_in_stripe', 'manual']);
  });

  it('names a customer without a Stripe customer only when there is something to bill', () => {
    // Act
    const unmapped = compare({ customer: { ...acme, stripeCustomerId: undefined }, ledger: [], stripe: undefined });
    const idle = compare({ customer: { ...acme, stripeCustomerId: undefined }, days: [], ledger: [], stripe: undefined });
    // Assess
    expect(unmapped.map((r) => [r.status, r.action, r.stripe])).toEqual(
      new Array(3).fill(['no_stripe_customer', 'set_stripe_customer', null]),
    );
    expect(idle.map((r) => r.status)).toEqual(['ok', 'ok', 'ok']);
  });

  it('explains a difference covered by a hold as held', () => {
    // Prepare
    const holds = [{ customerId: 'acme', meter: 'api_calls' as const, from: '2026-03-02', to: '2026-03-03' }];
    // Act
    const r = row(
      compare({
        holds,
        ledger: LEDGER.filter((x) => !(x.meter === 'api_calls' && x.day === '2026-03-02')),
        stripe: { ...AGREEING, api_calls: 40 },
      }),
      'api_calls',
    );
    // Assess
    expect([r.status, r.action]).toEqual(['held', 'none']);
  });

  it('still checks what was sent against Stripe while usage is held: a loss is repaired, a pending record resent', () => {
    // Prepare: 03-02 held; Stripe lost 10 of 03-01's 40 calls; another ledger has 03-01 still pending
    const holds = [{ customerId: 'acme', meter: 'api_calls' as const, from: '2026-03-02', to: '2026-03-03' }];
    const sentOnly = LEDGER.filter((x) => !(x.meter === 'api_calls' && x.day === '2026-03-02'));
    const pending = sentOnly.map((x) => (x.meter === 'api_calls' ? { ...x, state: 'pending' as const } : x));

    // Act
    const lost = row(compare({ holds, ledger: sentOnly, stripe: { ...AGREEING, api_calls: 30 } }), 'api_calls');
    const unsent = row(compare({ holds, ledger: pending, stripe: { ...AGREEING, api_calls: 0 } }), 'api_calls');

    // Assess
    expect(brief(lost)).toEqual([42, 40, 30, 'not_in_stripe', 'repair_lost']);
    expect(lost.note).toContain('also held back: 2026-03-02..2026-03-03');
    expect([unsent.status, unsent.action, unsent.resend.length]).toEqual(['unreported', 'resend', 1]);
  });

  it('shows Stripe as unknown and the row as a mismatch when Stripe could not be read', () => {
    // Act
    const rows = compare({ stripe: undefined, stripeError: 'No such customer' });
    // Assess
    expect(rows.map((r) => [r.stripe, r.status])).toEqual(new Array(3).fill([null, 'mismatch']));
    expect(rows[0]!.note).toContain('No such customer');
  });
});

describe('stripeWindow and sentDays', () => {
  it('reads a past period whole, the current one up to the minute, and a future one not at all', () => {
    // Act / Assess
    expect(stripeWindow(periodForKey('2026-02'), NOW)).toEqual({
      startSec: Date.parse('2026-02-01T00:00:00Z') / 1000,
      endSec: Date.parse('2026-03-01T00:00:00Z') / 1000,
    });
    expect(stripeWindow(MARCH, Date.parse('2026-03-10T12:34:56.789Z'))).toEqual({
      startSec: Date.parse('2026-03-01T00:00:00Z') / 1000,
      endSec: Date.parse('2026-03-10T12:34:00Z') / 1000,
    });
    expect(stripeWindow(periodForKey('2026-04'), NOW)).toBeUndefined();
  });

  it('names the days of the period a meter has sent something on', () => {
    // Act / Assess
    expect(
      sentDays([...LEDGER, rec('api_calls', '2026-03-05', 0, 1, 'pending'), rec('api_calls', '2026-02-27', 0, 1)], 'api_calls', MARCH),
    ).toEqual(['2026-03-01', '2026-03-02']);
  });
});

describe('planLostRepairs', () => {
  const input = {
    customerId: 'acme',
    meter: 'api_calls' as const,
    periodKey: '2026-03',
    ledger: [...LEDGER, rec('api_calls', '2026-03-01', 1, 5)],
    nowMs: NOW,
    runId: 'reconcile:x',
  };

  it("records the loss as a never-sent marker and sends it again as the day's next revision", () => {
    // Act: Stripe lost revision 0 of day 1 (40) but holds its correction (5).
    const plan = planLostRepairs({
      ...input,
      stripeByDay: new Map([
        ['2026-03-01', 5],
        ['2026-03-02', 2],
      ]),
    });
    // Assess
    expect(plan.unrepairable).toEqual([]);
    expect(plan.repairs).toHaveLength(1);
    const { marker, repair, lost } = plan.repairs[0]!;
    expect(lost).toBe(40);
    expect(marker).toMatchObject({
      day: '2026-03-01',
      revision: 2,
      value: -40,
      state: 'error',
      lastError: LOST_IN_STRIPE,
      identifier: 'srn:api:2026-03-01:r2:acme',
      runId: 'reconcile:x',
    });
    expect(repair).toMatchObject({
      day: '2026-03-01',
      revision: 3,
      value: 40,
      state: 'pending',
      identifier: 'srn:api:2026-03-01:r3:acme',
      timestamp: revisionTimestamp('2026-03-01', 3),
      eventName: 'serenity_api_calls',
    });
  });

  it('leaves the ledger so that the nightly close plans nothing and the statement matches Stripe after the repair', () => {
    // Prepare
    const days = [day('2026-03-01', 45, 2, 3), DAYS[1]!];
    const plan = planLostRepairs({
      ...input,
      stripeByDay: new Map([
        ['2026-03-01', 5],
        ['2026-03-02', 2],
      ]),
    });
    const { marker, repair } = plan.repairs[0]!;
    const ledger = [...input.ledger, marker, { ...repair, state: 'sent' as const, sentAt: new Date(NOW).toISOString() }];
    // Act
    const nightly = planReports({
      nowMs: NOW,
      customers: [{ customerId: 'acme', days: days.map((d) => ({ day: d.day, values: d.values })) }],
      ledger,
    });
    const statement = buildStatement({ customer: acme, period: MARCH, days, ledger });
    // Assess
    expect(nightly.events).toEqual([]);
    expect(statement.meters[0]!.reportedTotal).toBe(47);
    // Stripe after the repair: what it kept (5 + 2) plus the 40 re-sent.
    expect(
      compareCustomer({ customer: acme, period: MARCH, days, ledger, stripe: { ...AGREEING, api_calls: 47 }, nowMs: NOW })[0]!.status,
    ).toBe('ok');
  });

  it("does not repair a day Stripe holds more of, or one outside Stripe's window", () => {
    // Act
    const more = planLostRepairs({ ...input, stripeByDay: new Map([['2026-03-02', 3]]) });
    const old = planLostRepairs({ ...input, nowMs: Date.parse('2026-04-20T00:00:00Z'), stripeByDay: new Map([['2026-03-01', 0]]) });
    // Assess
    expect(more).toEqual({ repairs: [], unrepairable: [{ day: '2026-03-02', lost: -1, reason: 'stripe_holds_more' }] });
    expect(old).toEqual({ repairs: [], unrepairable: [{ day: '2026-03-01', lost: 45, reason: 'outside_stripe_window' }] });
  });

  it("does not repair a day whose billing period's invoice is final: Stripe would take the repair and bill it nowhere", () => {
    // Act: 2 April, within 35 days of 1 March but after March's invoice turned final (1 h grace), and with a 72 h grace
    const final = planLostRepairs({ ...input, nowMs: Date.parse('2026-04-02T00:00:00Z'), stripeByDay: new Map([['2026-03-01', 5]]) });
    const open = planLostRepairs({
      ...input,
      nowMs: Date.parse('2026-04-02T00:00:00Z'),
      invoiceGraceMs: 72 * 3_600_000,
      stripeByDay: new Map([['2026-03-01', 5]]),
    });

    // Assess
    expect(final).toEqual({ repairs: [], unrepairable: [{ day: '2026-03-01', lost: 40, reason: 'period_invoiced' }] });
    expect(open.repairs.map((r) => r.lost)).toEqual([40]);
  });

  it('refuses a last meter: its loss is not an amount', () => {
    // Act / Assess
    expect(() => planLostRepairs({ ...input, meter: 'active_users', stripeByDay: new Map() })).toThrow(/sum meters only/);
  });
});

describe('settleRecord', () => {
  it('marks a delivered record sent, keeps a transient failure pending and a permanent one in error', () => {
    // Prepare
    const r = rec('api_calls', '2026-03-02', 0, 2, 'pending', { attempts: 2, lastError: 'failed_transient: timeout', sentAt: undefined });
    // Act
    const sent = settleRecord(r, { identifier: r.identifier, outcome: 'delivered', attempts: 1, via: 'created' }, NOW);
    const again = settleRecord(
      r,
      { identifier: r.identifier, outcome: 'failed_transient', reason: 'server_error', message: 'boom', attempts: 3 },
      NOW,
    );
    const refused = settleRecord(
      r,
      { identifier: r.identifier, outcome: 'permanent', reason: 'unknown_customer', message: 'no', attempts: 1 },
      NOW,
    );
    // Assess
    expect([sent.state, sent.attempts, sent.sentAt, sent.lastError]).toEqual(['sent', 3, new Date(NOW).toISOString(), undefined]);
    expect([again.state, again.attempts, again.lastError]).toEqual(['pending', 5, 'failed_transient: server_error']);
    expect([refused.state, refused.lastError]).toEqual(['error', 'unknown_customer']);
  });
});
