import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../../contract/errors.js';
import type { Meter } from '../../../../contract/meters.js';
import {
  type CustomerUsage,
  DEFAULT_WINDOW_MARGIN_MS,
  type Hold,
  type LedgerEntry,
  type PlannedEvent,
  planReports,
  type ReportingPlanInput,
  revisionTimestamp,
} from '../../../../functions/core/billing/reporting-plan.js';
import { meterEventIdentifier, STRIPE_METERS } from '../../../../functions/core/billing/stripe-reporting.js';
import { periodContaining } from '../../../../functions/core/close/billing-period.js';

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
const sec = (iso: string) => Date.parse(iso) / 1000;
/** The night after `day`: 01:00 UTC of the next day. */
const nightAfter = (day: string) => Date.parse(`${day}T00:00:00Z`) + DAY_MS + 3_600_000;
const acme = (days: CustomerUsage['days'], anchorDay?: number): CustomerUsage => ({
  customerId: 'acme',
  ...(anchorDay ? { anchorDay } : {}),
  days,
});
const led = (meter: Meter, day: string, revision: number, value: number, customerId = 'acme'): LedgerEntry => ({
  customerId,
  meter,
  day,
  revision,
  value,
});
const brief = (events: PlannedEvent[]) => events.map((e) => [e.meter, e.day, e.revision, e.value]);
/** What the nightly close does after sending: the planned events join the ledger. */
const record = (ledger: LedgerEntry[], events: PlannedEvent[]) => [
  ...ledger,
  ...events.map((e) => led(e.meter, e.day, e.revision, e.value, e.customerId)),
];

describe('planReports: first report of a day', () => {
  it('plans revision 0 of each meter with its Stripe name, identifier and a timestamp in the day', () => {
    // Prepare
    const input: ReportingPlanInput = {
      nowMs: nightAfter('2026-03-09'),
      customers: [acme([{ day: '2026-03-09', values: { api_calls: 120, active_users: 7, protected_files: 3 } }])],
      ledger: [],
    };
    // Act
    const plan = planReports(input);
    // Assess
    expect(plan.events).toEqual([
      {
        customerId: 'acme',
        meter: 'api_calls',
        eventName: 'serenity_api_calls',
        day: '2026-03-09',
        revision: 0,
        value: 120,
        timestamp: sec('2026-03-09T23:00:00Z'),
        identifier: 'srn:api:2026-03-09:r0:acme',
      },
      {
        customerId: 'acme',
        meter: 'active_users',
        eventName: 'serenity_active_users',
        day: '2026-03-09',
        revision: 0,
        value: 7,
        timestamp: sec('2026-03-09T23:00:00Z'),
        identifier: 'srn:users:2026-03-09:r0:acme',
      },
      {
        customerId: 'acme',
        meter: 'protected_files',
        eventName: 'serenity_protected_files',
        day: '2026-03-09',
        revision: 0,
        value: 3,
        timestamp: sec('2026-03-09T23:00:00Z'),
        identifier: 'srn:files:2026-03-09:r0:acme',
      },
    ]);
    expect(plan.unreportable).toEqual([]);
    expect(plan.deferred).toEqual([]);
  });

  it('sends nothing for zero when nothing was reported (Stripe already bills 0)', () => {
    // Act
    const plan = planReports({
      nowMs: nightAfter('2026-03-09'),
      customers: [acme([{ day: '2026-03-09', values: { api_calls: 0, active_users: 0, protected_files: 0 } }])],
      ledger: [],
    });
    // Assess
    expect(plan.events).toEqual([]);
  });
});

describe('planReports: sum meter corrections', () => {
  it.each([
    {
      name: 'late events raise the total',
      ledger: [led('api_calls', '2026-03-09', 0, 120)],
      total: 125,
      expected: [['api_calls', '2026-03-09', 1, 5]],
    },
    {
      name: 'a lower total sends a negative delta',
      ledger: [led('api_calls', '2026-03-09', 0, 120), led('api_calls', '2026-03-09', 1, 5)],
      total: 100,
      expected: [['api_calls', '2026-03-09', 2, -25]],
    },
    {
      name: 'a total back to zero retracts all',
      ledger: [led('api_calls', '2026-03-09', 0, 120)],
      total: 0,
      expected: [['api_calls', '2026-03-09', 1, -120]],
    },
    {
      name: 'the ledger already complete plans nothing',
      ledger: [led('api_calls', '2026-03-09', 0, 120), led('api_calls', '2026-03-09', 1, 5)],
      total: 125,
      expected: [],
    },
    {
      name: 'a repeated ledger record is counted once',
      ledger: [led('api_calls', '2026-03-09', 0, 120), led('api_calls', '2026-03-09', 0, 120)],
      total: 120,
      expected: [],
    },
  ])('$name', ({ ledger, total, expected }) => {
    // Act: three nights later
    const plan = planReports({
      nowMs: nightAfter('2026-03-12'),
      customers: [acme([{ day: '2026-03-09', values: { api_calls: total } }])],
      ledger,
    });
    // Assess
    expect(brief(plan.events)).toEqual(expected);
    for (const e of plan.events) expect(e.timestamp).toBe(sec('2026-03-09T23:00:00Z') + e.revision);
  });

  it('another customer’s and another day’s ledger entries do not count', () => {
    // Prepare
    const ledger = [led('api_calls', '2026-03-09', 0, 50, 'other'), led('api_calls', '2026-03-08', 0, 50)];
    // Act
    const plan = planReports({
      nowMs: nightAfter('2026-03-09'),
      customers: [acme([{ day: '2026-03-09', values: { api_calls: 50 } }])],
      ledger,
    });
    // Assess
    expect(brief(plan.events)).toEqual([['api_calls', '2026-03-09', 0, 50]]);
  });
});

describe('planReports: last meters', () => {
  it.each([
    {
      name: 'unchanged period-to-date value on a new day sends nothing',
      ledger: [led('active_users', '2026-03-10', 0, 7)],
      day: '2026-03-11',
      value: 7,
      expected: [],
    },
    {
      name: 'a higher value on a new day sends revision 0 of that day',
      ledger: [led('active_users', '2026-03-10', 0, 7)],
      day: '2026-03-11',
      value: 9,
      expected: [['active_users', '2026-03-11', 0, 9]],
    },
    {
      name: 'a late user in a reported day sends its next revision',
      ledger: [led('active_users', '2026-03-10', 0, 7)],
      day: '2026-03-10',
      value: 8,
      expected: [['active_users', '2026-03-10', 1, 8]],
    },
    {
      name: 'the newest revision decides what Stripe holds',
      ledger: [led('active_users', '2026-03-10', 0, 7), led('active_users', '2026-03-10', 1, 8)],
      day: '2026-03-10',
      value: 8,
      expected: [],
    },
    {
      name: 'a later day of the ledger outranks an earlier one',
      ledger: [led('active_users', '2026-03-10', 0, 7), led('active_users', '2026-03-09', 3, 99)],
      day: '2026-03-11',
      value: 7,
      expected: [],
    },
    {
      name: 'a lower value is sent too (a late unprotect lowered a peak)',
      ledger: [led('active_users', '2026-03-10', 0, 7)],
      day: '2026-03-11',
      value: 0,
      expected: [['active_users', '2026-03-11', 0, 0]],
    },
  ])('$name', ({ ledger, day, value, expected }) => {
    // Act
    const plan = planReports({ nowMs: nightAfter('2026-03-11'), customers: [acme([{ day, values: { active_users: value } }])], ledger });
    // Assess
    expect(brief(plan.events)).toEqual(expected);
  });

  it('only the latest supplied day of a period is sent; earlier days supplied with it are ignored', () => {
    // Act
    const plan = planReports({
      nowMs: nightAfter('2026-03-11'),
      customers: [
        acme([
          { day: '2026-03-10', values: { protected_files: 4 } },
          { day: '2026-03-11', values: { protected_files: 6 } },
          { day: '2026-03-09', values: { protected_files: 2 } },
        ]),
      ],
      ledger: [],
    });
    // Assess
    expect(brief(plan.events)).toEqual([['protected_files', '2026-03-11', 0, 6]]);
  });

  it('a late revision is newer than every earlier one of its period and stays inside the period', () => {
    // Prepare: Jan 31 already holds revision 0 and 1; Feb 1 is the first day of the next period
    const ledger = [led('protected_files', '2026-01-31', 0, 50), led('protected_files', '2026-01-31', 1, 51)];
    // Act
    const plan = planReports({
      nowMs: nightAfter('2026-02-01'),
      customers: [
        acme([
          { day: '2026-01-31', values: { protected_files: 49 } },
          { day: '2026-02-01', values: { protected_files: 51 } },
        ]),
      ],
      ledger,
      // January's invoice is still open: the account's grace period is Stripe's longest, 72 hours.
      invoiceGraceMs: 72 * HOUR_MS,
    });
    // Assess: February starts afresh, so 51 is sent although January's newest value is 51 too
    expect(brief(plan.events)).toEqual([
      ['protected_files', '2026-01-31', 2, 49],
      ['protected_files', '2026-02-01', 0, 51],
    ]);
    const [jan, feb] = plan.events;
    expect(jan!.timestamp).toBe(sec('2026-01-31T23:00:02Z'));
    expect(jan!.timestamp).toBeGreaterThan(revisionTimestamp('2026-01-31', 1));
    expect(jan!.timestamp).toBeLessThan(sec('2026-02-01T00:00:00Z'));
    expect(feb!.timestamp).toBe(sec('2026-02-01T23:00:00Z'));
  });

  it('follows an anchored billing period', () => {
    // Prepare: anchor 15; Mar 14 closes the period started Feb 15, Mar 15 opens a new one
    const ledger = [led('active_users', '2026-03-14', 0, 30)];
    // Act
    const plan = planReports({
      nowMs: nightAfter('2026-03-15'),
      customers: [acme([{ day: '2026-03-15', values: { active_users: 30 } }], 15)],
      ledger,
    });
    // Assess
    expect(brief(plan.events)).toEqual([['active_users', '2026-03-15', 0, 30]]);
  });

  it('refuses a period whose ledger is ahead of the supplied days (the ptd would be stale)', () => {
    // Act / Assess
    expect(() =>
      planReports({
        nowMs: nightAfter('2026-03-11'),
        customers: [acme([{ day: '2026-03-05', values: { active_users: 3, api_calls: 1 } }])],
        ledger: [led('active_users', '2026-03-10', 0, 7)],
      }),
    ).toThrow(/must be supplied/);
  });
});

describe('planReports: Stripe’s 35-day window', () => {
  // With periods of at most 31 days and a grace of at most 72 hours, a period's invoice is final before
  // its first day is 35 days old; a longer grace than Stripe allows reaches the window check on its own.
  const LONG_GRACE = 40 * DAY_MS;
  // Revision 0 of 2026-03-09 is stamped 2026-03-09T23:00:00Z; it may be sent while it is at most 35 days minus the margin old.
  const edge = Date.parse('2026-03-09T23:00:00Z') + 35 * DAY_MS - DEFAULT_WINDOW_MARGIN_MS;
  it.each([
    { name: 'inside the window', nowMs: edge, planned: 1, unreportable: 0 },
    { name: 'one second too late', nowMs: edge + 1000, planned: 0, unreportable: 1 },
  ])('$name', ({ nowMs, planned, unreportable }) => {
    // Act
    const plan = planReports({
      nowMs,
      customers: [acme([{ day: '2026-03-09', values: { api_calls: 5, active_users: 2 } }])],
      ledger: [],
      invoiceGraceMs: LONG_GRACE,
    });
    // Assess
    expect(plan.events.filter((e) => e.meter === 'api_calls')).toHaveLength(planned);
    expect(plan.unreportable.filter((u) => u.meter === 'api_calls')).toHaveLength(unreportable);
    expect(plan.events.length + plan.unreportable.length).toBe(2);
  });

  it('lists an old correction with its reason instead of planning it', () => {
    // Act
    const plan = planReports({
      nowMs: nightAfter('2026-04-20'),
      customers: [acme([{ day: '2026-03-09', values: { api_calls: 130 } }])],
      ledger: [led('api_calls', '2026-03-09', 0, 120)],
      invoiceGraceMs: LONG_GRACE,
    });
    // Assess
    expect(plan.events).toEqual([]);
    expect(plan.unreportable).toMatchObject([
      { customerId: 'acme', meter: 'api_calls', day: '2026-03-09', revision: 1, value: 10, reason: 'outside_stripe_window' },
    ]);
  });

  it('lists a correction for a period whose invoice is final, instead of sending what Stripe would bill nowhere', () => {
    // Prepare: 2026-03-31 reported; 5 more calls for it arrive after March's invoice turned final
    const ledger = [led('api_calls', '2026-03-31', 0, 100)];
    const late = { customers: [acme([{ day: '2026-03-31', values: { api_calls: 105 } }])], ledger };

    // Act: at 00:30 on 1 April (inside the default one-hour grace), and at 01:30 (after it)
    const inGrace = planReports({ ...late, nowMs: Date.parse('2026-04-01T00:30:00Z') });
    const after = planReports({ ...late, nowMs: Date.parse('2026-04-01T01:30:00Z') });
    const longerGrace = planReports({ ...late, nowMs: Date.parse('2026-04-01T01:30:00Z'), invoiceGraceMs: 72 * HOUR_MS });

    // Assess
    expect(brief(inGrace.events)).toEqual([['api_calls', '2026-03-31', 1, 5]]);
    expect(after.events).toEqual([]);
    expect(after.unreportable).toMatchObject([{ meter: 'api_calls', day: '2026-03-31', revision: 1, value: 5, reason: 'period_invoiced' }]);
    expect(brief(longerGrace.events)).toEqual([['api_calls', '2026-03-31', 1, 5]]);
  });

  it('lists a value of more than 15 digits (Stripe refuses them) instead of planning it, and plans 15', () => {
    // Act
    const plan = planReports({
      nowMs: nightAfter('2026-03-09'),
      customers: [acme([{ day: '2026-03-09', values: { api_calls: 1_234_567_890_123_456, active_users: 999_999_999_999_999 } }])],
      ledger: [],
    });
    // Assess
    expect(brief(plan.events)).toEqual([['active_users', '2026-03-09', 0, 999_999_999_999_999]]);
    expect(plan.unreportable).toMatchObject([
      { meter: 'api_calls', day: '2026-03-09', revision: 0, value: 1_234_567_890_123_456, reason: 'value_too_many_digits' },
    ]);
  });

  it('lists a day out of revisions', () => {
    // Act
    const plan = planReports({
      nowMs: nightAfter('2026-03-09'),
      customers: [acme([{ day: '2026-03-09', values: { api_calls: 2 } }])],
      ledger: [led('api_calls', '2026-03-09', 3599, 1)],
    });
    // Assess
    expect(plan.unreportable).toMatchObject([{ revision: 3600, value: 1, reason: 'revision_limit' }]);
  });
});

describe('planReports: holds', () => {
  const days = [
    { day: '2026-03-09', values: { api_calls: 10, active_users: 4 } },
    { day: '2026-03-10', values: { api_calls: 20, active_users: 6 } },
    { day: '2026-03-11', values: { api_calls: 30, active_users: 9 } },
  ];
  const ledger = [led('api_calls', '2026-03-08', 0, 5), led('active_users', '2026-03-08', 0, 2)];
  const hold = (meter: Meter, from: string, to: string): Hold => ({ customerId: 'acme', meter, from, to });

  it('a held sum day is deferred, the others are planned', () => {
    // Act
    const plan = planReports({
      nowMs: nightAfter('2026-03-11'),
      customers: [acme(days)],
      ledger,
      held: [hold('api_calls', '2026-03-10', '2026-03-11')],
    });
    // Assess
    expect(brief(plan.events)).toEqual([
      ['api_calls', '2026-03-09', 0, 10],
      ['api_calls', '2026-03-11', 0, 30],
      ['active_users', '2026-03-11', 0, 9],
    ]);
    expect(plan.deferred).toMatchObject([{ meter: 'api_calls', day: '2026-03-10', reason: 'held' }]);
  });

  it('a hold on an earlier day of the period defers the last meter, so no held value leaks into the ptd', () => {
    // Act
    const plan = planReports({
      nowMs: nightAfter('2026-03-11'),
      customers: [acme(days)],
      ledger,
      held: [hold('active_users', '2026-03-09', '2026-03-10')],
    });
    // Assess
    expect(plan.events.filter((e) => e.meter === 'active_users')).toEqual([]);
    expect(plan.deferred).toMatchObject([{ meter: 'active_users', day: '2026-03-11', reason: 'held' }]);
    expect(plan.events.filter((e) => e.meter === 'api_calls')).toHaveLength(3);
  });

  it('a hold in the previous period or on another customer does not defer this period', () => {
    // Act
    const plan = planReports({
      nowMs: nightAfter('2026-03-11'),
      customers: [acme(days)],
      ledger,
      held: [
        hold('active_users', '2026-02-20', '2026-03-01'),
        { customerId: 'other', meter: 'active_users', from: '2026-03-01', to: '2026-04-01' },
      ],
    });
    // Assess
    expect(brief(plan.events.filter((e) => e.meter === 'active_users'))).toEqual([['active_users', '2026-03-11', 0, 9]]);
    expect(plan.deferred).toEqual([]);
  });

  it('after the release the run plans what the hold kept back', () => {
    // Prepare: a night under the hold, its events recorded
    const held = [hold('api_calls', '2026-03-10', '2026-03-11'), hold('active_users', '2026-03-10', '2026-03-11')];
    const first = planReports({ nowMs: nightAfter('2026-03-11'), customers: [acme(days)], ledger, held });
    // Act
    const released = planReports({ nowMs: nightAfter('2026-03-12'), customers: [acme(days)], ledger: record(ledger, first.events) });
    // Assess
    expect(brief(released.events)).toEqual([
      ['api_calls', '2026-03-10', 0, 20],
      ['active_users', '2026-03-11', 0, 9],
    ]);
    expect(released.deferred).toEqual([]);
  });
});

describe('planReports: validation', () => {
  it('reports every problem at once', () => {
    // Prepare
    const input = {
      nowMs: nightAfter('2026-03-09'),
      customers: [
        acme([
          { day: '2026-03-10', values: { api_calls: 1 } },
          { day: '2026-02-30', values: { api_calls: -1, bogus: 1 } as never },
        ]),
      ],
      ledger: [led('api_calls', '2026-03-01', 0, 4), led('api_calls', '2026-03-01', 0, 5)],
      held: [{ customerId: 'acme', meter: 'api_calls' as const, from: '2026-03-05', to: '2026-03-05' }],
    };
    // Act / Assess
    try {
      planReports(input);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ValidationError);
      expect((err as ValidationError).errors.map((e) => e.field)).toEqual([
        'customers[0].days[0].day', // not closed yet
        'customers[0].days[1].day',
        'customers[0].days[1].values.api_calls',
        'customers[0].days[1].values.bogus',
        'ledger[1]',
        'held[0].to',
      ]);
    }
  });
});

// A customer over 5 days across a month boundary; each night closes one more day and may re-supply
// earlier days with other values (late events, repairs). The ledger records what each night planned.
// The account's invoice grace is 72 hours (Stripe's longest), so January's invoice stays open throughout.
const DAYS = ['2026-01-29', '2026-01-30', '2026-01-31', '2026-02-01', '2026-02-02'];
const nightsArb = fc.array(fc.array(fc.tuple(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 50 })), { maxLength: 6 }), {
  minLength: 1,
  maxLength: 5,
});

describe('properties', () => {
  it('sum meter: after any nights of totals and corrections, Stripe’s sum per day equals the final total, and a rerun plans nothing', () => {
    fc.assert(
      fc.property(nightsArb, (nights) => {
        // Prepare
        let ledger: LedgerEntry[] = [];
        const finalTotal = new Map<string, number>();
        let input: ReportingPlanInput | undefined;
        for (const [k, supplied] of nights.entries()) {
          const closed = DAYS.slice(0, k + 1);
          const totals = new Map<string, number>();
          for (const [d, v] of supplied) if (d < closed.length) totals.set(DAYS[d]!, v);
          for (const [day, v] of totals) finalTotal.set(day, v);
          input = {
            nowMs: nightAfter(closed.at(-1)!),
            customers: [acme([...totals].map(([day, v]) => ({ day, values: { api_calls: v } })))],
            ledger,
            invoiceGraceMs: 72 * HOUR_MS,
          };
          // Act
          const plan = planReports(input);
          ledger = record(ledger, plan.events);
          // Assess: every planned event is valid for Stripe
          for (const e of plan.events) {
            expect(e.value).not.toBe(0);
            expect(e.identifier).toBe(meterEventIdentifier(e));
            expect(e.timestamp * 1000).toBeGreaterThanOrEqual(Date.parse(`${e.day}T00:00:00Z`));
            expect(e.timestamp * 1000).toBeLessThan(Math.min(Date.parse(`${e.day}T00:00:00Z`) + DAY_MS, input.nowMs));
          }
        }
        for (const day of DAYS) {
          const stripeSum = ledger.filter((e) => e.day === day).reduce((s, e) => s + e.value, 0);
          expect(stripeSum).toBe(finalTotal.get(day) ?? 0);
        }
        const identifiers = ledger.map((e) => meterEventIdentifier({ ...e, customerId: 'acme' }));
        expect(new Set(identifiers).size).toBe(identifiers.length);
        expect(planReports({ ...input!, ledger }).events).toEqual([]);
      }),
    );
  });

  it('last meter: the newest event of each period (what Stripe bills) equals the final period-to-date value', () => {
    fc.assert(
      fc.property(nightsArb, (nights) => {
        // Prepare
        let ledger: LedgerEntry[] = [];
        const sent: PlannedEvent[] = [];
        const finalPtd = new Map<string, number>();
        let input: ReportingPlanInput | undefined;
        for (const [k, supplied] of nights.entries()) {
          const closed = DAYS.slice(0, k + 1);
          const values = new Map<string, number>();
          for (const [d, v] of supplied) if (d < closed.length) values.set(DAYS[d]!, v);
          // the latest closed day of each period touched is always supplied (a value from the last pair, or 0)
          const periodOf = (day: string) => periodContaining(Date.parse(`${day}T00:00:00Z`)).key;
          for (const p of new Set([...values.keys(), closed.at(-1)!].map(periodOf))) {
            const latest = closed.filter((d) => periodOf(d) === p).at(-1)!;
            if (!values.has(latest)) values.set(latest, supplied.at(-1)?.[1] ?? 0);
            finalPtd.set(p, values.get(latest)!);
          }
          input = {
            nowMs: nightAfter(closed.at(-1)!),
            customers: [acme([...values].map(([day, v]) => ({ day, values: { active_users: v } })))],
            ledger,
            invoiceGraceMs: 72 * HOUR_MS,
          };
          // Act
          const plan = planReports(input);
          // Assess: each event is newer than everything already sent for its period
          for (const e of plan.events) {
            const before = sent.filter((s) => periodOf(s.day) === periodOf(e.day));
            for (const s of before) expect(e.timestamp).toBeGreaterThan(s.timestamp);
          }
          sent.push(...plan.events);
          ledger = record(ledger, plan.events);
        }
        for (const [p, value] of finalPtd) {
          const inPeriod = sent.filter((e) => e.day.startsWith(p)).sort((a, b) => a.timestamp - b.timestamp);
          expect(inPeriod.at(-1)?.value ?? 0).toBe(value);
        }
        expect(planReports({ ...input!, ledger }).events).toEqual([]);
      }),
    );
  });
});

it('event names come from the one Stripe meter definition', () => {
  // Act
  const plan = planReports({
    nowMs: nightAfter('2026-03-09'),
    customers: [acme([{ day: '2026-03-09', values: { api_calls: 1, active_users: 1, protected_files: 1 } }])],
    ledger: [],
  });
  // Assess
  expect(plan.events.map((e) => e.eventName)).toEqual(plan.events.map((e) => STRIPE_METERS[e.meter].eventName));
});
