import { DAY_MS } from '../../../contract/clock.js';
import { type FieldError, StateConflictError, ValidationError } from '../../../contract/errors.js';
import { METERS, type Meter } from '../../../contract/meters.js';
import { looksLikeCardNumber } from '../../../contract/privacy.js';
import { type Detection, FRAUD_RULES, type FraudRule } from './types.js';

/**
 * Unusual usage a customer told us to expect: a backfill, a migration, a load test. While it lasts, the
 * nightly close does not flag (nor hold) what its rules find on its meters inside its window; it records
 * them as expected instead. Registered by an analyst or admin, audited; never edited, only withdrawn
 * (`withdrawExpectedActivity`), after which it sets nothing aside.
 */
export interface ExpectedActivity {
  id: string;
  customerId: string;
  /** ISO-8601 UTC, `[from, to)`. */
  from: string;
  to: string;
  /** The rules it silences; default the volume rules (`DEFAULT_EXPECTED_RULES`). */
  rules: FraudRule[];
  /** The meters it covers; default all. */
  meters: Meter[];
  reason: string;
  /** The key holder who registered it. */
  createdBy: string;
  createdAt: string;
  /** Set once withdrawn: who and when. */
  withdrawnBy?: string;
  withdrawnAt?: string;
}

/** What the caller may send. */
export interface ExpectedActivityRequest {
  from?: unknown;
  to?: unknown;
  rules?: unknown;
  meters?: unknown;
  reason?: unknown;
}

/** A backfill or a load test is volume: by default only the volume rules are silenced; a leak or sharing still flags. */
export const DEFAULT_EXPECTED_RULES: readonly FraudRule[] = ['volume_spike', 'off_hours_burst'];

/** An expected window lasts at most this long: a standing exemption is no review at all. */
export const MAX_EXPECTED_DAYS = 31;

const MAX_REASON_LENGTH = 500;
const REQUEST_KEYS = new Set(['from', 'to', 'rules', 'meters', 'reason']);

/**
 * Validates a request and makes the record; every problem is reported at once, by field. The window
 * must end after `now` (expecting the past changes nothing already flagged) and last at most
 * `MAX_EXPECTED_DAYS`. A reason that looks like a card number is refused and not stored.
 *
 * @example expectedActivityOf({ from: '2026-03-09T00:00:00Z', to: '2026-03-11T00:00:00Z', reason: 'reindexing' }, { id, customerId: 'cus-1', createdBy: 'ana', now })
 */
export function expectedActivityOf(
  body: ExpectedActivityRequest,
  ctx: { id: string; customerId: string; createdBy: string; now: number },
): ExpectedActivity {
  const errors: FieldError[] = [];
  for (const key of Object.keys(body)) if (!REQUEST_KEYS.has(key)) errors.push({ field: key, message: 'unknown field' });
  const from = instant(body.from, 'from', errors);
  const to = instant(body.to, 'to', errors);
  if (from !== undefined && to !== undefined) {
    if (to <= from) errors.push({ field: 'to', message: 'must be after from' });
    else if (to - from > MAX_EXPECTED_DAYS * DAY_MS)
      errors.push({ field: 'to', message: `must be at most ${MAX_EXPECTED_DAYS} days after from` });
    if (to <= ctx.now) errors.push({ field: 'to', message: 'must be in the future: expecting the past changes nothing' });
  }
  const rules = subset(body.rules, 'rules', FRAUD_RULES, DEFAULT_EXPECTED_RULES, errors);
  const meters = subset(body.meters, 'meters', METERS, METERS, errors);
  if (typeof body.reason !== 'string' || body.reason.trim().length === 0)
    errors.push({ field: 'reason', message: 'is required: say what the customer expects' });
  else if (body.reason.length > MAX_REASON_LENGTH)
    errors.push({ field: 'reason', message: `must be at most ${MAX_REASON_LENGTH} characters` });
  else if (looksLikeCardNumber(body.reason))
    errors.push({ field: 'reason', message: 'looks like it holds a payment card number; it is refused and not stored' });
  if (errors.length > 0) throw new ValidationError(errors, { customerId: ctx.customerId });
  return {
    id: ctx.id,
    customerId: ctx.customerId,
    from: new Date(from!).toISOString(),
    to: new Date(to!).toISOString(),
    rules,
    meters,
    reason: (body.reason as string).trim(),
    createdBy: ctx.createdBy,
    createdAt: new Date(ctx.now).toISOString(),
  };
}

/** A detection set aside as expected, and the expectation that covers it. */
export interface ExpectedDetection {
  detection: Detection;
  expectedActivityId: string;
}

/**
 * Splits a night's detections: those lying wholly inside an expectation of their customer (not
 * withdrawn) that names their rule and meter are set aside as expected; the others go on to be flagged. A pattern that spills
 * out of the window is flagged whole.
 *
 * @example const { flagged, expected } = setAsideExpected(detections, await flags.expectedActivity(customerId))
 */
export function setAsideExpected(
  detections: readonly Detection[],
  expectations: readonly ExpectedActivity[],
): { flagged: Detection[]; expected: ExpectedDetection[] } {
  const flagged: Detection[] = [];
  const expected: ExpectedDetection[] = [];
  for (const d of detections) {
    const cover = expectations.find(
      (e) =>
        e.withdrawnAt === undefined &&
        e.customerId === d.customerId &&
        e.rules.includes(d.rule) &&
        e.meters.includes(d.meter) &&
        Date.parse(e.from) <= Date.parse(d.window.from) &&
        Date.parse(d.window.to) <= Date.parse(e.to),
    );
    if (cover) expected.push({ detection: d, expectedActivityId: cover.id });
    else flagged.push(d);
  }
  return { flagged, expected };
}

/**
 * Withdraws an expectation (it sets nothing aside from then on; what it set aside before stays
 * expected). Withdrawing one twice is refused, naming who withdrew it.
 *
 * @example withdrawExpectedActivity(e, { by: 'ana', at: new Date().toISOString() })
 */
export function withdrawExpectedActivity(e: ExpectedActivity, w: { by: string; at: string }): ExpectedActivity {
  if (e.withdrawnAt !== undefined) throw new ExpectedActivityWithdrawnError(e);
  return { ...e, withdrawnBy: w.by, withdrawnAt: w.at };
}

/** An expectation was already withdrawn (HTTP 409). */
export class ExpectedActivityWithdrawnError extends StateConflictError {
  constructor(e: ExpectedActivity) {
    super(`expected activity ${e.id} was already withdrawn by ${e.withdrawnBy} at ${e.withdrawnAt}`, { expectedActivityId: e.id });
  }
}

function instant(v: unknown, field: string, errors: FieldError[]): number | undefined {
  // With its offset: without one, Date.parse reads the time as the server's local time.
  const t =
    typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(v) ? Date.parse(v) : Number.NaN;
  if (Number.isNaN(t)) {
    errors.push({ field, message: 'must be an ISO-8601 instant with its offset (Z or ±hh:mm), e.g. 2026-03-09T00:00:00Z' });
    return undefined;
  }
  return t;
}

function subset<T extends string>(v: unknown, field: string, allowed: readonly T[], fallback: readonly T[], errors: FieldError[]): T[] {
  if (v === undefined) return [...fallback];
  if (!Array.isArray(v) || v.length === 0) {
    errors.push({ field, message: `must be a non-empty list of ${allowed.join(', ')}` });
    return [];
  }
  const bad = v.filter((x) => !(allowed as readonly unknown[]).includes(x));
  if (bad.length > 0) errors.push({ field, message: `unknown: ${bad.map(String).join(', ')}; must be among ${allowed.join(', ')}` });
  return [...new Set(v as T[])];
}
