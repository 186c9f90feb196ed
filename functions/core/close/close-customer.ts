import type { Clock } from '../../../contract/clock.js';
import { DAY_MS, HOUR_MS, startOfUtcDay, utcDay } from '../../../contract/clock.js';
import { eventKey, type UsageEvent } from '../../../contract/event-contract.js';
import { settleRecord } from '../billing/ledger-settle.js';
import {
  billableUntil,
  type DeferredReport,
  type Hold,
  planReports,
  sendability,
  type UnreportableReport,
} from '../billing/reporting-plan.js';
import type { MeterEventReporter } from '../billing/stripe-reporting.js';
import type { FileOp } from '../count/usage-fragment.js';
import { MAX_HISTORY_DAYS } from '../fraud/constants.js';
import { detectFraud } from '../fraud/detect-fraud.js';
import { type ExpectedDetection, setAsideExpected } from '../fraud/expected-activity.js';
import { type HoldEscalation, type HoldPolicy, holdEscalations, holdsFromFlags } from '../fraud/holds.js';
import { flagRevision, type MergeResult, mergeFlags } from '../fraud/merge-flags.js';
import { FlagConflictError } from '../fraud/review-flag.js';
import type { CustomerActivityDay, Flag, PeerStats } from '../fraud/types.js';
import type { Customer, EventStore, FlagStore, LedgerRecord, LedgerStore, RollupStore, StoredDay } from '../shared/ports.js';
import { type BillingPeriod, daysOfPeriod, periodContaining } from './billing-period.js';
import { DEFAULT_METER_SETTINGS, type MeterSettings, rollupDay } from './daily-rollup.js';
import { type FileHistory, fileStateAt, fileTimeline, mergeFileOps, recomputeDays, utcDayStart } from './file-timeline.js';

export interface CloseDeps {
  events: Pick<EventStore, 'listDay'>;
  rollups: RollupStore;
  ledger: LedgerStore;
  /** Absent: plan and record only (a dry run, or no Stripe configured). */
  reporter?: MeterEventReporter;
  clock: Clock;
  settings?: MeterSettings;
  /** The Stripe account's invoice finalisation grace period (`STRIPE_INVOICE_GRACE_HOURS`); default 1 hour, Stripe's. */
  invoiceGraceMs?: number;
  /** Usage held back from Stripe by other means than fraud flags (planned once released). */
  holds?: (customerId: string) => Promise<Hold[]>;
  /** Fraud detection: the rules score the closed day and its late days on the customer's history before anything is planned. */
  fraud?: {
    flags: FlagStore;
    policy?: HoldPolicy;
    peers?: PeerStats;
    /** Told of the flags a night opened as soon as they are stored, so they are announced even if the rest of the close then fails (a retry finds them stored and opens nothing). */
    onOpened?: (flags: readonly Flag[]) => void;
  };
}

export interface CustomerCloseResult {
  customerId: string;
  /** Days whose values were (re)computed. */
  days: string[];
  planned: number;
  sent: number;
  failed: { identifier: string; state: 'pending' | 'error'; reason: string }[];
  unreportable: UnreportableReport[];
  /** What a hold kept back this time. */
  deferred: DeferredReport[];
  /** Flags this night opened or extended, and what the rules found inside the customer's expected activity (not flagged). */
  flags: { created: Flag[]; updated: Flag[]; expected: ExpectedDetection[] };
  /** Holds close to Stripe's 35-day limit: finance must decide now. */
  escalations: HoldEscalation[];
}

/**
 * Closes one customer's day: recomputes it, every late day, and every day of their periods that the
 * store lacks; stores the rollups; with `deps.fraud`, scores the day and its late days (`daysToScore`)
 * with the fraud rules, sets aside what the customer's expected activity covers (`setAsideExpected`),
 * merges the rest into the customer's flags and holds what the flags cover;
 * records the meter events to send in the ledger *before* sending them; then sends every pending (or
 * retryably failed) record. Rerunning it for the same day plans nothing new, opens no new flag, and
 * resends only what is still pending, under the same identifiers, so Stripe receives each value once.
 */
export async function closeCustomer(
  customer: Customer,
  day: string,
  lateDays: readonly string[],
  runId: string,
  deps: CloseDeps,
): Promise<CustomerCloseResult> {
  const now = deps.clock.now();
  const anchor = customer.anchorDay ?? 1;
  const targets = new Set([day, ...lateDays.filter((d) => d <= day)]);
  const periods = new Map<string, BillingPeriod>();
  for (const d of targets) {
    const p = periodContaining(utcDayStart(d)!, anchor);
    periods.set(p.key, p);
  }

  // Each period is recomputed from its first day to its latest closed day; days never stored are computed too.
  const ranges = new Map<string, { period: BillingPeriod; days: string[]; stored: Map<string, StoredDay> }>();
  for (const [key, p] of periods) {
    const all = daysOfPeriod(p);
    const stored = new Map((await deps.rollups.getDays(customer.id, all[0]!, all.at(-1)!)).map((s) => [s.day, s]));
    const latest = [...targets, ...stored.keys()]
      .filter((d) => all.includes(d))
      .sort()
      .at(-1)!;
    const days = all.filter((d) => d <= latest);
    for (const d of days) if (!stored.has(d)) targets.add(d);
    ranges.set(key, { period: p, days, stored });
  }

  const events = new Map<string, UsageEvent[]>();
  for (const d of [...targets].sort()) events.set(d, await deps.events.listDay(customer.id, d));

  // File histories take every operation first: a late operation changes the counts of the days after it.
  const stored = await deps.rollups.fileHistory(customer.id);
  const ops = [...events.values()].flat().flatMap(fileOpOf);
  const merged = mergeFileOps(stored, ops);
  const history: FileHistory = merged.history;
  const touchedFiles = new Map(ops.map((o) => [o[0], [...(history.get(o[0]) ?? [])] as FileOp[]]));
  const changedUsersByPeriod = new Map<string, Map<string, string>>();

  const days: StoredDay[] = [];
  for (const { period, days: range, stored: storedDays } of ranges.values()) {
    const files = recomputeDays(history, range);
    const timeline = fileTimeline(history);
    const users = await deps.rollups.periodUsers(customer.id, period.key);
    const changedUsers = new Map<string, string>();
    const computed = new Map<
      string,
      Pick<StoredDay, 'eventCount' | 'apiCalls' | 'apiCallsByHour' | 'activeUsers' | 'activeUsersByHour' | 'keys'>
    >();
    for (const d of range) {
      if (!targets.has(d)) continue;
      const r = rollupDay(events.get(d)!, d, fileStateAt(history, new Date(utcDayStart(d)!).toISOString()));
      computed.set(d, {
        eventCount: r.eventCount,
        apiCalls: r.apiCalls,
        apiCallsByHour: r.apiCallsByHour,
        activeUsers: r.activeUsers,
        activeUsersByHour: r.activeUsersByHour,
        keys: r.keys,
      });
      for (const u of r.activeUserIds) {
        const first = users.get(u);
        if (first === undefined || d < first) {
          users.set(u, d);
          changedUsers.set(u, d);
        }
      }
    }
    changedUsersByPeriod.set(period.key, changedUsers);
    const firstDays = [...users.values()].sort();
    let apiCalls = 0;
    let filesPeak = 0;
    let seen = 0;
    for (const d of range) {
      const own = computed.get(d) ?? pickOwn(storedDays.get(d)!);
      const f = files.get(d)!;
      apiCalls += own.apiCalls;
      filesPeak = Math.max(filesPeak, f.peak);
      while (seen < firstDays.length && firstDays[seen]! <= d) seen++;
      const ptd = { apiCalls, activeUsers: seen, filesPeak, filesEnd: f.end };
      const settings = deps.settings ?? DEFAULT_METER_SETTINGS;
      days.push({
        customerId: customer.id,
        day: d,
        periodKey: period.key,
        anchorDay: anchor,
        ...own,
        files: { start: f.start, end: f.end, peak: f.peak },
        filesByHour: Array.from({ length: 24 }, (_, h) => timeline.countAt(utcDayStart(d)! + (h + 1) * HOUR_MS - 1)),
        ptd,
        values: {
          api_calls: own.apiCalls,
          active_users: ptd.activeUsers,
          protected_files: settings.protected_files.basis === 'peak' ? filesPeak : f.end,
        },
        computedAt: new Date(now).toISOString(),
      });
    }
  }
  await deps.rollups.save(customer.id, { days, periodUsers: changedUsersByPeriod, files: touchedFiles });

  // Fraud first: usage a flag holds must not reach Stripe in this very run. Late days are scored again
  // with their late events, so fraud that arrives late is flagged, and held, like fraud on time.
  const fraud = deps.fraud
    ? await detectAndMerge(customer, daysToScore(day, lateDays, customer.createdAt), anchor, deps.rollups, deps.fraud, now)
    : { created: [], updated: [], expected: [], all: [] };
  if (fraud.created.length > 0) deps.fraud?.onOpened?.(fraud.created);
  const held = [...(deps.holds ? await deps.holds(customer.id) : []), ...holdsFromFlags(fraud.all, deps.fraud?.policy)];

  // Plan against everything the ledger holds, record the plan, then send whatever is not yet delivered.
  const before = await deps.ledger.entries(customer.id);
  const plan = planReports({
    nowMs: now,
    customers: [{ customerId: customer.id, anchorDay: anchor, days: days.map((d) => ({ day: d.day, values: d.values })) }],
    ledger: before.map(({ customerId, meter, day: d, revision, value }) => ({ customerId, meter, day: d, revision, value })),
    held,
    ...(deps.invoiceGraceMs !== undefined ? { invoiceGraceMs: deps.invoiceGraceMs } : {}),
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
  // Pending and retryably failed records go (the planner counts their values as reported, so nothing else
  // would ever send them); one left by an earlier run waits too while a hold now covers its day. One whose
  // period's invoice turned final meanwhile would be accepted and billed nowhere: settle it as such, and list it.
  const sendOptions = {
    nowMs: now,
    held,
    anchorDay: anchor,
    ...(deps.invoiceGraceMs !== undefined ? { invoiceGraceMs: deps.invoiceGraceMs } : {}),
  };
  const judged = ledger.map((r) => ({ r, verdict: sendability(r, sendOptions) }));
  const toSend = judged.filter((j) => j.verdict === 'send').map((j) => j.r);
  const invoiced = judged.filter((j) => j.verdict === 'invoiced').map((j) => j.r);
  if (invoiced.length > 0) await deps.ledger.update(invoiced.map((r) => ({ ...r, state: 'error' as const, lastError: 'period_invoiced' })));
  plan.unreportable.push(
    ...invoiced.map((r) => ({
      customerId: r.customerId,
      meter: r.meter,
      day: r.day,
      revision: r.revision,
      value: r.value,
      reason: 'period_invoiced' as const,
      message: 'left unsent until the invoice of its billing period turned final; bill it by hand',
    })),
  );
  const result: CustomerCloseResult = {
    customerId: customer.id,
    days: days.map((d) => d.day),
    planned: plan.events.length,
    sent: 0,
    failed: [],
    unreportable: plan.unreportable,
    deferred: plan.deferred,
    flags: { created: fraud.created, updated: fraud.updated, expected: fraud.expected },
    escalations: holdEscalations(held, now, (d) => billableUntil(d, anchor, deps.invoiceGraceMs)),
  };
  if (toSend.length === 0 || !deps.reporter) return result;

  if (!customer.stripeCustomerId) {
    await deps.ledger.update(toSend.map((r) => ({ ...r, state: 'error' as const, lastError: 'no_stripe_customer' })));
    for (const r of toSend) result.failed.push({ identifier: r.identifier, state: 'error', reason: 'no_stripe_customer' });
    return result;
  }
  const outcomes = await deps.reporter.report(
    toSend.map((r) => ({
      identifier: r.identifier,
      eventName: r.eventName,
      stripeCustomerId: customer.stripeCustomerId!,
      value: r.value,
      timestamp: r.timestamp,
    })),
  );
  const settled = outcomes.map((o, i) => settleRecord(toSend[i]!, o, now));
  await deps.ledger.update(settled);
  for (const rec of settled) {
    if (rec.state === 'sent') result.sent++;
    else result.failed.push({ identifier: rec.identifier, state: rec.state, reason: rec.lastError ?? '' });
  }
  return result;
}

function pickOwn(
  s: StoredDay,
): Pick<StoredDay, 'eventCount' | 'apiCalls' | 'apiCallsByHour' | 'activeUsers' | 'activeUsersByHour' | 'keys'> {
  return {
    eventCount: s.eventCount,
    apiCalls: s.apiCalls,
    apiCallsByHour: s.apiCallsByHour,
    activeUsers: s.activeUsers,
    ...(s.activeUsersByHour ? { activeUsersByHour: s.activeUsersByHour } : {}),
    ...(s.keys ? { keys: s.keys } : {}),
  };
}

function fileOpOf(e: UsageEvent): FileOp[] {
  if (e.type === 'com.serenity.file.protected') return [[e.fileId!, '+', Date.parse(e.time), eventKey(e)]];
  if (e.type === 'com.serenity.file.unprotected') return [[e.fileId!, '-', Date.parse(e.time), eventKey(e)]];
  return [];
}

/**
 * The days a close scores for fraud, oldest first: the closed `day`, and every late day before it (days
 * that got events after they were closed) that the fraud history still reaches, i.e. at most
 * `MAX_HISTORY_DAYS - 1` days before `day`, and that the account existed on. Older late days are
 * recomputed and reported but not scored again.
 */
export function daysToScore(day: string, lateDays: readonly string[], createdAt: string): string[] {
  const oldest = Math.max(utcDayStart(day)! - (MAX_HISTORY_DAYS - 1) * DAY_MS, startOfUtcDay(Date.parse(createdAt)));
  const late = lateDays.filter((d) => d < day && (utcDayStart(d) ?? -Infinity) >= oldest);
  return [...new Set([...late, day])].sort();
}

/**
 * Runs the fraud rules on each of `scored` (`daysToScore`) as the night it was closed would have, but with
 * its stored values as they are now: its own history of up to `MAX_HISTORY_DAYS` days ending with it
 * (zeros for days without usage, nothing before the account's creation day), its billing period, the
 * night's peers. The rollups are read once for the whole span. Every day's detections, oldest day first,
 * are merged into the customer's flags in one `mergeFlags` call, so a late pattern next to a flagged day
 * continues that flag, and a rerun creates and updates nothing.
 */
async function detectAndMerge(
  customer: Customer,
  scored: readonly string[],
  anchor: number,
  rollups: RollupStore,
  fraud: NonNullable<CloseDeps['fraud']>,
  now: number,
) {
  const created = Date.parse(customer.createdAt);
  // A day's history starts MAX_HISTORY_DAYS - 1 days before it, or on the creation day (on the day itself
  // when the account was created after it: the rules then see a new account).
  const historyStart = (end: number) => Math.min(end, Math.max(end - (MAX_HISTORY_DAYS - 1) * DAY_MS, startOfUtcDay(created)));
  const last = scored.at(-1)!;
  const spanStart = historyStart(utcDayStart(scored[0]!)!);
  const stored = new Map((await rollups.getDays(customer.id, utcDay(spanStart), last)).map((d) => [d.day, d]));
  const detections = scored.flatMap((day) => {
    const end = utcDayStart(day)!;
    const history: CustomerActivityDay[] = [];
    for (let t = historyStart(end); t <= end; t += DAY_MS) history.push(activityOf(utcDay(t), stored.get(utcDay(t))));
    return detectFraud({
      customerId: customer.id,
      day,
      createdAt: new Date(Math.min(created, end)).toISOString(),
      period: periodContaining(end, anchor),
      days: history,
      ...(fraud.peers ? { peers: fraud.peers } : {}),
    });
  });
  // What the customer told us to expect is recorded as expected, not flagged (read only when something was found).
  const { flagged, expected } =
    detections.length > 0 ? setAsideExpected(detections, await fraud.flags.expectedActivity(customer.id)) : { flagged: [], expected: [] };
  // An analyst may review one of these flags while the close merges: the store refuses a write over a
  // flag that moved on since it was read, and the merge is redone on the flags as they are then.
  let existing: Flag[] = [];
  let merged: MergeResult = { created: [], updated: [], suppressed: [] };
  for (let attempt = 1; ; attempt++) {
    existing = await fraud.flags.forCustomer(customer.id);
    merged = mergeFlags(existing, flagged, new Date(now).toISOString());
    const stored = new Map(existing.map((f) => [f.id, flagRevision(f)]));
    try {
      await fraud.flags.save([...merged.created, ...merged.updated].map((flag) => ({ flag, basedOn: stored.get(flag.id) })));
      break;
    } catch (err) {
      if (!(err instanceof FlagConflictError) || attempt >= MERGE_ATTEMPTS) throw err;
    }
  }
  const byId = new Map(existing.map((f) => [f.id, f]));
  for (const f of [...merged.created, ...merged.updated]) byId.set(f.id, f);
  return { created: merged.created, updated: merged.updated, expected, all: [...byId.values()] };
}

/** Times the close merges a customer's flags before a conflict with concurrent reviews fails its chunk (SQS retries it). */
const MERGE_ATTEMPTS = 3;

/** A stored day as the fraud rules read it; a day with no usage stored is all zeros. */
function activityOf(day: string, d: StoredDay | undefined): CustomerActivityDay {
  const zeros = new Array<number>(24).fill(0);
  return {
    day,
    apiCalls: d?.apiCallsByHour ?? zeros,
    activeUsers: d?.activeUsersByHour ?? zeros,
    activeUsersDay: d?.activeUsers ?? 0,
    protectedFiles: d?.filesByHour ?? new Array<number>(24).fill(d?.files.end ?? 0),
    keys: d?.keys ?? [],
  };
}
