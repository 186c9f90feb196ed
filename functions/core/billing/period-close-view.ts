import { HOUR_MS } from '../../../contract/clock.js';
import { ValidationError } from '../../../contract/errors.js';
import { METERS, type Meter } from '../../../contract/meters.js';
import { type HoldPolicy, holdsFromFlags } from '../fraud/holds.js';
import type { Customer, FlagStore, LedgerStore, Log, RollupStore } from '../shared/ports.js';
import { type PeriodRow, periodClose, periodDeadline } from './period-close.js';
import { stripeWindow } from './reconcile.js';
import type { StripeAccess } from './reconcile-period.js';
import { lastDayOf, periodForStatement } from './statement.js';

/** What the period close reads: the stores, the billing policy, the clock and, when configured, Stripe. */
export interface PeriodCloseDeps {
  rollups: Pick<RollupStore, 'getDays'>;
  ledger: Pick<LedgerStore, 'entries'>;
  flags: Pick<FlagStore, 'forCustomer'>;
  clock: { now(): number };
  config: { holdSeverities: HoldPolicy['holdSeverities']; invoiceGraceHours: number };
  /** Stripe's own totals; absent when Stripe is not configured (every `inStripe` is then null). */
  stripe?: () => Promise<StripeAccess>;
  /** Where a Stripe total that could not be read is reported (the row shows `inStripe: null`). */
  log?: Pick<Log, 'warn'>;
}

/** A page of the period close: the month's calendar deadline, and per customer and meter a row (`periodClose`). */
export interface PeriodView {
  period: string;
  /** The invoice deadline of the calendar month; a customer with an anchor day has its own on its rows. */
  deadline: string;
  rows: PeriodRow[];
}

/**
 * The period close of `periodKey` (`YYYY-MM`: each customer's period starting in that month) for some customers:
 * reads each one's days, ledger and flags, and Stripe's totals where Stripe is configured and answers; one
 * customer Stripe cannot answer for shows `inStripe: null`, the rest go on.
 */
export async function loadPeriodView(
  deps: PeriodCloseDeps,
  periodKey: string | undefined,
  customers: readonly Customer[],
): Promise<PeriodView> {
  if (periodKey === undefined || !/^\d{4}-\d{2}$/.test(periodKey))
    throw new ValidationError([{ field: 'period', message: 'must be YYYY-MM (the period of each customer starting in that month)' }]);
  const invoiceGraceMs = deps.config.invoiceGraceHours * HOUR_MS;
  const nowMs = deps.clock.now();
  const rows: PeriodRow[] = [];
  for (const customer of customers) {
    const period = periodForStatement(periodKey, customer.anchorDay);
    const [days, ledger, flags] = await Promise.all([
      deps.rollups.getDays(customer.id, period.start.slice(0, 10), lastDayOf(period)),
      deps.ledger.entries(customer.id),
      deps.flags.forCustomer(customer.id),
    ]);
    const holds = holdsFromFlags(flags, { holdSeverities: deps.config.holdSeverities });
    const stripe = await stripeTotals(deps, customer, stripeWindow(period, nowMs));
    rows.push(...periodClose({ customer, period, days, ledger, holds, nowMs, invoiceGraceMs, ...(stripe ? { stripe } : {}) }));
  }
  return { period: periodKey, deadline: periodDeadline(periodForStatement(periodKey, 1), invoiceGraceMs), rows };
}

/** Stripe's aggregate per meter over the window, as reconciliation reads it; undefined when Stripe is not there to ask. */
async function stripeTotals(
  deps: PeriodCloseDeps,
  customer: Customer,
  window: { startSec: number; endSec: number } | undefined,
): Promise<Partial<Record<Meter, number>> | undefined> {
  if (!deps.stripe || !customer.stripeCustomerId) return undefined;
  try {
    const { reporter, meterIds } = await deps.stripe();
    const out: Partial<Record<Meter, number>> = {};
    for (const m of METERS)
      out[m] = window ? await reporter.listEventSummaries(meterIds[m], customer.stripeCustomerId, window.startSec, window.endSec) : 0;
    return out;
  } catch (err) {
    // Stripe not reachable, its meters not set up, the customer deleted there: shown as not known (null), never as 0.
    deps.log?.warn('stripe totals unavailable for the period close', { customerId: customer.id, error: (err as Error).message });
    return undefined;
  }
}
