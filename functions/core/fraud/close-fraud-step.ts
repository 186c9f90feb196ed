import { DAY_MS, startOfUtcDay, utcDay } from '../../../contract/clock.js';
import { periodContaining } from '../close/billing-period.js';
import { utcDayStart } from '../close/file-timeline.js';
import { accountStart } from '../shared/customers.js';
import type { Customer, FlagStore, StoredDay } from '../shared/ports.js';
import { MAX_HISTORY_DAYS } from './constants.js';
import { detectFraud } from './detect-fraud.js';
import { type ExpectedDetection, setAsideExpected } from './expected-activity.js';
import { annotateForQueue, heldDays, heldQuantityOf } from './flag-queue.js';
import { flagRevision, type MergeResult, mergeFlags } from './merge-flags.js';
import { FlagConflictError } from './review-flag.js';
import type { CustomerActivityDay, Detection, Flag, PeerStats } from './types.js';

/**
 * A customer's activity from `fromDay` to `toDay` (inclusive), by day. The close's reader answers every
 * day (all zeros where nothing was used, `activityOf`); a day left out is one before the data begins,
 * as in an evaluation whose simulated world starts on a given day.
 */
export type ActivityReader = (customerId: string, fromDay: string, toDay: string) => Promise<ReadonlyMap<string, CustomerActivityDay>>;

/** What the fraud step reads and writes. */
export interface FraudStepDeps {
  activity: ActivityReader;
  flags: Pick<FlagStore, 'forCustomer' | 'save' | 'expectedActivity'>;
  /** The night's peer statistics, for the new-account rule. */
  peers?: PeerStats;
  /**
   * With it, every flag the step stores carries the queue's figures (`annotateForQueue`): its held quantity
   * (`heldQuantityOf`, from the activity the rules already read: no extra read) and its escalation deadline.
   * Open flags the merge left alone but whose days were scored again (late usage) get theirs refreshed too.
   */
  queueFigures?: { invoiceGraceMs?: number };
}

/** What the fraud step found and stored. */
export interface FraudStepResult {
  /** Every detection of every scored day, before expected activity and merging. */
  detections: Detection[];
  created: Flag[];
  updated: Flag[];
  /** What the rules found inside the customer's expected activity (recorded, not flagged). */
  expected: ExpectedDetection[];
  /** The customer's flags as they stand after the merge: what holds are drawn from. */
  all: Flag[];
}

/** Times the close merges a customer's flags before a conflict with concurrent reviews fails its chunk (SQS retries it). */
const MERGE_ATTEMPTS = 3;

/**
 * The days a close scores for fraud, oldest first: the closed `day`, and every late day before it (days
 * that got events after they were closed) that the fraud history still reaches, i.e. at most
 * `MAX_HISTORY_DAYS - 1` days before `day`, and not before the account's start when one was given at
 * registration (`startedAt`). A late day before the registration itself is scored: a customer migrated with
 * history sends such days. Older late days are recomputed and reported but not scored again.
 */
export function daysToScore(day: string, lateDays: readonly string[], startedAt?: string): string[] {
  const window = utcDayStart(day)! - (MAX_HISTORY_DAYS - 1) * DAY_MS;
  const oldest = startedAt === undefined ? window : Math.max(window, startOfUtcDay(Date.parse(startedAt)));
  const late = lateDays.filter((d) => d < day && (utcDayStart(d) ?? -Infinity) >= oldest);
  return [...new Set([...late, day])].sort();
}

/**
 * The nightly close's fraud step (and the fraud evaluation's, which calls this very function). Runs the
 * fraud rules on each of `scored` (`daysToScore`) as the night it was closed would have, but with its
 * values as they are now: its own history of up to `MAX_HISTORY_DAYS` days ending with it (nothing before
 * the account's creation day), its billing period, the night's peers. The activity is read once for the
 * whole span. What the customer told us to expect is set aside (`setAsideExpected`); every other
 * detection, oldest day first, is merged into the customer's flags in one `mergeFlags` call, so a late
 * pattern next to a flagged day continues that flag, and a rerun creates and updates nothing.
 */
export async function closeFraudStep(
  customer: Pick<Customer, 'id' | 'createdAt' | 'startedAt'>,
  scored: readonly string[],
  anchor: number,
  deps: FraudStepDeps,
  now: number,
): Promise<FraudStepResult> {
  const { detections, activity } = await detectScoredDays(customer, scored, anchor, deps);
  // Expected activity is read only when something was found.
  const { flagged, expected } =
    detections.length > 0 ? setAsideExpected(detections, await deps.flags.expectedActivity(customer.id)) : { flagged: [], expected: [] };
  const figures = deps.queueFigures && { ...deps.queueFigures, anchor, scored, activity };
  const { existing, merged } = await mergeAndStore(customer.id, flagged, deps.flags, now, figures);
  const byId = new Map(existing.map((f) => [f.id, f]));
  for (const f of [...merged.created, ...merged.updated]) byId.set(f.id, f);
  return { detections, created: merged.created, updated: merged.updated, expected, all: [...byId.values()] };
}

/** Each scored day's detections, on its own history window. */
async function detectScoredDays(
  customer: Pick<Customer, 'id' | 'createdAt' | 'startedAt'>,
  scored: readonly string[],
  anchor: number,
  deps: FraudStepDeps,
): Promise<{ detections: Detection[]; activity: ReadonlyMap<string, CustomerActivityDay> }> {
  if (scored.length === 0) return { detections: [], activity: new Map() };
  const first = utcDayStart(scored[0]!)!;
  // Without a start given at registration, the history is read back as far as the rules look, and the account
  // began with its earliest usage there when that is before its registration (a customer migrated with history).
  const reachBack = customer.startedAt === undefined ? first - (MAX_HISTORY_DAYS - 1) * DAY_MS : undefined;
  const activity = await deps.activity(customer.id, utcDay(reachBack ?? historyStart(first, accountStart(customer))), scored.at(-1)!);
  const created = accountStart(customer, reachBack === undefined ? undefined : earliestUsage(activity));
  const detections = scored.flatMap((day) => {
    const end = utcDayStart(day)!;
    const history: CustomerActivityDay[] = [];
    for (let t = historyStart(end, created); t <= end; t += DAY_MS) {
      const known = activity.get(utcDay(t));
      if (known) history.push(known);
    }
    return detectFraud({
      customerId: customer.id,
      day,
      createdAt: new Date(Math.min(created, end)).toISOString(),
      period: periodContaining(end, anchor),
      days: history,
      ...(deps.peers ? { peers: deps.peers } : {}),
    });
  });
  return { detections, activity };
}

/**
 * A day's history starts MAX_HISTORY_DAYS - 1 days before it, or on the account's first day (on the day itself
 * when the account began after it: the rules then see a new account).
 */
const historyStart = (end: number, start: number) => Math.min(end, Math.max(end - (MAX_HISTORY_DAYS - 1) * DAY_MS, startOfUtcDay(start)));

/** The start of the first day with any usage in `activity`, or undefined when it holds none. */
function earliestUsage(activity: ReadonlyMap<string, CustomerActivityDay>): number | undefined {
  let first: number | undefined;
  for (const d of activity.values()) {
    const used = d.activeUsersDay > 0 || d.keys.length > 0 || d.apiCalls.some((x) => x > 0) || d.protectedFiles.some((x) => x > 0);
    const t = utcDayStart(d.day);
    if (used && t !== undefined && (first === undefined || t < first)) first = t;
  }
  return first;
}

/**
 * Merges detections into the customer's stored flags and stores the result. An analyst may review one of
 * these flags while the close merges: the store refuses a write over a flag that moved on since it was
 * read, and the merge is redone on the flags as they are then.
 */
async function mergeAndStore(
  customerId: string,
  flagged: readonly Detection[],
  flags: FraudStepDeps['flags'],
  now: number,
  figures?: NonNullable<FraudStepDeps['queueFigures']> & {
    anchor: number;
    scored: readonly string[];
    activity: ReadonlyMap<string, CustomerActivityDay>;
  },
) {
  for (let attempt = 1; ; attempt++) {
    const existing = await flags.forCustomer(customerId);
    let merged: MergeResult = mergeFlags(existing, flagged, new Date(now).toISOString());
    let refreshed: Flag[] = [];
    if (figures) {
      // A flag whose days the activity read does not reach keeps the quantity it was stored with.
      const annotate = (f: Flag) =>
        annotateForQueue(f, heldQuantityOf(f, figures.activity) ?? f.heldQuantity ?? 0, figures.anchor, figures.invoiceGraceMs);
      const changed = new Set([...merged.created, ...merged.updated].map((f) => f.id));
      const rescored = existing.filter((f) => f.status === 'open' && !changed.has(f.id) && touchesAny(f, figures.scored));
      merged = { ...merged, created: merged.created.map(annotate), updated: merged.updated.map(annotate) };
      refreshed = rescored
        .map(annotate)
        .filter((f, i) => f.heldQuantity !== rescored[i]!.heldQuantity || f.escalateBy !== rescored[i]!.escalateBy);
    }
    const stored = new Map(existing.map((f) => [f.id, flagRevision(f)]));
    try {
      await flags.save([...merged.created, ...merged.updated, ...refreshed].map((flag) => ({ flag, basedOn: stored.get(flag.id) })));
      const byId = new Map(refreshed.map((f) => [f.id, f]));
      return { existing: existing.map((f) => byId.get(f.id) ?? f), merged };
    } catch (err) {
      if (!(err instanceof FlagConflictError) || attempt >= MERGE_ATTEMPTS) throw err;
    }
  }
}

/** Whether a flag's window touches any of `days` (UTC days). */
function touchesAny(f: Flag, days: readonly string[]): boolean {
  const { from, to } = heldDays(f.window);
  return days.some((d) => d >= from && d < to);
}

/** A stored day as the fraud rules read it; a day with no usage stored is all zeros. */
export function activityOf(day: string, d: StoredDay | undefined): CustomerActivityDay {
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

/** The close's `ActivityReader`: the stored rollups, every day of the span answered (zeros where none is stored). */
export function rollupActivity(rollups: {
  getDays(customerId: string, fromDay: string, toDay: string): Promise<StoredDay[]>;
}): ActivityReader {
  return async (customerId, fromDay, toDay) => {
    const stored = new Map((await rollups.getDays(customerId, fromDay, toDay)).map((d) => [d.day, d]));
    const out = new Map<string, CustomerActivityDay>();
    for (let t = utcDayStart(fromDay)!; t <= utcDayStart(toDay)!; t += DAY_MS)
      out.set(utcDay(t), activityOf(utcDay(t), stored.get(utcDay(t))));
    return out;
  };
}
