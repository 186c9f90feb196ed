import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HOUR_MS } from '../../../../contract/clock.js';
import { METERS, type Meter } from '../../../../contract/meters.js';
import { type PeriodCloseInput, periodClose, periodDeadline } from '../../../../functions/core/billing/period-close.js';
import type { Hold } from '../../../../functions/core/billing/reporting-plan.js';
import { periodForKey } from '../../../../functions/core/close/billing-period.js';
import type { Customer, LedgerRecord, LedgerState, StoredDay } from '../../../../functions/core/shared/ports.js';
import { ledgerRecord } from '../../../fakes/ledger.js';

const acme: Customer = { id: 'acme', stripeCustomerId: 'cus_acme', createdAt: '2026-01-01T00:00:00Z', updatedAt: '2026-01-01T00:00:00Z' };
const MARCH = periodForKey('2026-03');
/** While March is open, after its tenth day closed. */
const OPEN = Date.parse('2026-03-11T12:00:00Z');
/** After March's invoice turned final (its end plus an hour's grace), still inside Stripe's 35 days of its last days. */
const INVOICED = Date.parse('2026-04-02T12:00:00Z');
const SENT_AT = '2026-03-05T00:31:00.000Z';
const dayOf = (i: number) => `2026-03-${String(i + 1).padStart(2, '0')}`;

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

const rec = (meter: Meter, d: string, revision: number, value: number, state: LedgerState, extra: Partial<LedgerRecord> = {}) =>
  ledgerRecord(meter, d, revision, value, state, { periodKey: '2026-03', createdAt: SENT_AT, sentAt: SENT_AT }, extra);

const close = (over: Partial<PeriodCloseInput>) =>
  periodClose({ customer: acme, period: MARCH, days: [], ledger: [], nowMs: OPEN, invoiceGraceMs: HOUR_MS, ...over });

/** Up to ten closed days of March: API calls per day, active users and protected files period to date. */
const daysArb = fc
  .array(fc.record({ calls: fc.nat(1_000), newUsers: fc.nat(5), files: fc.nat(50) }), { minLength: 1, maxLength: 10 })
  .map((xs) => {
    let users = 0;
    return xs.map((x, i) => {
      users += x.newUsers;
      return day(dayOf(i), x.calls, users, x.files);
    });
  });

/** Per day and meter: nothing recorded, or one revision of at most the day's value, in some state. */
const coverageArb = fc.array(
  fc.record({
    share: fc.double({ min: 0, max: 1, noNaN: true }),
    state: fc.constantFrom<'none' | 'sent' | 'pending' | 'refused' | 'resendable' | 'invoiced'>(
      'none',
      'sent',
      'pending',
      'refused',
      'resendable',
      'invoiced',
    ),
  }),
  { minLength: 30, maxLength: 30 },
);

function ledgerOf(days: readonly StoredDay[], coverage: readonly { share: number; state: string }[]): LedgerRecord[] {
  return days.flatMap((d, i) =>
    METERS.flatMap((meter, mi) => {
      const c = coverage[(i * 3 + mi) % coverage.length]!;
      const value = Math.floor(d.values[meter] * c.share);
      switch (c.state) {
        case 'sent':
          return [rec(meter, d.day, 0, value, 'sent')];
        case 'pending':
          return [rec(meter, d.day, 0, value, 'pending')];
        case 'refused':
          return [rec(meter, d.day, 0, value, 'error', { lastError: 'invalid_request' })];
        case 'resendable':
          return [rec(meter, d.day, 0, value, 'error', { lastError: 'no_stripe_customer' })];
        case 'invoiced':
          return [rec(meter, d.day, 0, value, 'error', { lastError: 'period_invoiced' })];
        default:
          return [];
      }
    }),
  );
}

const holdArb = fc.option(
  fc.record({ meter: fc.constantFrom(...METERS), from: fc.integer({ min: 0, max: 9 }), length: fc.integer({ min: 1, max: 5 }) }),
  { nil: undefined },
);
const holdsOf = (h: { meter: Meter; from: number; length: number } | undefined): Hold[] =>
  h ? [{ customerId: 'acme', meter: h.meter, from: dayOf(h.from), to: dayOf(h.from + h.length) }] : [];

describe('periodClose', () => {
  it('accounts every metered unit: difference = metered - reported - held - unreportable, ok exactly when it is 0', () => {
    fc.assert(
      fc.property(daysArb, coverageArb, holdArb, fc.constantFrom(OPEN, INVOICED), (days, coverage, hold, nowMs) => {
        // Act
        const rows = close({ days, ledger: ledgerOf(days, coverage), holds: holdsOf(hold), nowMs });
        // Assess
        expect(rows.map((r) => r.meter)).toEqual([...METERS]);
        for (const r of rows) {
          expect(r.difference).toBe(r.metered - r.reported - r.held - r.unreportable);
          expect(r.status === 'ok').toBe(r.difference === 0);
          expect(r.inStripe).toBeNull();
        }
      }),
    );
  });

  it('never counts more reported, held and unreportable API calls than were metered, while the ledger holds no more than the days', () => {
    fc.assert(
      fc.property(daysArb, coverageArb, holdArb, fc.constantFrom(OPEN, INVOICED), (days, coverage, hold, nowMs) => {
        // Act
        const api = close({ days, ledger: ledgerOf(days, coverage), holds: holdsOf(hold), nowMs })[0]!;
        // Assess
        expect(api.held).toBeGreaterThanOrEqual(0);
        expect(api.unreportable).toBeGreaterThanOrEqual(0);
        expect(api.reported + api.held + api.unreportable).toBeLessThanOrEqual(api.metered);
        expect(api.difference).toBeGreaterThanOrEqual(0);
      }),
    );
  });

  it('finds nothing to do when the close reported every day in full, whatever the values', () => {
    fc.assert(
      fc.property(daysArb, (days) => {
        // Prepare: what the nightly close sends, day by day: the day's calls, the period-to-date users and files
        const ledger = days.flatMap((d) => METERS.map((m) => rec(m, d.day, 0, d.values[m], 'sent')));
        // Act
        const rows = close({ days, ledger });
        // Assess
        expect(rows.map((r) => [r.reported, r.difference, r.status])).toEqual(rows.map((r) => [r.metered, 0, 'ok']));
      }),
    );
  });

  it('shows usage closed after the invoice deadline as unreportable, and held usage as held, neither as a difference', () => {
    fc.assert(
      fc.property(daysArb, fc.constantFrom(...METERS), (days, heldMeter) => {
        // Act
        const late = close({ days, nowMs: INVOICED });
        const held = close({ days, holds: [{ customerId: 'acme', meter: heldMeter, from: '2026-03-01', to: '2026-04-01' }] });
        // Assess
        expect(late.map((r) => [r.unreportable, r.difference])).toEqual(late.map((r) => [r.metered, 0]));
        const heldRow = held.find((r) => r.meter === heldMeter)!;
        expect([heldRow.held, heldRow.difference, heldRow.status]).toEqual([heldRow.metered, 0, 'ok']);
        for (const r of held.filter((x) => x.meter !== heldMeter)) expect([r.held, r.difference]).toEqual([0, r.metered]);
      }),
    );
  });

  it('names the cause of a difference: not yet planned, waiting to be sent, refused', () => {
    // Prepare
    const days = [day('2026-03-01', 40, 2, 3), day('2026-03-02', 2, 3, 5)];
    const ledger = [
      rec('api_calls', '2026-03-01', 0, 40, 'pending'),
      rec('active_users', '2026-03-02', 0, 3, 'error', { lastError: 'invalid_request' }),
    ];
    // Act
    const rows = close({ days, ledger, stripe: { api_calls: 0, active_users: 0 } });
    // Assess
    expect(rows.map((r) => [r.meter, r.metered, r.reported, r.inStripe, r.difference, r.status])).toEqual([
      ['api_calls', 42, 0, 0, 42, 'unsent'],
      ['active_users', 3, 0, 0, 3, 'refused'],
      ['protected_files', 5, 0, null, 5, 'unplanned'],
    ]);
  });

  it('counts a record the close settled as period_invoiced as unreportable, and gives the period deadline on each row', () => {
    // Prepare
    const days = [day('2026-03-31', 7, 1, 1)];
    const ledger = [rec('api_calls', '2026-03-31', 0, 7, 'error', { lastError: 'period_invoiced' })];
    // Act
    const [api] = close({ days, ledger, nowMs: INVOICED, invoiceGraceMs: 3 * HOUR_MS });
    // Assess
    expect([api!.unreportable, api!.difference, api!.status, api!.deadline]).toEqual([7, 0, 'ok', '2026-04-01T03:00:00.000Z']);
    expect(periodDeadline(MARCH, HOUR_MS)).toBe('2026-04-01T01:00:00.000Z');
  });

  it('tells a customer without a Stripe customer apart', () => {
    // Act
    const [api] = close({ customer: { ...acme, stripeCustomerId: undefined }, days: [day('2026-03-01', 5, 0, 0)] });
    // Assess
    expect([api!.difference, api!.status]).toEqual([5, 'no_stripe_customer']);
  });
});
