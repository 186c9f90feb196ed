import { periodContaining } from '../close/billing-period.js';
import { utcDayStart } from '../close/file-timeline.js';
import type { Customer, LedgerRecord, LedgerStore, StoredDay } from '../shared/ports.js';
import { settleRecord } from './ledger-settle.js';
import { guardMeterEvent } from './meter-event-guard.js';
import { type DeferredReport, type Hold, planReports, sendability, type UnreportableReport } from './reporting-plan.js';
import { checkStaleRecords, identifierExpired } from './stale-records.js';
import type { MeterEventReporter, MeterEventToSend } from './stripe-reporting.js';

/** The reason, and ledger error, of a record still unsent when Stripe's 35-day window closed on it. */
export const PENDING_BEYOND_WINDOW = 'pending_beyond_stripe_window' as const;

/** What recording a close's reports needs. */
export interface RecordReportsDeps {
  ledger: LedgerStore;
  /** The Stripe account's invoice finalisation grace period; default 1 hour, Stripe's. */
  invoiceGraceMs?: number;
}

/** A close's reports: how many it planned, what it cannot report or holds back, and every record now to send. */
export interface RecordedReports {
  planned: number;
  unreportable: UnreportableReport[];
  deferred: DeferredReport[];
  toSend: LedgerRecord[];
}

/**
 * Plans the meter events the recomputed `days` call for against everything the ledger holds, and
 * records them as pending *before* anything is sent. Then picks what goes: pending and retryably failed
 * records (the planner counts their values as reported, so nothing else would ever send them); one left
 * by an earlier run waits too while a hold now covers its day. One whose period's invoice turned final
 * meanwhile would be accepted and billed nowhere: it is settled as `period_invoiced`, and listed.
 */
export async function recordReports(
  customer: Customer,
  days: readonly StoredDay[],
  held: readonly Hold[],
  runId: string,
  deps: RecordReportsDeps,
  now: number,
): Promise<RecordedReports> {
  const anchor = customer.anchorDay ?? 1;
  const grace = deps.invoiceGraceMs !== undefined ? { invoiceGraceMs: deps.invoiceGraceMs } : {};
  const before = await deps.ledger.entries(customer.id);
  const plan = planReports({
    nowMs: now,
    customers: [{ customerId: customer.id, anchorDay: anchor, days: days.map((d) => ({ day: d.day, values: d.values })) }],
    ledger: before.map(({ customerId, meter, day, revision, value }) => ({ customerId, meter, day, revision, value })),
    held: [...held],
    ...grace,
  });
  const periodOf = new Map(days.map((d) => [d.day, d.periodKey]));
  const planned: LedgerRecord[] = plan.events.map((e) => ({
    customerId: e.customerId,
    meter: e.meter,
    day: e.day,
    revision: e.revision,
    value: e.value,
    identifier: e.identifier,
    eventName: e.eventName,
    timestamp: e.timestamp,
    periodKey: periodOf.get(e.day) ?? periodContaining(utcDayStart(e.day)!, anchor).key,
    state: 'pending',
    attempts: 0,
    createdAt: new Date(now).toISOString(),
    runId,
  }));
  const { conflicts } = await deps.ledger.create(planned);
  // Only when another run recorded some of the same revisions do we need the ledger as it now stands.
  const ledger = conflicts > 0 ? await deps.ledger.entries(customer.id) : [...before, ...planned];
  const judged = ledger.map((r) => ({ r, verdict: sendability(r, { nowMs: now, held: [...held], anchorDay: anchor, ...grace }) }));
  const toSend = judged.filter((j) => j.verdict === 'send').map((j) => j.r);
  const invoiced = judged.filter((j) => j.verdict === 'invoiced').map((j) => j.r);
  if (invoiced.length > 0) await deps.ledger.update(invoiced.map((r) => ({ ...r, state: 'error' as const, lastError: 'period_invoiced' })));
  // Waiting past Stripe's 35 days (an outage as long): settled in error, so it is listed once, loudly, not kept pending.
  const expired = judged.filter((j) => j.verdict === 'expired').map((j) => j.r);
  if (expired.length > 0)
    await deps.ledger.update(expired.map((r) => ({ ...r, state: 'error' as const, lastError: PENDING_BEYOND_WINDOW })));
  const unreportable = [
    ...plan.unreportable,
    ...invoiced.map((r) => ({
      customerId: r.customerId,
      meter: r.meter,
      day: r.day,
      revision: r.revision,
      value: r.value,
      reason: 'period_invoiced' as const,
      message: 'left unsent until the invoice of its billing period turned final; bill it by hand',
    })),
    ...expired.map((r) => ({
      customerId: r.customerId,
      meter: r.meter,
      day: r.day,
      revision: r.revision,
      value: r.value,
      reason: PENDING_BEYOND_WINDOW,
      message: `still unsent (${r.lastError ?? r.state}) after Stripe's 35-day window; bill it by hand (meter reconcile lists it)`,
    })),
  ];
  return { planned: plan.events.length, unreportable, deferred: plan.deferred, toSend };
}

/**
 * Sends ledger records to Stripe for one Stripe customer, in order, under their own identifiers (Stripe
 * keeps the first of each), and settles each in the ledger as sent, failed for now (pending) or refused
 * (error). A record whose identifier Stripe may have forgotten (pending over 24 hours) is first checked
 * against Stripe's summary (`checkStaleRecords`): settled if Stripe counted it, else sent under a new
 * identifier. Returns the settled records. The nightly close and `reconcile --fix` both send this way.
 */
export async function sendRecords(
  records: readonly LedgerRecord[],
  stripeCustomerId: string,
  deps: { reporter: Pick<MeterEventReporter, 'report' | 'counted'>; ledger: Pick<LedgerStore, 'update' | 'entries'> },
  now: number,
): Promise<LedgerRecord[]> {
  if (records.length === 0) return [];
  // Only a record Stripe may have forgotten needs the rest of the ledger (what it holds as sent).
  const ledger = records.some((r) => identifierExpired(r, now)) ? await deps.ledger.entries(records[0]!.customerId) : [];
  const { toSend, settled: checked, renewed } = await checkStaleRecords(records, ledger, stripeCustomerId, deps.reporter, now);
  // Stored before the send: a new identifier is in the ledger before Stripe can hold it.
  if (checked.length + renewed.length > 0) await deps.ledger.update([...checked, ...renewed]);
  // The guard, last before Stripe, by the business clock: a record Stripe would refuse (at once, or on the stream
  // hours later) is settled in error under the rule it breaks, so reconcile lists it; it is never sent nor dropped.
  const nowSec = Math.floor(now / 1000);
  const guarded: LedgerRecord[] = [];
  const going: { record: LedgerRecord; event: MeterEventToSend }[] = [];
  for (const r of toSend) {
    const event = { identifier: r.identifier, eventName: r.eventName, stripeCustomerId, value: r.value, timestamp: r.timestamp };
    const refused = guardMeterEvent(event, nowSec);
    if (refused) guarded.push({ ...r, state: 'error', lastError: refused.reason, errorDetail: refused.message });
    else going.push({ record: r, event });
  }
  const outcomes = going.length ? await deps.reporter.report(going.map((g) => g.event)) : [];
  const settled = [...guarded, ...outcomes.map((o, i) => settleRecord(going[i]!.record, o, now))];
  if (settled.length > 0) await deps.ledger.update(settled);
  return [...checked, ...settled];
}
