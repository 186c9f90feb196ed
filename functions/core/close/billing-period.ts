import { DAY_MS, utcDay } from '../../../contract/clock.js';
import { type FieldError, ValidationError } from '../../../contract/errors.js';

/**
 * Billing periods: half-open `[start, end)` intervals in UTC.
 *
 * Without an anchor day (or with anchor 1) a period is a calendar month, keyed `YYYY-MM`.
 * With an anchor day `A` (2-31) a period starts at 00:00 UTC on day `A` of a month and ends where
 * the next one starts; it is keyed by its first day, `YYYY-MM-DD`.
 *
 * The end-of-month rule follows Stripe's billing cycle anchor (docs.stripe.com/billing/subscriptions/billing-cycle):
 * "a billing cycle anchor date of January 31 bills the last day of the month closest to the anchor date,
 * so February 28 (or February 29 in a leap year), then March 31, April 30, and so on." So in a month
 * shorter than `A`, the period starts on that month's last day, and the clamping never carries over:
 * the following month starts on day `A` again where it exists. Anchor 31 gives
 * `[Jan 31, Feb 28)`, `[Feb 28, Mar 31)`, `[Mar 31, Apr 30)`, `[Apr 30, May 31)`.
 * Periods are therefore 28 to 31 days long and can differ in length from month to month.
 *
 * Keys are unique per anchor day, not globally: `2026-02-28` is the start of a period for anchors 28 to 31,
 * each with a different end. Store the anchor day beside a key (the period carries it).
 */
export interface BillingPeriod {
  /** `YYYY-MM` for calendar months, `YYYY-MM-DD` (the first day) for anchored periods. */
  key: string;
  /** Inclusive start, ISO-8601 UTC (`2026-02-28T00:00:00.000Z`). */
  start: string;
  /** Exclusive end, ISO-8601 UTC: the next period's start. */
  end: string;
  /** 1 for calendar months, else the anchor day the period was computed with. */
  anchorDay: number;
}

/** Earliest instant a period may contain: billing never reaches back before the Unix epoch. */
export const MIN_PERIOD_INSTANT_MS = Date.UTC(1970, 0, 1);
/** Latest instant a period may contain, so that every key and ISO string keeps a four-digit year. */
export const MAX_PERIOD_INSTANT_MS = Date.UTC(9999, 10, 1) - 1;

/**
 * The billing period holding `instantMs`.
 * @example periodContaining(Date.parse('2026-03-05T10:00:00Z'), 31) // { key: '2026-02-28', start: '2026-02-28T00:00:00.000Z', end: '2026-03-31T00:00:00.000Z', anchorDay: 31 }
 */
export function periodContaining(instantMs: number, anchorDay?: number): BillingPeriod {
  const anchor = checkedAnchor(anchorDay, checkInstant(instantMs));
  const at = new Date(instantMs);
  const year = at.getUTCFullYear();
  const month = at.getUTCMonth();
  const startsThisMonth = instantMs >= anchorDate(year, month, anchor);
  return periodStartingIn(year, startsThisMonth ? month : month - 1, anchor);
}

/**
 * The period a key names, for the anchor day it was made with.
 * @example periodForKey('2024-02-29', 31).end // '2024-03-31T00:00:00.000Z'
 */
export function periodForKey(key: string, anchorDay?: number): BillingPeriod {
  const anchor = checkedAnchor(anchorDay, []);
  const match = /^(\d{4})-(\d{2})(?:-(\d{2}))?$/.exec(key);
  const year = Number(match?.[1]);
  const month = Number(match?.[2]) - 1;
  const day = match?.[3] === undefined ? undefined : Number(match[3]);
  const wanted = anchor === 1 ? 'YYYY-MM' : 'YYYY-MM-DD';
  if (!match || month < 0 || month > 11 || (anchor === 1) !== (day === undefined)) {
    throw new ValidationError([{ field: 'key', message: `must be ${wanted} for anchor day ${anchor}, got '${key}'` }]);
  }
  const period = periodStartingIn(year, month, anchor);
  // In range when any of its instants is: the first period may start in December 1969.
  if (Date.parse(period.end) <= MIN_PERIOD_INSTANT_MS || Date.parse(period.start) > MAX_PERIOD_INSTANT_MS) {
    throw new ValidationError([{ field: 'key', message: `must name a period between 1970-01 and 9999-10, got '${key}'` }]);
  }
  if (period.key !== key) {
    throw new ValidationError([
      { field: 'key', message: `no period with anchor day ${anchor} starts on ${key}; that month's starts on ${period.key}` },
    ]);
  }
  return period;
}

/** The period just before `period` (its end is `period.start`). */
export function previousPeriod(period: BillingPeriod): BillingPeriod {
  return periodContaining(Date.parse(period.start) - 1, period.anchorDay);
}

/** The period just after `period` (its start is `period.end`). */
export function nextPeriod(period: BillingPeriod): BillingPeriod {
  return periodContaining(Date.parse(period.end), period.anchorDay);
}

/**
 * The UTC days of a period, `YYYY-MM-DD`, first to last.
 * @example daysOfPeriod(periodForKey('2026-02')).length // 28
 */
export function daysOfPeriod(period: BillingPeriod): string[] {
  const days: string[] = [];
  const end = Date.parse(period.end);
  for (let t = Date.parse(period.start); t < end; t += DAY_MS) days.push(utcDay(t));
  return days;
}

/** True when `instantMs` lies in `[start, end)`. */
export function periodContains(period: BillingPeriod, instantMs: number): boolean {
  return instantMs >= Date.parse(period.start) && instantMs < Date.parse(period.end);
}

/** Number of days in a UTC month (`month` 0-11); Gregorian leap years (2000 leap, 2100 not). */
export function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
}

function periodStartingIn(year: number, month: number, anchor: number): BillingPeriod {
  const start = anchorDate(year, month, anchor);
  const end = anchorDate(year, month + 1, anchor);
  const startIso = new Date(start).toISOString();
  return {
    key: anchor === 1 ? startIso.slice(0, 7) : startIso.slice(0, 10),
    start: startIso,
    end: new Date(end).toISOString(),
    anchorDay: anchor,
  };
}

/** 00:00 UTC of day `anchor` of the month, clamped to the month's last day; months may overflow (-1, 12). */
function anchorDate(year: number, month: number, anchor: number): number {
  const first = new Date(Date.UTC(year, month, 1));
  const y = first.getUTCFullYear();
  const m = first.getUTCMonth();
  return Date.UTC(y, m, Math.min(anchor, daysInMonth(y, m)));
}

function checkInstant(instantMs: number): FieldError[] {
  if (!Number.isFinite(instantMs) || instantMs < MIN_PERIOD_INSTANT_MS || instantMs > MAX_PERIOD_INSTANT_MS) {
    return [{ field: 'instant', message: `must be an instant between 1970-01-01 and 9999-10-31, got ${instantMs}` }];
  }
  return [];
}

/** Validates the anchor (reporting every problem at once with `pending`) and normalises absent to 1. */
function checkedAnchor(anchorDay: number | undefined, pending: FieldError[]): number {
  const errors = [...pending];
  if (anchorDay !== undefined && !(Number.isInteger(anchorDay) && anchorDay >= 1 && anchorDay <= 31)) {
    errors.push({ field: 'anchorDay', message: `must be a whole day of month, 1-31, got ${anchorDay}` });
  }
  if (errors.length) throw new ValidationError(errors);
  return anchorDay ?? 1;
}
