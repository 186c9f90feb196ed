import { type Clock, DAY_MS, HOUR_MS, MINUTE_MS } from '../../../contract/clock.js';
import { ValidationError } from '../../../contract/errors.js';
import { METERS, type Meter } from '../../../contract/meters.js';
import type { BillingPeriod } from '../close/billing-period.js';
import { type HoldPolicy, holdsFromFlags } from '../fraud/holds.js';
import { auditEntry } from '../shared/audit-entries.js';
import type { AuditLog, Customer, FlagStore, LedgerRecord, LedgerState, LedgerStore, Registry, RollupStore } from '../shared/ports.js';
import {
  compareCustomer,
  countByStatus,
  type LostRepairPlan,
  planLostRepairs,
  type ReconcileRow,
  sentDays,
  stripeWindow,
} from './reconcile.js';
import { sendRecords } from './report-usage.js';
import { lastDayOf, periodForStatement } from './statement.js';
import type { MeterEventReporter } from './stripe-reporting.js';

/** Stripe as reconciliation needs it: the reporter and our meters' ids. */
export interface StripeAccess {
  reporter: Pick<MeterEventReporter, 'report'> & StripeTotals;
  meterIds: Record<Meter, string>;
}

/** Stripe's own totals for a meter and customer over `[startSec, endSec)` (its event summaries). */
export interface StripeTotals {
  listEventSummaries(meterId: string, stripeCustomerId: string, startSec: number, endSec: number): Promise<number>;
}

/** What reconciliation reads and writes: the stores, the billing policy, Stripe, the clock and who runs it. */
export interface FinanceDeps {
  services: {
    registry: Registry;
    rollups: RollupStore;
    ledger: LedgerStore;
    audit: AuditLog;
    flags: FlagStore;
    newId: () => string;
    config: { holdSeverities: HoldPolicy['holdSeverities']; invoiceGraceHours: number };
  };
  clock: Clock;
  stripe: StripeAccess;
  /** Who runs it, for the audit trail. */
  actor: string;
}

/** One record `--fix` sent, and how it ended. */
export interface FixOutcome {
  customerId: string;
  meter: Meter;
  kind: 'resend' | 'repair_lost';
  day: string;
  identifier: string;
  value: number;
  state: LedgerState;
  error?: string;
}

export interface ReconcileResult {
  period: string;
  /** The comparison after any fix. */
  rows: ReconcileRow[];
  /** With `fix`: the comparison before fixing. */
  before?: ReconcileRow[];
  fixes: FixOutcome[];
  /** Losses `--fix` could not repair, per customer and meter. */
  unrepairable: (LostRepairPlan['unrepairable'][number] & { customerId: string; meter: Meter })[];
  /** Rows not `ok`: non-zero means finance has something to look at. */
  differences: number;
}

/**
 * Reconciles one period: per customer and meter, metered (rollups) vs reported (ledger) vs Stripe's
 * aggregate; with `fix`, re-sends stuck ledger records and repairs usage Stripe lost, then compares
 * again. Writes one audit record per reconciliation and one per customer fixed.
 */
export async function reconcilePeriod(
  deps: FinanceDeps,
  o: { period?: string; customer?: string; fix?: boolean },
): Promise<ReconcileResult> {
  const s = deps.services;
  if (!o.period) throw new ValidationError([{ field: 'period', message: 'is required: YYYY-MM' }]);
  const customers = await customersFor(s, o);
  const runId = `reconcile:${s.newId()}`;
  const before: ReconcileRow[] = [];
  const after: ReconcileRow[] = [];
  const result: ReconcileResult = { period: o.period, rows: after, fixes: [], unrepairable: [], differences: 0 };
  for (const customer of customers) {
    const period = periodForStatement(o.period, customer.anchorDay);
    let seen = await compareOne(deps, customer, period);
    before.push(...seen.rows);
    if (o.fix && seen.rows.some((r) => r.action === 'resend' || r.action === 'repair_lost')) {
      const fixed = await fixCustomer(deps, customer, period, seen, runId);
      result.fixes.push(...fixed.fixes);
      result.unrepairable.push(...fixed.unrepairable);
      await s.audit.record(
        auditEntry(s.newId(), deps.clock.now(), {
          action: 'reconcile.fix',
          actor: deps.actor,
          customerId: customer.id,
          counts: {
            sent: fixed.fixes.filter((f) => f.state === 'sent').length,
            failed: fixed.fixes.filter((f) => f.state !== 'sent').length,
            unrepairable: fixed.unrepairable.length,
          },
          details: { runId, period: period.key, fixes: fixed.fixes, unrepairable: fixed.unrepairable },
        }),
      );
      seen = await compareOne(deps, customer, period);
    }
    after.push(...seen.rows);
  }
  if (o.fix) result.before = before;
  result.differences = after.filter((r) => r.status !== 'ok').length;
  await s.audit.record(
    auditEntry(s.newId(), deps.clock.now(), {
      action: 'reconcile',
      actor: deps.actor,
      ...(o.customer ? { customerId: o.customer } : {}),
      counts: { customers: customers.length, ...countByStatus(after), fixed: result.fixes.length },
      // The rows that differ, capped so the record stays well inside DynamoDB's item size.
      details: {
        runId,
        period: o.period,
        fix: !!o.fix,
        differences: after
          .filter((r) => r.status !== 'ok')
          .slice(0, 100)
          .map(({ resend: _r, ...row }) => row),
      },
    }),
  );
  return result;
}

async function customersFor(s: FinanceDeps['services'], o: { period?: string; customer?: string }): Promise<Customer[]> {
  if (o.customer) {
    const one = (await s.registry.customers([o.customer])).get(o.customer);
    if (!one) throw new ValidationError([{ field: 'customer', message: `"${o.customer}" is not registered` }]);
    return [one];
  }
  // Anchored customers' periods start on different days; only the month names a period for each of them.
  if (o.period !== undefined && !/^\d{4}-\d{2}$/.test(o.period))
    throw new ValidationError([
      { field: 'period', message: 'must be YYYY-MM when reconciling every customer (YYYY-MM-DD needs --customer)' },
    ]);
  return (await s.registry.listCustomers()).sort((a, b) => (a.id < b.id ? -1 : 1));
}

interface Compared {
  rows: ReconcileRow[];
  ledger: LedgerRecord[];
}

async function compareOne(deps: FinanceDeps, customer: Customer, period: BillingPeriod): Promise<Compared> {
  const s = deps.services;
  const nowMs = deps.clock.now();
  const [days, ledger, flags] = await Promise.all([
    s.rollups.getDays(customer.id, period.start.slice(0, 10), lastDayOf(period)),
    s.ledger.entries(customer.id),
    s.flags.forCustomer(customer.id),
  ]);
  // Held usage shows as held, not as missing.
  const holds = holdsFromFlags(flags, { holdSeverities: s.config.holdSeverities });
  let stripe: Partial<Record<Meter, number>> | undefined;
  let stripeError: string | undefined;
  if (customer.stripeCustomerId) {
    const w = stripeWindow(period, nowMs);
    try {
      stripe = {};
      for (const m of METERS)
        stripe[m] = w
          ? await deps.stripe.reporter.listEventSummaries(deps.stripe.meterIds[m], customer.stripeCustomerId, w.startSec, w.endSec)
          : 0;
    } catch (err) {
      // One customer Stripe cannot answer for (e.g. deleted there) shows as a difference; the rest go on.
      stripe = undefined;
      stripeError = (err as Error).message;
    }
  }
  return {
    rows: compareCustomer({
      customer,
      period,
      days,
      ledger,
      stripe,
      stripeError,
      nowMs,
      holds,
      invoiceGraceMs: s.config.invoiceGraceHours * HOUR_MS,
    }),
    ledger,
  };
}

async function fixCustomer(deps: FinanceDeps, customer: Customer, period: BillingPeriod, seen: Compared, runId: string) {
  const s = deps.services;
  const stripeCustomerId = customer.stripeCustomerId!;
  const fixes: FixOutcome[] = [];
  const unrepairable: ReconcileResult['unrepairable'] = [];

  const send = async (records: LedgerRecord[], kind: FixOutcome['kind']) => {
    for (const rec of await sendRecords(
      records,
      stripeCustomerId,
      { reporter: deps.stripe.reporter, ledger: s.ledger },
      deps.clock.now(),
    )) {
      const { meter, day, identifier, value, state } = rec;
      fixes.push({
        customerId: customer.id,
        meter,
        kind,
        day,
        identifier,
        value,
        state,
        ...(rec.lastError ? { error: rec.lastError } : {}),
      });
    }
  };

  // (a) Records stuck pending or in error go again under their own identifiers: Stripe keeps the first.
  const resend = new Set(seen.rows.filter((r) => r.action === 'resend').flatMap((r) => r.resend));
  const order = (a: LedgerRecord, b: LedgerRecord) =>
    METERS.indexOf(a.meter) - METERS.indexOf(b.meter) || (a.day < b.day ? -1 : a.day > b.day ? 1 : a.revision - b.revision);
  await send(seen.ledger.filter((r) => resend.has(r.identifier)).sort(order), 'resend');

  // (b) Usage Stripe accepted and lost: ask Stripe day by day, then record and send the loss as a new revision.
  for (const row of seen.rows.filter((r) => r.action === 'repair_lost')) {
    const stripeByDay = new Map<string, number>();
    for (const day of sentDays(seen.ledger, row.meter, period)) {
      const start = Date.parse(`${day}T00:00:00Z`);
      const end = Math.min(start + DAY_MS, Math.floor(deps.clock.now() / MINUTE_MS) * MINUTE_MS);
      stripeByDay.set(
        day,
        await deps.stripe.reporter.listEventSummaries(deps.stripe.meterIds[row.meter], stripeCustomerId, start / 1000, end / 1000),
      );
    }
    const plan = planLostRepairs({
      customerId: customer.id,
      meter: row.meter,
      periodKey: period.key,
      ledger: seen.ledger,
      stripeByDay,
      nowMs: deps.clock.now(),
      runId,
      anchorDay: customer.anchorDay,
      invoiceGraceMs: s.config.invoiceGraceHours * HOUR_MS,
    });
    unrepairable.push(...plan.unrepairable.map((u) => ({ ...u, customerId: customer.id, meter: row.meter })));
    if (plan.repairs.length === 0) continue;
    // The marker goes in before the repair: a crash in between leaves a shortfall the nightly close re-reports.
    const { conflicts } = await s.ledger.create(plan.repairs.flatMap((p) => [p.marker, p.repair]));
    // A record another run created first (same revision) stands; send only the repairs this run recorded.
    const stored = conflicts > 0 ? new Map((await s.ledger.entries(customer.id)).map((r) => [r.identifier, r])) : undefined;
    const ours = stored
      ? plan.repairs.filter((p) => stored.get(p.marker.identifier)?.runId === runId && stored.get(p.repair.identifier)?.runId === runId)
      : plan.repairs;
    await send(
      ours.map((p) => p.repair),
      'repair_lost',
    );
  }
  return { fixes, unrepairable };
}
