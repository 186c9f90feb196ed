import { DAY_MS, startOfUtcDay, utcDay } from '../../../contract/clock.js';
import { billableUntil, STRIPE_WINDOW_MS } from '../billing/reporting-plan.js';
import { DEFAULT_HOLD_POLICY, type HoldPolicy } from './holds.js';
import type { CustomerActivityDay, Flag, FlagClaim, TimeWindow } from './types.js';

/** A flag as the queue lists it: no evidence series, notes or history, plus where it stands against its hold's deadline. */
export interface QueuedFlag extends Omit<Flag, 'evidence' | 'notes' | 'history' | 'heldQuantity'> {
  evidence: Pick<Flag['evidence'], 'summary' | 'observed' | 'expected'>;
  holding: boolean;
  heldQuantity: number;
  escalateBy?: string;
  daysLeft?: number;
  claim?: FlagClaim;
}

/**
 * Whether an open flag holds its usage from Stripe now: the same test as `holdsFromFlags` (a confirmed
 * flag always holds, an open one when its severity is in the policy, a dismissed one never).
 */
export function isHolding(flag: Pick<Flag, 'status' | 'severity'>, policy: HoldPolicy = DEFAULT_HOLD_POLICY): boolean {
  return flag.status === 'confirmed' || (flag.status === 'open' && policy.holdSeverities.includes(flag.severity));
}

/**
 * When a hold over `window` must be decided, in ms: the earliest of its first UTC day + 35 days (Stripe's
 * backdating limit) and, with the customer's anchor, the end of the billing period holding that day plus
 * the invoice grace (the invoice turns final). Without an anchor only Stripe's limit is known.
 */
export function escalationDeadline(window: TimeWindow, anchorDay?: number, invoiceGraceMs?: number): number {
  const first = startOfUtcDay(Date.parse(window.from));
  const stripe = first + STRIPE_WINDOW_MS;
  return anchorDay === undefined ? stripe : Math.min(stripe, billableUntil(utcDay(first), anchorDay, invoiceGraceMs));
}

/** The UTC days `[from, to)` a flag's window touches (what a hold keeps back). */
export function heldDays(window: TimeWindow): { from: string; to: string } {
  const from = startOfUtcDay(Date.parse(window.from));
  const to = startOfUtcDay(Date.parse(window.to) - 1) + DAY_MS;
  return { from: utcDay(from), to: utcDay(to) };
}

/**
 * What a flag holds of its own meter over the UTC days its window touches, from the days' activity: API
 * calls summed; active users and protected files, which Stripe is told as period-to-date levels, at their
 * highest day. Undefined when `activity` holds none of the days (the caller keeps what it had).
 */
export function heldQuantityOf(
  flag: Pick<Flag, 'meter' | 'window'>,
  activity: ReadonlyMap<string, CustomerActivityDay>,
): number | undefined {
  const { from, to } = heldDays(flag.window);
  let found = false;
  let total = 0;
  for (let t = Date.parse(`${from}T00:00:00Z`); t < Date.parse(`${to}T00:00:00Z`); t += DAY_MS) {
    const d = activity.get(utcDay(t));
    if (!d) continue;
    found = true;
    switch (flag.meter) {
      case 'api_calls':
        total += d.apiCalls.reduce((a, b) => a + b, 0);
        break;
      case 'active_users':
        total = Math.max(total, d.activeUsersDay);
        break;
      case 'protected_files':
        total = Math.max(total, ...d.protectedFiles);
        break;
      default: {
        const never: never = flag.meter;
        throw new Error(`unknown meter ${never as string}`);
      }
    }
  }
  return found ? total : undefined;
}

/** The flag with the close's queue figures set: its held quantity and its escalation deadline. */
export function annotateForQueue(flag: Flag, heldQuantity: number, anchorDay: number, invoiceGraceMs?: number): Flag {
  return { ...flag, heldQuantity, escalateBy: new Date(escalationDeadline(flag.window, anchorDay, invoiceGraceMs)).toISOString() };
}

/** The escalation deadline stored by the close, or Stripe's limit for a flag stored without one. */
const deadlineOf = (flag: Pick<Flag, 'window' | 'escalateBy'>) =>
  flag.escalateBy !== undefined ? Date.parse(flag.escalateBy) : escalationDeadline(flag.window);

const QUANTITY_DIGITS = 16;
const MAX_QUANTITY = 10 ** QUANTITY_DIGITS - 1;
const SCORE_SCALE = 1_000_000;

/**
 * The sort key of an open flag in the urgency index, or undefined for a flag that is not open (it leaves
 * the index). Ascending string order is the queue's order: holding flags (`H#`) first, by escalation
 * deadline, then by held quantity and score, both descending (stored as their complement, zero-padded);
 * then the others (`N#`) by score descending. The id last keeps keys unique and the order total.
 */
export function urgencyKey(flag: Flag, policy: HoldPolicy = DEFAULT_HOLD_POLICY): string | undefined {
  if (flag.status !== 'open') return undefined;
  const score = String(SCORE_SCALE - Math.round(Math.min(1, Math.max(0, flag.score)) * SCORE_SCALE)).padStart(7, '0');
  if (!isHolding(flag, policy)) return `N#${score}#${flag.id}`;
  const quantity = Math.min(MAX_QUANTITY, Math.max(0, Math.round(flag.heldQuantity ?? 0)));
  return `H#${new Date(deadlineOf(flag)).toISOString()}#${String(MAX_QUANTITY - quantity).padStart(QUANTITY_DIGITS, '0')}#${score}#${flag.id}`;
}

/** Where a flag stands against its hold: `holding`, the quantity, and for a holding flag its deadline and whole days left (negative once passed). */
export function holdStanding(
  flag: Flag,
  nowMs: number,
  policy: HoldPolicy = DEFAULT_HOLD_POLICY,
): Pick<QueuedFlag, 'holding' | 'heldQuantity' | 'escalateBy' | 'daysLeft'> {
  const holding = isHolding(flag, policy);
  const heldQuantity = flag.heldQuantity ?? 0;
  if (!holding) return { holding, heldQuantity };
  const deadline = deadlineOf(flag);
  return { holding, heldQuantity, escalateBy: new Date(deadline).toISOString(), daysLeft: Math.floor((deadline - nowMs) / DAY_MS) };
}

/** A flag as a queue row (see `QueuedFlag`). */
export function queueRow(flag: Flag, nowMs: number, policy: HoldPolicy = DEFAULT_HOLD_POLICY): QueuedFlag {
  const { evidence, notes: _notes, history: _history, heldQuantity: _q, escalateBy: _e, ...rest } = flag;
  return {
    ...rest,
    evidence: { summary: evidence.summary, observed: evidence.observed, expected: evidence.expected },
    ...holdStanding(flag, nowMs, policy),
  };
}

/** The queue's order on rows already read (the same order as `urgencyKey` for open flags). */
export function byUrgency(policy: HoldPolicy = DEFAULT_HOLD_POLICY) {
  return (a: Flag, b: Flag): number => {
    const ka = urgencyKey(a, policy) ?? `~${a.id}`;
    const kb = urgencyKey(b, policy) ?? `~${b.id}`;
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  };
}
