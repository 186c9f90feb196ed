import { type Clock, DAY_MS, HOUR_MS, MINUTE_MS } from '../../contract/clock.js';
import { ConfigError, ValidationError } from '../../contract/errors.js';
import { METERS, type Meter } from '../../contract/meters.js';
import { createStripeClient } from '../../functions/adapters/stripe/stripe-client-config.js';
import { StripeMeterReporter } from '../../functions/adapters/stripe/stripe-meter-reporter.js';
import {
  compareCustomer,
  countByStatus,
  type LostRepairPlan,
  planLostRepairs,
  type ReconcileRow,
  sentDays,
  settleRecord,
  stripeWindow,
} from '../../functions/core/billing/reconcile.js';
import {
  lastDayOf,
  loadStatement,
  periodForStatement,
  renderStatement,
  STATEMENT_FORMATS,
  type StatementFormat,
} from '../../functions/core/billing/statement.js';
import type { BillingPeriod } from '../../functions/core/close/billing-period.js';
import { holdsFromFlags } from '../../functions/core/fraud/holds.js';
import { auditEntry } from '../../functions/core/shared/audit-entries.js';
import type { Customer, LedgerRecord, LedgerState } from '../../functions/core/shared/ports.js';
import type { Services } from '../../functions/runtime/services.js';
import type { Connection } from '../connect.js';
import { printTable } from '../render/output.js';
import { cliActor } from './customers.js';

/** `meter statement --customer C --period YYYY-MM [--format table|json|csv]`: one customer's billing statement. */
export async function showStatement(c: Connection, o: { customer?: string; period?: string; format?: string }): Promise<void> {
  if (!o.customer) throw new ValidationError([{ field: 'customer', message: 'is required (--customer C)' }]);
  const format = (o.format ?? 'table') as StatementFormat;
  if (!STATEMENT_FORMATS.includes(format))
    throw new ValidationError([{ field: 'format', message: `must be one of ${STATEMENT_FORMATS.join(', ')}` }]);
  const customer = (await c.services.registry.customers([o.customer])).get(o.customer);
  if (!customer) throw new Error(`customer "${o.customer}" is not registered`);
  console.log(
    renderStatement(
      await loadStatement(
        customer,
        o.period,
        c.services,
        holdsFromFlags(await c.services.flags.forCustomer(customer.id), { holdSeverities: c.services.config.holdSeverities }),
      ),
      format,
    ),
  );
}

/** Stripe as reconciliation needs it: the reporter and our meters' ids. */
export interface StripeAccess {
  reporter: Pick<StripeMeterReporter, 'report' | 'listEventSummaries'>;
  meterIds: Record<Meter, string>;
}

export interface FinanceDeps {
  services: Pick<Services, 'registry' | 'rollups' | 'ledger' | 'audit' | 'newId' | 'flags' | 'config'>;
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
    if (records.length === 0) return;
    const outcomes = await deps.stripe.reporter.report(
      records.map((r) => ({ identifier: r.identifier, eventName: r.eventName, stripeCustomerId, value: r.value, timestamp: r.timestamp })),
    );
    const settled = outcomes.map((o, i) => settleRecord(records[i]!, o, deps.clock.now()));
    await s.ledger.update(settled);
    for (const rec of settled) {
      fixes.push({
        customerId: customer.id,
        meter: rec.meter,
        kind,
        day: rec.day,
        identifier: rec.identifier,
        value: rec.value,
        state: rec.state,
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

/**
 * `meter reconcile --period YYYY-MM [--customer C] [--fix] [--json]`: prints the differences (every row
 * with `--customer`) and returns non-zero while any remain.
 */
export async function runReconcile(
  c: Connection,
  o: { period?: string; customer?: string; fix?: boolean; json?: boolean },
): Promise<number> {
  if (!c.env.STRIPE_SECRET_KEY) {
    throw new ConfigError(
      "STRIPE_SECRET_KEY is not set: reconcile reads Stripe's own totals, so it needs a Stripe key (and STRIPE_API_BASE for the Stripe test server). Nothing was compared.",
    );
  }
  const reporter = new StripeMeterReporter({ stripe: createStripeClient(c.env), clock: c.services.clock });
  // Reconcile only reads Stripe's meters (meter stripe setup creates them), with or without --fix.
  const meters = await reporter.findMeters();
  const meterIds = Object.fromEntries(METERS.map((m) => [m, meters[m].id])) as Record<Meter, string>;
  const result = await reconcilePeriod(
    { services: c.services, clock: c.services.clock, stripe: { reporter, meterIds }, actor: cliActor() },
    o,
  );
  if (o.json) {
    console.log(JSON.stringify(result, null, 2));
  } else {
    if (result.fixes.length) {
      console.log('fixed:');
      printTable(
        result.fixes.map((f) => ({
          customer: f.customerId,
          meter: f.meter,
          kind: f.kind,
          day: f.day,
          identifier: f.identifier,
          value: f.value,
          state: f.state,
          error: f.error ?? '',
        })),
      );
    }
    if (result.unrepairable.length) {
      console.log('could not repair:');
      printTable(result.unrepairable);
    }
    const shown = o.customer ? result.rows : result.rows.filter((r) => r.status !== 'ok');
    if (shown.length === 0) console.log('no differences');
    else
      printTable(
        shown.map((r) => ({
          customer: r.customerId,
          period: r.periodKey,
          meter: r.meter,
          metered: r.metered,
          reported: r.reported,
          stripe: r.stripe ?? '-',
          status: r.status,
          action: r.action,
          note: r.note,
        })),
      );
    const counts = countByStatus(result.rows);
    console.log(
      `${result.rows.length} rows: ${
        Object.entries(counts)
          .filter(([, n]) => n > 0)
          .map(([k, n]) => `${n} ${k}`)
          .join(', ') || 'none'
      }`,
    );
  }
  return result.differences > 0 ? 1 : 0;
}
