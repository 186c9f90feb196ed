import { DAY_MS, startOfUtcDay, utcDay } from '../../../contract/clock.js';
import { type FieldError, ValidationError } from '../../../contract/errors.js';
import { METERS, type Meter } from '../../../contract/meters.js';
import { type Hold, STRIPE_WINDOW_MS } from '../billing/reporting-plan.js';
import { utcDayStart } from '../close/file-timeline.js';
import { HOLD_ESCALATION_AGE_MS } from './constants.js';
import { type Detection, FLAG_SEVERITIES, type Flag, type FlagSeverity } from './types.js';

/** Which open flags hold usage back from Stripe. */
export interface HoldPolicy {
  /** Open flags of these severities hold their usage. Default `['high']`. */
  holdSeverities: readonly FlagSeverity[];
}

/** Hold only what open high flags cover (and what confirmed flags cover). */
export const DEFAULT_HOLD_POLICY: HoldPolicy = { holdSeverities: ['high'] };

/** A hold close to Stripe's backdating limit: release or decide it now, or its usage can no longer be billed. */
export interface HoldEscalation extends Hold {
  /** When the hold's first day falls out of Stripe's 35-day window (its 00:00 UTC + 35 days). */
  deadline: string;
  /** Whole days left until then (0 on the last day, negative once passed). */
  daysLeft: number;
}

/**
 * The usage to keep from Stripe, as the reporting plan takes it (`Hold`: customer, meter, UTC days
 * `[from, to)`), from the customer's flags:
 * - an open flag holds when its severity is in `policy.holdSeverities`;
 * - a confirmed flag always holds, whatever its severity: confirmed fraud waits for finance;
 * - a dismissed flag holds nothing, so its usage goes out with the next nightly close, stamped with
 *   its original days.
 * A flag holds its own meter (every rule names the meter it suspects: `leaked_key` and
 * `off_hours_burst` hold `api_calls`, `account_sharing` `active_users`, `end_of_period_gaming`
 * `protected_files`, `volume_spike` and `new_account_surge` the meter that surged), over every UTC day
 * its window touches, and every other meter folded into it (`evidence.alsoMatched` entries with a
 * meter: a new account that surged on several). Overlapping or adjacent holds of one customer and meter
 * are merged.
 *
 * @example holdsFromFlags(flags) // [{ customerId: 'cus-1', meter: 'api_calls', from: '2026-03-09', to: '2026-03-11' }]
 */
export function holdsFromFlags(flags: readonly Flag[], policy: HoldPolicy = DEFAULT_HOLD_POLICY): Hold[] {
  validatePolicy(policy);
  const held = new Set(policy.holdSeverities);
  const ranges = new Map<string, { customerId: string; meter: Hold['meter']; from: number; to: number }[]>();
  for (const f of flags) {
    const holds = f.status === 'confirmed' || (f.status === 'open' && held.has(f.severity));
    if (!holds) continue;
    const from = startOfUtcDay(Date.parse(f.window.from));
    const to = startOfUtcDay(Date.parse(f.window.to) - 1) + DAY_MS;
    for (const meter of suspectMeters(f)) {
      const key = `${f.customerId}\u0000${meter}`;
      ranges.set(key, [...(ranges.get(key) ?? []), { customerId: f.customerId, meter, from, to }]);
    }
  }
  const out: Hold[] = [];
  for (const list of ranges.values()) {
    list.sort((a, b) => a.from - b.from);
    let cur = { ...list[0]! };
    for (const r of list.slice(1)) {
      if (r.from <= cur.to) cur.to = Math.max(cur.to, r.to);
      else {
        out.push(toHold(cur));
        cur = { ...r };
      }
    }
    out.push(toHold(cur));
  }
  return out.sort(
    (a, b) => a.customerId.localeCompare(b.customerId) || METERS.indexOf(a.meter) - METERS.indexOf(b.meter) || a.from.localeCompare(b.from),
  );
}

/**
 * Holds that must be escalated loudly: those within 7 days of the moment their first day's usage can no
 * longer be billed, oldest first. That is Stripe's 35-day backdating limit (escalated from 28 days of
 * age) or, when `billableUntil` says so (the closed day's billing period's invoice turning final), earlier.
 *
 * @example holdEscalations(holdsFromFlags(flags), clock.now()).map((e) => `${e.customerId} ${e.meter}: ${e.daysLeft} days left`)
 */
export function holdEscalations(holds: readonly Hold[], nowMs: number, billableUntil?: (day: string) => number): HoldEscalation[] {
  const errors: FieldError[] = [];
  if (!Number.isFinite(nowMs)) errors.push({ field: 'nowMs', message: 'must be a time in ms' });
  holds.forEach((h, i) => {
    if (utcDayStart(h.from) === undefined)
      errors.push({ field: `holds[${i}].from`, message: `must be a UTC day, YYYY-MM-DD, got '${h.from}'` });
  });
  if (errors.length > 0) throw new ValidationError(errors);
  const lead = STRIPE_WINDOW_MS - HOLD_ESCALATION_AGE_MS;
  return holds
    .map((h) => ({
      h,
      deadline: Math.min(utcDayStart(h.from)! + STRIPE_WINDOW_MS, billableUntil ? billableUntil(h.from) : Number.POSITIVE_INFINITY),
    }))
    .filter(({ deadline }) => nowMs >= deadline - lead)
    .map(({ h, deadline }) => ({ ...h, deadline: new Date(deadline).toISOString(), daysLeft: Math.floor((deadline - nowMs) / DAY_MS) }))
    .sort((a, b) => a.from.localeCompare(b.from) || a.customerId.localeCompare(b.customerId));
}

/**
 * The days a dismissal releases, as late marks for the next nightly close: every UTC day the flag's
 * window touches. A close recomputes and plans only the billing periods of its own day and of its late
 * days, so without these marks usage held in an earlier period would never go out. Nothing for a flag
 * that is not dismissed (confirmed usage stays held).
 *
 * @example await rollups.markLate(releasedDays(dismissed))
 */
export function releasedDays(flag: Flag): { customerId: string; day: string }[] {
  if (flag.status !== 'dismissed') return [];
  const out: { customerId: string; day: string }[] = [];
  for (let t = startOfUtcDay(Date.parse(flag.window.from)); t < Date.parse(flag.window.to); t += DAY_MS)
    out.push({ customerId: flag.customerId, day: utcDay(t) });
  return out;
}

function toHold(r: { customerId: string; meter: Hold['meter']; from: number; to: number }): Hold {
  return { customerId: r.customerId, meter: r.meter, from: utcDay(r.from), to: utcDay(r.to) };
}

function validatePolicy(policy: HoldPolicy): void {
  const errors: FieldError[] = [];
  for (const key of Object.keys(policy)) if (key !== 'holdSeverities') errors.push({ field: key, message: 'unknown option' });
  if (!Array.isArray(policy.holdSeverities))
    errors.push({ field: 'holdSeverities', message: `must be a list of ${FLAG_SEVERITIES.join(', ')}` });
  else
    policy.holdSeverities.forEach((s, i) => {
      if (!FLAG_SEVERITIES.includes(s))
        errors.push({ field: `holdSeverities[${i}]`, message: `must be one of ${FLAG_SEVERITIES.join(', ')}` });
    });
  if (errors.length > 0) throw new ValidationError(errors);
}

/** The meters a detection (or flag) is about: its own, and every other meter folded into it; a flag holds them all. */
export function suspectMeters(f: Detection): Meter[] {
  const extra = (f.evidence.alsoMatched ?? []).flatMap((m) => (m.meter && m.meter !== f.meter ? [m.meter] : []));
  return [...new Set([f.meter, ...extra])];
}
