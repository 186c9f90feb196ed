// One idea in one file, though over 300 lines: reconciliation's pure half, the three-way comparison and the
// repairs it allows, which read the same ledger aggregation; the I/O half is reconcile-period.ts.
import { HOUR_MS, MINUTE_MS } from '../../../contract/clock.js';
import { assertNever, type Meter } from '../../../contract/meters.js';
import type { BillingPeriod } from '../close/billing-period.js';
import type { Customer, LedgerRecord, StoredDay } from '../shared/ports.js';
import { billableUntil, type Hold, MAX_REVISIONS_PER_DAY, oldestSendableSec, revisionTimestamp, sendability } from './reporting-plan.js';
import { buildStatement, isLostMarker, LOST_IN_STRIPE, type MeterStatement } from './statement.js';
import { meterEventIdentifier, STRIPE_METERS } from './stripe-reporting.js';

/**
 * Reconciliation, the pure half: holds three figures per customer, meter and period against each other
 * (metered: our rollups; reported: the ledger's sent records aggregated like Stripe; Stripe's own
 * aggregate) and says what, if anything, `meter reconcile --fix` can repair. `reconcile-period.ts`
 * does the reading, the Stripe calls and the writes.
 */

/**
 * - `ok`: all three agree.
 * - `unreported`: the ledger has not delivered what we metered (records pending or failed, or a day not closed).
 * - `not_in_stripe`: Stripe holds less than the ledger sent (a `sum` meter), or nothing of it (a `last` meter).
 * - `mismatch`: Stripe holds more than the ledger sent, or another `last` value; or Stripe could not be read.
 * - `no_stripe_customer`: there is usage but no Stripe customer to bill it to.
 * - `held`: metered and reported differ because usage is held back (fraud review).
 * - `refused_by_stripe`: Stripe accepted records (the v2 stream answers `{}`) and refused them later, by webhook
 *   (`v1.billing.meter.error_report_triggered`, `no_meter_found`): the row lists them in `refusedByStripe`.
 */
export type ReconcileStatus = 'ok' | 'unreported' | 'not_in_stripe' | 'mismatch' | 'no_stripe_customer' | 'held' | 'refused_by_stripe';

/**
 * - `resend`: `--fix` sends the pending or failed ledger records again, under their own identifiers.
 * - `repair_lost`: `--fix` records and sends the lost amount as a new revision of the day that lost it.
 * - `run_nightly`: nothing is waiting in the ledger; `meter nightly` (the close) must plan it.
 * - `wait`: records were sent within `STRIPE_SETTLE_MS`; Stripe aggregates asynchronously, so check later.
 * - `set_stripe_customer`: register the Stripe customer (`meter customers add C --stripe-customer cus_…`).
 * - `manual`: outside what can be repaired automatically; see the note.
 */
export type ReconcileAction = 'none' | 'resend' | 'repair_lost' | 'run_nightly' | 'wait' | 'set_stripe_customer' | 'manual';

/** One customer, meter and period, compared. */
export interface ReconcileRow {
  customerId: string;
  stripeCustomerId?: string;
  periodKey: string;
  meter: Meter;
  /** From the rollups. */
  metered: number;
  /** From the ledger: sent records, aggregated as Stripe aggregates them. */
  reported: number;
  /** Stripe's aggregate over the period so far; null when Stripe was not (or could not be) asked. */
  stripe: number | null;
  status: ReconcileStatus;
  action: ReconcileAction;
  /** Why, in a line, and what to do. */
  note: string;
  /** The identifiers `--fix` would send again (only with `action: 'resend'`). */
  resend: string[];
  /** With `refused_by_stripe`: each record Stripe refused after accepting it, with Stripe's code and message. */
  refusedByStripe?: RefusedByStripe[];
}

/** A ledger record Stripe refused asynchronously, as reconcile lists it. */
export interface RefusedByStripe {
  identifier: string;
  day: string;
  value: number;
  code: string;
  message: string;
  /** The Stripe event (`evt_…`) that reported it. */
  eventId: string;
}

/** How long after sending a meter event a lower Stripe figure is not yet taken as a loss. */
export const STRIPE_SETTLE_MS = HOUR_MS;

export interface CompareInput {
  customer: Customer;
  period: BillingPeriod;
  days: readonly StoredDay[];
  ledger: readonly LedgerRecord[];
  /** Stripe's aggregate per meter over `stripeWindow`; a meter left out is shown as null. */
  stripe?: Partial<Record<Meter, number>>;
  /** Why Stripe could not be read, when it could not. */
  stripeError?: string;
  holds?: readonly Hold[];
  /** The Stripe account's invoice grace period (see `billableUntil`); default Stripe's. */
  invoiceGraceMs?: number;
  nowMs: number;
}

/**
 * Compares one customer's period, meter by meter (pure). Checks run in order: Stripe customer, metered
 * vs reported (records to send again, then a day the close never planned unless usage is held), reported
 * vs Stripe. Held usage explains a gap between metered and reported only: what was sent is still checked
 * against Stripe, so a loss is repaired while a hold lasts (a confirmed flag may hold for longer than
 * Stripe's 35 days).
 */
export function compareCustomer(input: CompareInput): ReconcileRow[] {
  const statement = buildStatement({
    customer: input.customer,
    period: input.period,
    days: input.days,
    ledger: input.ledger,
    holds: input.holds ?? [],
  });
  const settled = input.nowMs - STRIPE_SETTLE_MS;
  return statement.meters.map((m) => {
    const stripe = input.stripe?.[m.meter];
    const row = {
      customerId: input.customer.id,
      ...(input.customer.stripeCustomerId ? { stripeCustomerId: input.customer.stripeCustomerId } : {}),
      periodKey: input.period.key,
      meter: m.meter,
      metered: m.billed,
      reported: m.reportedTotal,
      stripe: stripe ?? null,
    };
    return { ...row, ...judge(m, row.stripe, input, settled) };
  });
}

function judge(
  m: MeterStatement,
  stripe: number | null,
  input: CompareInput,
  settledMs: number,
): Pick<ReconcileRow, 'status' | 'action' | 'note' | 'resend' | 'refusedByStripe'> {
  const open = [...m.pending, ...m.errors];
  const verdict = (status: ReconcileStatus, action: ReconcileAction, note: string, resend: string[] = []) => ({
    status,
    action,
    note,
    resend,
  });
  if (!input.customer.stripeCustomerId) {
    if (m.billed === 0 && m.reports.length === 0) return verdict('ok', 'none', 'no usage, no Stripe customer');
    return verdict(
      'no_stripe_customer',
      'set_stripe_customer',
      `register the Stripe customer (meter customers add ${input.customer.id} --stripe-customer cus_…), then run --fix`,
    );
  }
  const heldNote = m.held.length > 0 ? `held back: ${m.held.map((h) => `${h.from}..${h.to}`).join(', ')}` : '';
  const gap = m.billed !== m.reportedTotal;
  if (gap) {
    // What the nightly close would send now.
    const sendOptions = {
      nowMs: input.nowMs,
      held: input.holds ?? [],
      anchorDay: input.customer.anchorDay,
      ...(input.invoiceGraceMs !== undefined ? { invoiceGraceMs: input.invoiceGraceMs } : {}),
    };
    const sendable = open.filter((r) => sendability({ ...r, customerId: input.customer.id, meter: m.meter }, sendOptions) === 'send');
    // Records Stripe refused after accepting them are their own kind: the cause is on Stripe's side of the call.
    const refused: RefusedByStripe[] = open.flatMap(({ identifier, day, value, asyncError: e }) =>
      e ? [{ identifier, day, value, code: e.code, message: e.message, eventId: e.eventId }] : [],
    );
    if (refused.length > 0) {
      const again = sendable.filter((r) => r.asyncError);
      return {
        ...verdict(
          'refused_by_stripe',
          again.length > 0 ? 'resend' : 'manual',
          `Stripe refused ${refused.length} record(s) after accepting them (${[...new Set(refused.map((r) => r.code))].join(', ')})${
            again.length > 0
              ? '; --fix sends them again under their identifiers once the cause is fixed'
              : '; fix the cause, then bill it by hand'
          }`,
          again.map((r) => r.identifier),
        ),
        refusedByStripe: refused,
      };
    }
    if (sendable.length > 0) {
      return verdict(
        'unreported',
        'resend',
        `${sendable.length} record(s) ${describe(sendable)}; --fix sends them again under their identifiers`,
        sendable.map((r) => r.identifier),
      );
    }
    if (open.length > 0)
      return verdict(
        'unreported',
        'manual',
        `${open.length} record(s) ${describe(open)} cannot go out now (outside Stripe's 35-day window, its period's invoice final, held, or refused for good: ${[...new Set(open.map((r) => r.lastError ?? r.state))].join(', ')})`,
      );
    if (!heldNote)
      return verdict(
        'unreported',
        'run_nightly',
        `the ledger holds no report for ${m.billed - m.reportedTotal} of it: run meter nightly (it lists corrections too old for Stripe as unreportable)`,
      );
  }
  const alsoHeld = heldNote ? `; also ${heldNote}` : '';
  if (stripe === null)
    return verdict('mismatch', 'manual', `Stripe could not be read${input.stripeError ? `: ${input.stripeError}` : ''}${alsoHeld}`);
  if (stripe === m.reportedTotal) return gap ? verdict('held', 'none', heldNote) : verdict('ok', 'none', '');
  const recent = m.reports.some((r) => r.state === 'sent' && r.sentAt !== undefined && Date.parse(r.sentAt) > settledMs);
  const formula = m.formula;
  switch (formula) {
    case 'sum':
      if (stripe < m.reportedTotal) {
        if (recent)
          return verdict(
            'not_in_stripe',
            'wait',
            `Stripe holds ${stripe} of ${m.reportedTotal} sent; some was sent in the last hour and may not be aggregated yet${alsoHeld}`,
          );
        return verdict(
          'not_in_stripe',
          'repair_lost',
          `Stripe lost ${m.reportedTotal - stripe} of what it accepted; --fix sends it again as a new revision of the day that lost it${alsoHeld}`,
        );
      }
      return verdict(
        'mismatch',
        'manual',
        `Stripe holds ${stripe}, ${stripe - m.reportedTotal} more than the ledger sent: events sent outside serenity-metering?${alsoHeld}`,
      );
    case 'last':
      if (recent)
        return verdict(
          stripe === 0 ? 'not_in_stripe' : 'mismatch',
          'wait',
          `Stripe shows ${stripe}, the ledger's latest is ${m.reportedTotal}; sent in the last hour, check again later${alsoHeld}`,
        );
      return verdict(
        stripe === 0 ? 'not_in_stripe' : 'mismatch',
        'manual',
        `Stripe's latest value is ${stripe}, the ledger's latest sent value is ${m.reportedTotal}${alsoHeld}`,
      );
    default:
      return assertNever(formula);
  }
}

function describe(records: readonly { state: string }[]): string {
  const pending = records.filter((r) => r.state === 'pending').length;
  const failed = records.length - pending;
  return `(${[pending ? `${pending} pending` : '', failed ? `${failed} in error` : ''].filter(Boolean).join(', ')})`;
}

/**
 * The range Stripe's event summaries are read over: the period, cut at the current minute for the period
 * in progress (Stripe wants minute boundaries). Undefined for a period that has not started.
 * @example stripeWindow(periodForKey('2026-03'), Date.parse('2026-03-10T12:34:56Z')) // { startSec: 1772323200, endSec: 1773146040 }
 */
export function stripeWindow(
  period: Pick<BillingPeriod, 'start' | 'end'>,
  nowMs: number,
): { startSec: number; endSec: number } | undefined {
  const startSec = Date.parse(period.start) / 1000;
  const endSec = Math.min(Date.parse(period.end), Math.floor(nowMs / MINUTE_MS) * MINUTE_MS) / 1000;
  return endSec > startSec ? { startSec, endSec } : undefined;
}

/** The days of a `sum` meter the ledger has sent something on, to ask Stripe about one by one. */
export function sentDays(ledger: readonly LedgerRecord[], meter: Meter, period: Pick<BillingPeriod, 'start' | 'end'>): string[] {
  const from = period.start.slice(0, 10);
  const to = period.end.slice(0, 10);
  return [
    ...new Set(ledger.filter((r) => r.meter === meter && r.day >= from && r.day < to && r.state === 'sent').map((r) => r.day)),
  ].sort();
}

/** A day's loss and the two ledger records that repair it. */
export interface LostRepair {
  day: string;
  lost: number;
  /** Never sent: `state: 'error'`, `lastError: lost_in_stripe`, value `-lost`. */
  marker: LedgerRecord;
  /** Sent: value `lost`, the revision after the marker's. */
  repair: LedgerRecord;
}

export interface LostRepairPlan {
  repairs: LostRepair[];
  /** Days that lost usage but cannot be repaired (or hold more than was sent). */
  unrepairable: {
    day: string;
    lost: number;
    reason: 'outside_stripe_window' | 'revision_limit' | 'stripe_holds_more' | 'period_invoiced';
  }[];
}

/**
 * Plans the repair of a `sum` meter whose usage Stripe accepted and lost (pure). Per day, the loss is
 * what the ledger sent (less earlier losses) minus what Stripe holds for the day. Sending the same
 * identifier again would be refused as a duplicate, so the loss goes out as a new revision (the day's
 * next, `meterEventIdentifier`, `revisionTimestamp`), preceded by a marker revision of `-loss` that is
 * never sent: the ledger's sum of the day stays what we metered, so the next nightly close plans no
 * correction that would take the repair back, and the statement's reported total stays Stripe's.
 */
export function planLostRepairs(input: {
  customerId: string;
  meter: Meter;
  periodKey: string;
  ledger: readonly LedgerRecord[];
  /** Stripe's aggregate per day, for the days `sentDays` names. */
  stripeByDay: ReadonlyMap<string, number>;
  nowMs: number;
  runId: string;
  /** For the billing period's final invoice (see `billableUntil`). */
  anchorDay?: number;
  invoiceGraceMs?: number;
}): LostRepairPlan {
  const spec = STRIPE_METERS[input.meter];
  if (spec.formula !== 'sum') throw new Error(`lost usage is repaired for sum meters only, not ${input.meter}`);
  const plan: LostRepairPlan = { repairs: [], unrepairable: [] };
  const oldest = oldestSendableSec(input.nowMs);
  const createdAt = new Date(input.nowMs).toISOString();
  for (const [day, held] of [...input.stripeByDay].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const records = input.ledger.filter((r) => r.customerId === input.customerId && r.meter === input.meter && r.day === day);
    const sent = records.filter((r) => r.state === 'sent' || isLostMarker(r)).reduce((t, r) => t + r.value, 0);
    const lost = sent - held;
    if (lost === 0) continue;
    if (lost < 0) {
      plan.unrepairable.push({ day, lost, reason: 'stripe_holds_more' });
      continue;
    }
    const revision = Math.max(-1, ...records.map((r) => r.revision)) + 1;
    if (revision + 1 >= MAX_REVISIONS_PER_DAY) {
      plan.unrepairable.push({ day, lost, reason: 'revision_limit' });
      continue;
    }
    if (revisionTimestamp(day, revision + 1) < oldest) {
      plan.unrepairable.push({ day, lost, reason: 'outside_stripe_window' });
      continue;
    }
    if (input.nowMs > billableUntil(day, input.anchorDay, input.invoiceGraceMs)) {
      plan.unrepairable.push({ day, lost, reason: 'period_invoiced' });
      continue;
    }
    const record = (rev: number, value: number): LedgerRecord => ({
      customerId: input.customerId,
      meter: input.meter,
      day,
      revision: rev,
      value,
      identifier: meterEventIdentifier({ customerId: input.customerId, meter: input.meter, day, revision: rev }),
      eventName: spec.eventName,
      timestamp: revisionTimestamp(day, rev),
      periodKey: input.periodKey,
      state: 'pending',
      attempts: 0,
      createdAt,
      runId: input.runId,
    });
    plan.repairs.push({
      day,
      lost,
      marker: { ...record(revision, -lost), state: 'error', lastError: LOST_IN_STRIPE },
      repair: record(revision + 1, lost),
    });
  }
  return plan;
}

export { settleRecord } from './ledger-settle.js';

/** Rows per status, for the audit record and the summary line. */
export function countByStatus(rows: readonly ReconcileRow[]): Record<ReconcileStatus, number> {
  const counts: Record<ReconcileStatus, number> = {
    ok: 0,
    unreported: 0,
    not_in_stripe: 0,
    mismatch: 0,
    no_stripe_customer: 0,
    held: 0,
    refused_by_stripe: 0,
  };
  for (const r of rows) counts[r.status]++;
  return counts;
}
