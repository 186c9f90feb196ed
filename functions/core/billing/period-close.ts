import { assertNever, type Meter } from '../../../contract/meters.js';
import type { BillingPeriod } from '../close/billing-period.js';
import type { Customer, LedgerRecord, StoredDay } from '../shared/ports.js';
import { awaitsSending } from './ledger-settle.js';
import { PENDING_BEYOND_WINDOW } from './report-usage.js';
import { billableUntil, type Hold, planReports, sendability } from './reporting-plan.js';
import { buildStatement, isLostMarker } from './statement.js';
import { STRIPE_METERS } from './stripe-reporting.js';

/**
 * The period close, the pure half: per customer and meter, where the period's metered usage stands with its
 * invoice deadline in view. Every unit metered is either reported (sent, as Stripe aggregates it), held
 * (a fraud hold defers it), unreportable (closed or left unsent past the invoice deadline or Stripe's window:
 * bill it by hand), or the difference, which `status` names the cause of.
 */

/**
 * - `ok`: the difference is 0: everything metered is reported, held or known to be unreportable.
 * - `unsent`: ledger records wait to be sent (pending, or failed in a way a resend may fix): `meter reconcile --fix`.
 * - `refused`: Stripe refused records for good (see the ledger's `lastError`).
 * - `unplanned`: the nightly close has not planned usage the rollups hold (it runs next night, or `meter nightly`).
 * - `no_stripe_customer`: there is usage but no Stripe customer to report it to.
 * - `mismatch`: none of those explains it: look at the statement and the ledger.
 */
export type PeriodStatus = 'ok' | 'unsent' | 'refused' | 'unplanned' | 'no_stripe_customer' | 'mismatch';

/** One customer and meter of a period, as the period close shows it. */
export interface PeriodRow {
  customerId: string;
  name?: string;
  meter: Meter;
  /** From the rollups, as billed (`buildStatement`'s `billed`). */
  metered: number;
  /** From the ledger: sent records aggregated as Stripe aggregates them. */
  reported: number;
  /** Stripe's own aggregate over the period so far; null when Stripe was not (or could not be) asked. */
  inStripe: number | null;
  /** Usage a fraud hold keeps from Stripe until it is released. */
  held: number;
  /** Usage closed, or left unsent, past the invoice deadline or Stripe's 35-day window: it can no longer be reported. */
  unreportable: number;
  /** `metered - reported - held - unreportable`. */
  difference: number;
  status: PeriodStatus;
  /** The period's invoice deadline: its end plus the invoice grace (`billableUntil`), ISO-8601 UTC. */
  deadline: string;
}

export interface PeriodCloseInput {
  customer: Customer;
  period: BillingPeriod;
  /** The customer's stored days; days outside the period are ignored. */
  days: readonly StoredDay[];
  /** The customer's ledger; records of days outside the period are ignored. */
  ledger: readonly LedgerRecord[];
  holds?: readonly Hold[];
  /** Stripe's aggregate per meter over the period so far; a meter left out (or no map) is shown as null. */
  stripe?: Partial<Record<Meter, number>>;
  nowMs: number;
  /** The Stripe account's invoice grace period in ms (`billableUntil`). */
  invoiceGraceMs: number;
}

/** The invoice deadline of a period: the last moment Stripe still bills an event stamped in it (ISO-8601 UTC). */
export function periodDeadline(period: BillingPeriod, invoiceGraceMs: number): string {
  return new Date(billableUntil(period.start.slice(0, 10), period.anchorDay, invoiceGraceMs)).toISOString();
}

/**
 * One customer's period close, meter by meter (pure): metered and reported from the statement, held and not yet
 * planned from the reporting plan the nightly close would make now, unreportable from that plan and the ledger's
 * records that can no longer go (`sendability`).
 * @example periodClose({ customer, period, days, ledger, nowMs, invoiceGraceMs: HOUR_MS })[0].difference // 0
 */
export function periodClose(input: PeriodCloseInput): PeriodRow[] {
  const { customer, period, nowMs, invoiceGraceMs } = input;
  const anchorDay = customer.anchorDay ?? 1;
  const holds = input.holds ?? [];
  const statement = buildStatement({ customer, period, days: input.days, ledger: input.ledger, holds });
  const first = period.start.slice(0, 10);
  const end = period.end.slice(0, 10);
  const inPeriod = (day: string) => day >= first && day < end;
  const days = input.days.filter((d) => d.customerId === customer.id && inPeriod(d.day));
  const ledger = dedupe(input.ledger.filter((r) => r.customerId === customer.id && inPeriod(r.day)));
  const plan = planReports({
    nowMs,
    customers: [{ customerId: customer.id, anchorDay, days: days.map((d) => ({ day: d.day, values: d.values })) }],
    ledger: ledger.map(({ customerId, meter, day, revision, value }) => ({ customerId, meter, day, revision, value })),
    held: [...holds],
    invoiceGraceMs,
  });
  const deadline = periodDeadline(period, invoiceGraceMs);
  return statement.meters.map((m) => {
    const records = ledger.filter((r) => r.meter === m.meter);
    const verdictOf = (r: LedgerRecord) => recordVerdict(r, { nowMs, held: holds, anchorDay, invoiceGraceMs });
    const planned = plan.events.filter((e) => e.meter === m.meter);
    const unreportablePlan = plan.unreportable.filter((u) => u.meter === m.meter);
    const deferred = plan.deferred.filter((d) => d.meter === m.meter);
    let held = 0;
    let unreportable = 0;
    const open = { unsent: 0, refused: 0, unplanned: 0 };
    const formula = STRIPE_METERS[m.meter].formula;
    switch (formula) {
      case 'sum': {
        const daySum = (day: string) => records.filter((r) => r.day === day).reduce((t, r) => t + r.value, 0);
        const dayValue = (day: string) => days.find((d) => d.day === day)?.values[m.meter] ?? 0;
        held = deferred.reduce((t, d) => t + dayValue(d.day) - daySum(d.day), 0);
        unreportable = unreportablePlan.reduce((t, u) => t + u.value, 0);
        open.unplanned = planned.reduce((t, e) => t + e.value, 0);
        for (const r of records) {
          const verdict = verdictOf(r);
          if (verdict === 'reported') continue;
          if (verdict === 'unreportable') unreportable += r.value;
          else open[verdict] += r.value;
        }
        break;
      }
      case 'last': {
        // Stripe bills the newest value: only the newest record of the period, and what the plan would send over it, count.
        const newest = records.reduce<LedgerRecord | undefined>(
          (n, r) => (!n || r.day > n.day || (r.day === n.day && r.revision > n.revision) ? r : n),
          undefined,
        );
        const gap = m.billed - (newest?.value ?? 0);
        if (deferred.length > 0) held = gap;
        if (unreportablePlan.length > 0) unreportable = gap;
        if (planned.length > 0) open.unplanned = gap;
        const verdict = newest ? verdictOf(newest) : 'reported';
        if (newest && verdict !== 'reported') {
          const notInStripe = newest.value - m.reportedTotal;
          if (verdict === 'unreportable') unreportable += notInStripe;
          else open[verdict] += notInStripe;
        }
        break;
      }
      default:
        assertNever(formula);
    }
    const difference = m.billed - m.reportedTotal - held - unreportable;
    const stripe = input.stripe?.[m.meter];
    return {
      customerId: customer.id,
      ...(customer.name ? { name: customer.name } : {}),
      meter: m.meter,
      metered: m.billed,
      reported: m.reportedTotal,
      inStripe: stripe ?? null,
      held,
      unreportable,
      difference,
      status: statusOf(difference, open, customer),
      deadline,
    };
  });
}

/** Where a ledger record's value stands: in Stripe (or accounted as lost there), can no longer go, or still open. */
function recordVerdict(
  r: LedgerRecord,
  o: { nowMs: number; held: readonly Hold[]; anchorDay: number; invoiceGraceMs: number },
): 'reported' | 'unreportable' | 'unsent' | 'refused' {
  if (r.state === 'sent' || isLostMarker(r)) return 'reported';
  if (r.lastError === 'period_invoiced' || r.lastError === PENDING_BEYOND_WINDOW) return 'unreportable';
  if (!awaitsSending(r)) return 'refused';
  const verdict = sendability(r, o);
  return verdict === 'invoiced' || verdict === 'expired' ? 'unreportable' : 'unsent';
}

function statusOf(difference: number, open: { unsent: number; refused: number; unplanned: number }, customer: Customer): PeriodStatus {
  if (difference === 0) return 'ok';
  if (!customer.stripeCustomerId) return 'no_stripe_customer';
  if (open.unsent !== 0) return 'unsent';
  if (open.refused !== 0) return 'refused';
  if (open.unplanned !== 0) return 'unplanned';
  return 'mismatch';
}

/** The ledger with repeated records of one revision counted once, as the reporting plan counts them. */
function dedupe(ledger: readonly LedgerRecord[]): LedgerRecord[] {
  const seen = new Set<string>();
  return ledger.filter((r) => {
    const k = `${r.meter}\u0000${r.day}\u0000${r.revision}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
