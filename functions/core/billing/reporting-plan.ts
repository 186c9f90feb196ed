// One idea in one file, though over 300 lines: the reporting plan, what the close sends to Stripe, with the
// rules (window, holds, invoice grace, revisions) that both the planner and the resends judge by.
import { DAY_MS, HOUR_MS } from '../../../contract/clock.js';
import { type FieldError, ValidationError } from '../../../contract/errors.js';
import { assertNever, METERS, type Meter } from '../../../contract/meters.js';
import { periodContaining } from '../close/billing-period.js';
import { utcDayStart } from '../close/file-timeline.js';
import type { LedgerRecord } from '../shared/ports.js';
import { awaitsSending } from './ledger-settle.js';
import { isSendableValue, MAX_REVISION, meterEventIdentifier, STRIPE_METERS } from './stripe-reporting.js';

/**
 * Which Stripe meter events the nightly close sends: the difference between what was computed and what
 * the ledger says Stripe already holds. Running it again after the events are recorded plans nothing.
 *
 * - `sum` meters (`api_calls`): Stripe holds, per day, the sum S of the day's revisions. A day whose
 *   total T differs gets the next revision with `T - S` (negative when the total went down). Nothing is
 *   sent when T equals S, so a day without calls and without earlier reports sends nothing.
 * - `last` meters (`active_users`, `protected_files`): Stripe bills the newest value in the period, so
 *   only the period-to-date value of the period's latest supplied day matters. It is sent as the next
 *   revision of that day when it differs from the newest value the ledger holds for the period (no
 *   report counts as 0, which is what Stripe bills without events).
 * - Timestamps: revision r of a day is stamped 23:00:00 + r seconds UTC of that day (3,600 revisions
 *   fit), so it lies in its day and billing period, and a day's later revision is newer than its earlier
 *   ones and than every earlier day's. Only closed days are planned, so a timestamp is at least one
 *   second in the past. One older than 35 days minus `windowMarginMs` is not planned but listed as
 *   `unreportable` (Stripe would reject it; the margin covers the time until it is sent).
 * - Values: one of more than 15 digits (`MAX_METER_VALUE`), which Stripe refuses, is listed as
 *   `unreportable` too, never split or sent.
 * - Holds `[from, to)` (UTC days) keep usage out of Stripe until released. A held `sum` day is deferred.
 *   A `last` meter's period-to-date value includes every earlier day of the period, so a hold on any
 *   day of a period up to its latest supplied day defers that period's report entirely; Stripe keeps
 *   its earlier value, and the release plans the then-current value.
 *
 * Record every planned event in the ledger before sending it: a revision is planned again, with the
 * same identifier, until the ledger holds it, and Stripe keeps the first value sent under an identifier.
 */

/** Stripe accepts meter events stamped up to 35 days in the past. */
export const STRIPE_WINDOW_MS = 35 * DAY_MS;
/** Default safety margin inside that window, for the time between planning and sending. */
export const DEFAULT_WINDOW_MARGIN_MS = HOUR_MS;
/** Revisions of a day are stamped one second apart from 23:00:00 UTC. */
export const MAX_REVISIONS_PER_DAY = 3_600;
const REVISION_BASE_SECONDS = 23 * 3_600;

/** Values computed for one closed day; a meter left out is not planned from this day. */
export interface ComputedDay {
  /** `YYYY-MM-DD`, a closed UTC day. */
  day: string;
  /** `sum` meters: the day's own total; `last` meters: the period-to-date value through the day (`valuesToReport`). */
  values: Partial<Record<Meter, number>>;
}

/** One customer's freshly computed days. For a `last` meter, include the latest closed day of each period touched. */
export interface CustomerUsage {
  customerId: string;
  /** Billing period anchor day (1-31); calendar months when absent. */
  anchorDay?: number;
  days: readonly ComputedDay[];
}

/** One meter event the ledger says was reported (or recorded as about to be). */
export interface LedgerEntry {
  customerId: string;
  meter: Meter;
  day: string;
  revision: number;
  value: number;
}

/** Usage held back from Stripe: one customer's meter over the UTC days `[from, to)`. */
export interface Hold {
  customerId: string;
  meter: Meter;
  from: string;
  to: string;
}

export interface ReportingPlanInput {
  /** Current time in ms, from the injected clock. */
  nowMs: number;
  customers: readonly CustomerUsage[];
  /** Everything already reported for these customers: at least every revision of the days and periods supplied. */
  ledger: readonly LedgerEntry[];
  held?: readonly Hold[];
  /** Defaults to `DEFAULT_WINDOW_MARGIN_MS`. */
  windowMarginMs?: number;
  /**
   * How long after a billing period ends Stripe still counts events stamped in it (the account's invoice
   * finalisation grace period: 1 hour by default, up to 72). Defaults to `DEFAULT_INVOICE_GRACE_MS`.
   */
  invoiceGraceMs?: number;
}

/** Stripe's default invoice finalisation grace period. */
export const DEFAULT_INVOICE_GRACE_MS = HOUR_MS;

/** The last moment Stripe still bills an event stamped on `day`: its billing period's end plus the invoice grace period. */
export function billableUntil(day: string, anchorDay: number | undefined, invoiceGraceMs: number = DEFAULT_INVOICE_GRACE_MS): number {
  return Date.parse(periodContaining(utcDayStart(day)!, anchorDay).end) + invoiceGraceMs;
}

/** One meter event to send. */
export interface PlannedEvent {
  customerId: string;
  meter: Meter;
  /** `serenity_api_calls`, `serenity_active_users` or `serenity_protected_files` (from `STRIPE_METERS`). */
  eventName: string;
  day: string;
  revision: number;
  /** An integer; negative only for a `sum` correction. */
  value: number;
  /** Unix seconds, inside `day`. */
  timestamp: number;
  /** `meterEventIdentifier` of (customer, meter, day, revision). */
  identifier: string;
}

/** A correction Stripe would refuse, kept visible instead of planned. */
export interface UnreportableReport {
  customerId: string;
  meter: Meter;
  day: string;
  revision: number;
  value: number;
  reason: 'outside_stripe_window' | 'revision_limit' | 'period_invoiced' | 'value_too_many_digits' | 'pending_beyond_stripe_window';
  message: string;
}

/** Usage not planned now because a hold covers it; planned by the first run after the release. */
export interface DeferredReport {
  customerId: string;
  meter: Meter;
  /** The held day (`sum`) or the period's latest supplied day (`last`). */
  day: string;
  reason: 'held';
  hold: Hold;
}

export interface ReportingPlan {
  events: PlannedEvent[];
  unreportable: UnreportableReport[];
  deferred: DeferredReport[];
}

/**
 * Stripe timestamp (Unix seconds) of a day's revision: 23:00:00 UTC plus `revision` seconds.
 * @example revisionTimestamp('2026-03-09', 2) // Date.parse('2026-03-09T23:00:02Z') / 1000
 */
export function revisionTimestamp(day: string, revision: number): number {
  const start = utcDayStart(day);
  if (start === undefined || !Number.isInteger(revision) || revision < 0 || revision >= MAX_REVISIONS_PER_DAY) {
    throw new ValidationError([
      { field: 'revision', message: `needs a UTC day and a revision 0-${MAX_REVISIONS_PER_DAY - 1}, got '${day}', ${revision}` },
    ]);
  }
  return start / 1000 + REVISION_BASE_SECONDS + revision;
}

/**
 * The hold that keeps one customer's meter on `day` from Stripe, if any: for a `sum` meter, a hold over
 * that day; for a `last` meter (a period-to-date value), a hold over any day of its period up to it.
 */
export function holdCovering(
  held: readonly Hold[],
  customerId: string,
  meter: Meter,
  day: string,
  anchorDay: number | undefined,
): Hold | undefined {
  const dayStart = utcDayStart(day)!;
  const fromMs = STRIPE_METERS[meter].formula === 'sum' ? dayStart : Date.parse(periodContaining(dayStart, anchorDay).start);
  return held.find(
    (h) => h.customerId === customerId && h.meter === meter && utcDayStart(h.from)! < dayStart + DAY_MS && fromMs < utcDayStart(h.to)!,
  );
}

/** Oldest meter event timestamp (Unix seconds) worth sending now: Stripe's window less the planner's margin. */
export function oldestSendableSec(nowMs: number, marginMs: number = DEFAULT_WINDOW_MARGIN_MS): number {
  return (nowMs - STRIPE_WINDOW_MS + marginMs) / 1000;
}

/**
 * What the nightly close does with a ledger record now, the one rule the close and reconciliation share:
 * - `send`: it waits to be sent (`awaitsSending`), lies inside Stripe's 35-day window (less the margin),
 *   no hold covers its day, and its period's invoice is still open;
 * - `invoiced`: the same, but its period's invoice is final: Stripe would take it and bill it nowhere;
 * - `expired`: it waits to be sent, but lies outside Stripe's window: it can never go;
 * - `keep`: anything else (sent, refused for good, held).
 */
export function sendability(
  r: Pick<LedgerEntry, 'customerId' | 'meter' | 'day'> & { state: LedgerRecord['state']; lastError?: string; timestamp: number },
  o: { nowMs: number; held: readonly Hold[]; anchorDay: number | undefined; invoiceGraceMs?: number },
): 'send' | 'invoiced' | 'expired' | 'keep' {
  if (!awaitsSending(r)) return 'keep';
  if (r.timestamp < oldestSendableSec(o.nowMs)) return 'expired';
  if (holdCovering(o.held, r.customerId, r.meter, r.day, o.anchorDay)) return 'keep';
  return o.nowMs > billableUntil(r.day, o.anchorDay, o.invoiceGraceMs) ? 'invoiced' : 'send';
}

/**
 * Plans the meter events that bring Stripe to the computed values (see the file comment for the rules).
 * Reports every input problem at once as a `ValidationError`.
 */
export function planReports(input: ReportingPlanInput): ReportingPlan {
  validate(input);
  const margin = input.windowMarginMs ?? DEFAULT_WINDOW_MARGIN_MS;
  const grace = input.invoiceGraceMs ?? DEFAULT_INVOICE_GRACE_MS;
  const oldestAllowedS = oldestSendableSec(input.nowMs, margin);
  const anchors = new Map(input.customers.map((c) => [c.customerId, c.anchorDay]));
  const periodKeyOf = (customerId: string, day: string) => periodContaining(utcDayStart(day)!, anchors.get(customerId)).key;

  // What Stripe holds per (customer, meter, day), and the newest `last` value per (customer, meter, period).
  const byDay = new Map<string, { sum: number; maxRevision: number }>();
  const newestInPeriod = new Map<string, LedgerEntry>();
  for (const e of dedupedLedger(input.ledger)) {
    if (!anchors.has(e.customerId)) continue;
    const dk = key(e.customerId, e.meter, e.day);
    const d = byDay.get(dk);
    byDay.set(dk, { sum: (d?.sum ?? 0) + e.value, maxRevision: Math.max(d?.maxRevision ?? -1, e.revision) });
    const pk = key(e.customerId, e.meter, periodKeyOf(e.customerId, e.day));
    const newest = newestInPeriod.get(pk);
    if (!newest || e.day > newest.day || (e.day === newest.day && e.revision > newest.revision)) newestInPeriod.set(pk, e);
  }

  const plan: ReportingPlan = { events: [], unreportable: [], deferred: [] };
  const errors: FieldError[] = [];
  const emit = (customerId: string, meter: Meter, day: string, value: number) => {
    const revision = (byDay.get(key(customerId, meter, day))?.maxRevision ?? -1) + 1;
    const base = { customerId, meter, day, revision, value };
    if (revision >= MAX_REVISIONS_PER_DAY) {
      plan.unreportable.push({
        ...base,
        reason: 'revision_limit',
        message: `a day holds ${MAX_REVISIONS_PER_DAY} revisions (one second each from 23:00:00 UTC)`,
      });
      return;
    }
    if (!isSendableValue(value)) {
      // Refused, not split: a `last` meter bills its newest event only, so a split value would bill a part;
      // and a day of a quadrillion calls is a counting fault to look at, not usage to bill unseen.
      plan.unreportable.push({
        ...base,
        reason: 'value_too_many_digits',
        message: 'Stripe refuses meter event values of more than 15 digits (since API version 2026-04-22); bill it by hand',
      });
      return;
    }
    const timestamp = revisionTimestamp(day, revision);
    if (input.nowMs > billableUntil(day, anchors.get(customerId), grace)) {
      // Stripe would accept it and bill it nowhere: the period's invoice is final.
      plan.unreportable.push({
        ...base,
        reason: 'period_invoiced',
        message: `the invoice of ${day}'s billing period is final (Stripe counts late events for ${grace / HOUR_MS} h after a period ends); bill it by hand`,
      });
      return;
    }
    if (timestamp < oldestAllowedS) {
      plan.unreportable.push({
        ...base,
        reason: 'outside_stripe_window',
        message: `Stripe accepts meter events from the past 35 days only (with a ${margin} ms margin)`,
      });
      return;
    }
    plan.events.push({
      ...base,
      eventName: STRIPE_METERS[meter].eventName,
      timestamp,
      identifier: meterEventIdentifier({ customerId, meter, day, revision }),
    });
  };

  for (const [ci, c] of input.customers.entries()) {
    for (const meter of METERS) {
      const days = c.days.filter((d) => d.values[meter] !== undefined);
      const formula = STRIPE_METERS[meter].formula;
      switch (formula) {
        case 'sum':
          for (const d of days) {
            const hold = holdCovering(input.held ?? [], c.customerId, meter, d.day, c.anchorDay);
            if (hold) {
              plan.deferred.push({ customerId: c.customerId, meter, day: d.day, reason: 'held', hold });
              continue;
            }
            const delta = d.values[meter]! - (byDay.get(key(c.customerId, meter, d.day))?.sum ?? 0);
            if (delta !== 0) emit(c.customerId, meter, d.day, delta);
          }
          break;
        case 'last': {
          const latestPerPeriod = new Map<string, ComputedDay>();
          for (const d of days) {
            const pk = periodKeyOf(c.customerId, d.day);
            const latest = latestPerPeriod.get(pk);
            if (!latest || d.day > latest.day) latestPerPeriod.set(pk, d);
          }
          for (const [periodKey, latest] of latestPerPeriod) {
            const newest = newestInPeriod.get(key(c.customerId, meter, periodKey));
            if (newest && newest.day > latest.day) {
              errors.push({
                field: `customers[${ci}].days`,
                message: `${meter} of period ${periodKey}: the ledger holds ${newest.day}, so the period-to-date value through ${newest.day} or later must be supplied, not only through ${latest.day}`,
              });
              continue;
            }
            const hold = holdCovering(input.held ?? [], c.customerId, meter, latest.day, c.anchorDay);
            if (hold) {
              plan.deferred.push({ customerId: c.customerId, meter, day: latest.day, reason: 'held', hold });
              continue;
            }
            const value = latest.values[meter]!;
            if (value !== (newest?.value ?? 0)) emit(c.customerId, meter, latest.day, value);
          }
          break;
        }
        default:
          assertNever(formula);
      }
    }
  }
  if (errors.length) throw new ValidationError(errors);
  const order = (a: { customerId: string; meter: Meter; day: string }, b: { customerId: string; meter: Meter; day: string }) =>
    cmp(a.customerId, b.customerId) || METERS.indexOf(a.meter) - METERS.indexOf(b.meter) || cmp(a.day, b.day);
  plan.events.sort(order);
  plan.unreportable.sort(order);
  plan.deferred.sort(order);
  return plan;
}

function validate(input: ReportingPlanInput): void {
  const errors: FieldError[] = [];
  const fail = (field: string, message: string) => errors.push({ field, message });
  const nowOk = Number.isFinite(input.nowMs);
  if (!nowOk) fail('nowMs', 'must be a time in ms');
  if (
    input.windowMarginMs !== undefined &&
    !(Number.isFinite(input.windowMarginMs) && input.windowMarginMs >= 0 && input.windowMarginMs < STRIPE_WINDOW_MS)
  ) {
    fail('windowMarginMs', 'must be between 0 and 35 days in ms');
  }
  const isMeter = (m: unknown) => (METERS as readonly unknown[]).includes(m);
  const customers = new Set<string>();
  input.customers.forEach((c, ci) => {
    const at = `customers[${ci}]`;
    if (typeof c.customerId !== 'string' || c.customerId.length < 1 || c.customerId.length > 256)
      fail(`${at}.customerId`, 'must be 1-256 characters');
    else if (customers.has(c.customerId)) fail(`${at}.customerId`, `'${c.customerId}' appears twice; give each customer one entry`);
    customers.add(c.customerId);
    if (c.anchorDay !== undefined && !(Number.isInteger(c.anchorDay) && c.anchorDay >= 1 && c.anchorDay <= 31))
      fail(`${at}.anchorDay`, 'must be a whole day of month, 1-31');
    const days = new Set<string>();
    c.days.forEach((d, di) => {
      const start = utcDayStart(d.day);
      if (start === undefined) fail(`${at}.days[${di}].day`, `must be a UTC day, YYYY-MM-DD, got '${d.day}'`);
      else if (nowOk && start + DAY_MS > input.nowMs)
        fail(`${at}.days[${di}].day`, `${d.day} is not closed yet; only closed days are reported`);
      if (days.has(d.day)) fail(`${at}.days[${di}].day`, `${d.day} appears twice`);
      days.add(d.day);
      for (const [m, v] of Object.entries(d.values)) {
        if (!isMeter(m)) fail(`${at}.days[${di}].values.${m}`, `is not a meter; expected one of ${METERS.join(', ')}`);
        else if (v !== undefined && !(Number.isSafeInteger(v) && v >= 0))
          fail(`${at}.days[${di}].values.${m}`, `must be a whole number >= 0, got ${v}`);
      }
    });
  });
  const revisions = new Map<string, number>();
  input.ledger.forEach((e, i) => {
    const at = `ledger[${i}]`;
    if (!isMeter(e.meter)) fail(`${at}.meter`, `must be one of ${METERS.join(', ')}`);
    if (utcDayStart(e.day) === undefined) fail(`${at}.day`, `must be a UTC day, YYYY-MM-DD, got '${e.day}'`);
    if (!(Number.isInteger(e.revision) && e.revision >= 0 && e.revision <= MAX_REVISION))
      fail(`${at}.revision`, `must be a whole number 0-${MAX_REVISION}`);
    if (!Number.isSafeInteger(e.value)) fail(`${at}.value`, 'must be a whole number');
    const k = `${key(e.customerId, e.meter, e.day)}\u0000${e.revision}`;
    const seen = revisions.get(k);
    if (seen !== undefined && seen !== e.value)
      fail(`${at}`, `revision ${e.revision} of ${e.customerId} ${e.meter} ${e.day} is recorded with two values, ${seen} and ${e.value}`);
    revisions.set(k, e.value);
  });
  (input.held ?? []).forEach((h, i) => {
    const at = `held[${i}]`;
    if (!isMeter(h.meter)) fail(`${at}.meter`, `must be one of ${METERS.join(', ')}`);
    const from = utcDayStart(h.from);
    const to = utcDayStart(h.to);
    if (from === undefined) fail(`${at}.from`, `must be a UTC day, YYYY-MM-DD, got '${h.from}'`);
    if (to === undefined) fail(`${at}.to`, `must be a UTC day, YYYY-MM-DD, got '${h.to}'`);
    if (from !== undefined && to !== undefined && !(from < to)) fail(`${at}.to`, 'must be after from (the range is [from, to))');
  });
  if (errors.length) throw new ValidationError(errors);
}

/** The ledger with repeated records of one revision (an at-least-once writer's retries) counted once. */
function dedupedLedger(ledger: readonly LedgerEntry[]): LedgerEntry[] {
  const seen = new Set<string>();
  return ledger.filter((e) => {
    const k = `${key(e.customerId, e.meter, e.day)}\u0000${e.revision}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

const key = (...parts: string[]) => parts.join('\u0000');
const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
