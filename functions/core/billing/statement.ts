import { DAY_MS, utcDay } from '../../../contract/clock.js';
import { ValidationError } from '../../../contract/errors.js';
import { assertNever, METERS, type Meter } from '../../../contract/meters.js';
import { type BillingPeriod, daysInMonth, periodForKey } from '../close/billing-period.js';
import type { Customer, LedgerRecord, LedgerState, LedgerStore, RollupStore, StoredDay } from '../shared/ports.js';
import type { Hold } from './reporting-plan.js';
import { STRIPE_METERS } from './stripe-reporting.js';

/**
 * A customer's billing statement for one period and meter: what we metered (the nightly close's
 * rollups), what the ledger says we reported to Stripe and when, and that report aggregated the way
 * Stripe aggregates it, so finance can hold it against Stripe's own figure (`meter reconcile`).
 */

/**
 * `lastError` of a ledger record that `meter reconcile --fix` writes when Stripe lost usage it had
 * accepted: its value is the (negative) amount lost, it is never sent, and the nightly close does not
 * retry it. It keeps the ledger's sum of a day equal to what Stripe should hold after the repair.
 */
export const LOST_IN_STRIPE = 'lost_in_stripe';

/** One closed day of a meter. */
export interface DailyLine {
  day: string;
  /** What the day contributes to Stripe: the day's API calls; period-to-date users and protected files. */
  value: number;
  /** `last` meters only: the day's own figure (users active that day; the day's peak of protected files). */
  dayFigure?: number;
  computedAt: string;
}

/** One ledger record: a meter event reported (or to be reported) to Stripe. */
export interface ReportLine {
  identifier: string;
  day: string;
  revision: number;
  value: number;
  /** The meter event's timestamp, Unix seconds. */
  timestamp: number;
  state: LedgerState;
  sentAt?: string;
  lastError?: string;
  /** Stripe's refusal of it after accepting it (a `v1.billing.meter.*` webhook): reconcile lists these apart. */
  asyncError?: LedgerRecord['asyncError'];
  /** The nightly close run (or `reconcile:<id>`) that recorded it. */
  runId: string;
}

export interface MeterStatement {
  meter: Meter;
  eventName: string;
  formula: 'sum' | 'last';
  /** What we bill from the rollups: the sum of the days (`sum`), the latest closed day's value (`last`). */
  billed: number;
  /**
   * The ledger's reports aggregated as Stripe does: the sum of sent values (less usage recorded as lost
   * in Stripe) for `sum`; the value of the sent record with the latest timestamp for `last`.
   */
  reportedTotal: number;
  /** `billed - reportedTotal`: usage the ledger has not (yet) delivered. */
  unreported: number;
  daily: DailyLine[];
  /** Every ledger record of the period, by day then revision. */
  reports: ReportLine[];
  /** Late corrections: records with a revision above 0. */
  corrections: ReportLine[];
  pending: ReportLine[];
  /** Records Stripe refused or that could not be sent (`lost_in_stripe` markers excluded). */
  errors: ReportLine[];
  /** Usage Stripe accepted and later lost, as recorded by `meter reconcile --fix` (negative values). */
  lostInStripe: ReportLine[];
  /** Usage held back from Stripe in this period. The fraud review's holds fill it; empty until it records any. */
  held: Hold[];
}

export interface Statement {
  customer: { id: string; name?: string; stripeCustomerId?: string; anchorDay: number };
  period: BillingPeriod;
  /** The latest day the rollups hold for the period; null before its first close. */
  closedThrough: string | null;
  meters: MeterStatement[];
}

export interface StatementInput {
  customer: Customer;
  period: BillingPeriod;
  /** The customer's stored days; days outside the period are ignored. */
  days: readonly StoredDay[];
  /** The customer's ledger; records of days outside the period are ignored. */
  ledger: readonly LedgerRecord[];
  holds?: readonly Hold[];
}

/**
 * The billing period a statement or reconciliation names. `YYYY-MM` names a calendar month, and for a
 * customer with an anchor day also the period that *starts* in that month (anchor 15: `2026-03` is
 * `[2026-03-15, 2026-04-15)`); anchored customers also take the period's own key `YYYY-MM-DD`.
 * Problems are reported against the field `period`.
 * @example periodForStatement('2026-02', 31).key // '2026-02-28'
 */
export function periodForStatement(key: string | undefined, anchorDay?: number): BillingPeriod {
  const anchor = anchorDay ?? 1;
  if (!key) throw new ValidationError([{ field: 'period', message: `is required: YYYY-MM${anchor === 1 ? '' : ' or YYYY-MM-DD'}` }]);
  const month = /^(\d{4})-(0[1-9]|1[0-2])$/.exec(key);
  const wanted =
    month && anchor !== 1
      ? `${key}-${String(Math.min(anchor, daysInMonth(Number(month[1]), Number(month[2]) - 1))).padStart(2, '0')}`
      : key;
  try {
    return periodForKey(wanted, anchor);
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    throw new ValidationError(
      err.errors.map((e) => ({ field: 'period', message: e.message.replace(/^must be YYYY-MM-DD /, 'must be YYYY-MM or YYYY-MM-DD ') })),
    );
  }
}

/**
 * Builds a customer's statement for one period from their stored days and ledger (pure).
 * @example buildStatement({ customer, period: periodForStatement('2026-03'), days, ledger }).meters[0].billed
 */
export function buildStatement(input: StatementInput): Statement {
  const { customer, period } = input;
  const anchor = customer.anchorDay ?? 1;
  if (period.anchorDay !== anchor) {
    throw new ValidationError([
      { field: 'period', message: `was computed for anchor day ${period.anchorDay}, but ${customer.id} bills from day ${anchor}` },
    ]);
  }
  const inPeriod = (day: string) => day >= period.start.slice(0, 10) && day < period.end.slice(0, 10);
  const days = input.days.filter((d) => d.customerId === customer.id && inPeriod(d.day)).sort((a, b) => cmp(a.day, b.day));
  const ledger = input.ledger.filter((r) => r.customerId === customer.id && inPeriod(r.day));
  const latest = days.at(-1);
  const first = period.start.slice(0, 10);
  const end = period.end.slice(0, 10);
  const heldFor = (meter: Meter) =>
    (input.holds ?? []).filter((h) => h.customerId === customer.id && h.meter === meter && h.from < end && first < h.to);
  return {
    customer: {
      id: customer.id,
      ...(customer.name ? { name: customer.name } : {}),
      ...(customer.stripeCustomerId ? { stripeCustomerId: customer.stripeCustomerId } : {}),
      anchorDay: anchor,
    },
    period,
    closedThrough: latest?.day ?? null,
    meters: METERS.map((meter) =>
      meterStatement(
        meter,
        days,
        ledger.filter((r) => r.meter === meter),
        heldFor(meter),
      ),
    ),
  };
}

function meterStatement(meter: Meter, days: readonly StoredDay[], records: readonly LedgerRecord[], held: Hold[]): MeterStatement {
  const spec = STRIPE_METERS[meter];
  const reports = records.map(lineOf).sort((a, b) => cmp(a.day, b.day) || a.revision - b.revision);
  const billed = billedQuantity(meter, days);
  const reportedTotal = reportedTotalOf(spec.formula, reports);
  return {
    meter,
    eventName: spec.eventName,
    formula: spec.formula,
    billed,
    reportedTotal,
    unreported: billed - reportedTotal,
    daily: days.map((d) => ({ day: d.day, value: d.values[meter], ...dayFigure(meter, d), computedAt: d.computedAt })),
    reports,
    corrections: reports.filter((r) => r.revision > 0),
    pending: reports.filter((r) => r.state === 'pending'),
    errors: reports.filter((r) => r.state === 'error' && !isLostMarker(r)),
    lostInStripe: reports.filter(isLostMarker),
    held,
  };
}

/** What the rollups bill for a meter over the period's closed days (sorted by day). */
function billedQuantity(meter: Meter, days: readonly StoredDay[]): number {
  switch (meter) {
    case 'api_calls':
      return days.reduce((total, d) => total + d.values.api_calls, 0);
    case 'active_users':
    case 'protected_files':
      // Period-to-date values: the latest day already holds the whole period so far.
      return days.at(-1)?.values[meter] ?? 0;
    default:
      return assertNever(meter);
  }
}

function dayFigure(meter: Meter, d: StoredDay): { dayFigure?: number } {
  switch (meter) {
    case 'api_calls':
      return {};
    case 'active_users':
      return { dayFigure: d.activeUsers };
    case 'protected_files':
      return { dayFigure: d.files.peak };
    default:
      return assertNever(meter);
  }
}

/** The ledger's reports aggregated as Stripe aggregates the meter's events. */
export function reportedTotalOf(formula: 'sum' | 'last', reports: readonly ReportLine[]): number {
  switch (formula) {
    case 'sum':
      return reports.filter((r) => r.state === 'sent' || isLostMarker(r)).reduce((total, r) => total + r.value, 0);
    case 'last': {
      // Stripe keeps the value of the latest timestamp; revisions of a day are a second apart, so no ties.
      const sent = reports.filter((r) => r.state === 'sent').sort((a, b) => a.timestamp - b.timestamp || a.revision - b.revision);
      return sent.at(-1)?.value ?? 0;
    }
    default:
      return assertNever(formula);
  }
}

/** True for a record `meter reconcile --fix` wrote to account for usage Stripe lost. */
export function isLostMarker(r: Pick<LedgerRecord, 'state' | 'lastError'>): boolean {
  return r.state === 'error' && r.lastError === LOST_IN_STRIPE;
}

function lineOf(r: LedgerRecord): ReportLine {
  return {
    identifier: r.identifier,
    day: r.day,
    revision: r.revision,
    value: r.value,
    timestamp: r.timestamp,
    state: r.state,
    ...(r.sentAt ? { sentAt: r.sentAt } : {}),
    ...(r.lastError ? { lastError: r.lastError } : {}),
    ...(r.asyncError ? { asyncError: r.asyncError } : {}),
    runId: r.runId,
  };
}

/** Reads what a statement needs through the ports and builds it; `periodKey` as `periodForStatement` takes it. */
export async function loadStatement(
  customer: Customer,
  periodKey: string | undefined,
  stores: { rollups: Pick<RollupStore, 'getDays'>; ledger: Pick<LedgerStore, 'entries'> },
  holds: readonly Hold[] = [],
): Promise<Statement> {
  const period = periodForStatement(periodKey, customer.anchorDay);
  const [days, ledger] = await Promise.all([
    stores.rollups.getDays(customer.id, period.start.slice(0, 10), lastDayOf(period)),
    stores.ledger.entries(customer.id),
  ]);
  return buildStatement({ customer, period, days, ledger, holds });
}

/** The last UTC day of a period, `YYYY-MM-DD`. */
export function lastDayOf(period: BillingPeriod): string {
  return utcDay(Date.parse(period.end) - DAY_MS);
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
