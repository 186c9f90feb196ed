import { createHmac } from 'node:crypto';
import type { UsageEvent } from '../../../contract/event-contract.js';
import { USER_REF_PATTERN } from '../../../contract/event-contract.js';

/**
 * End users are never stored as sent. Each (customer, user) gets a random token, its *user ref* (`ur_` and 22
 * base64url characters), the first time the pipeline sees it; every table stores the ref. The ref is found again
 * through the user's *pseudonym*: an HMAC-SHA256 of the user id under the customer's own secret, which is only ever
 * the key of the mapping item. Erasing a user deletes that mapping: the ref stays in events, period user sets and
 * fragments, so every count stays exact, but nothing stored can be computed from the user id any more.
 */

/** The keyed pseudonym of a user id: the mapping item's key, never stored anywhere else. */
export function userPseudonym(secret: Uint8Array, userId: string): string {
  return createHmac('sha256', secret).update(`user\n${userId}`).digest('base64url');
}

/**
 * The key of an erased user's tombstone: another HMAC of the id under the same secret, in its own domain, so the
 * tombstone never holds the pseudonym. It lets the consumer give events still in flight the erased ref, and expires
 * after the queues' retention.
 */
export function tombstoneKey(secret: Uint8Array, userId: string): string {
  return createHmac('sha256', secret).update(`tombstone\n${userId}`).digest('base64url');
}

/** Whether a value is a user ref. */
export const isUserRef = (value: unknown): value is string => typeof value === 'string' && USER_REF_PATTERN.test(value);

/** What an id that names nobody we can tell is replaced by in a stored copy (a quarantined event without a customer). */
export const WITHHELD_USER = '[user id withheld]';

/**
 * Replaces, deep inside a stored copy, every string equal to `userId` by `replacement`: a metadata value equal to
 * the user's id names them as much as the id does. Keys are kept; depth is bounded as redaction bounds it.
 */
/**
 * A rejected event's `userId` that is no id a ref can be given to (a number, a boolean, an object) may still name
 * the person (an employee number, say): a stored copy withholds it. `at` is where the id sits: under `data` as
 * sent to ingest, or at the top of a queued event.
 */
export function withholdOddUserId<T>(raw: T, at: 'data' | 'top'): { raw: T; withheld: boolean } {
  const holder = (at === 'data' ? (raw as { data?: unknown } | null)?.data : raw) as Record<string, unknown> | null | undefined;
  const user = holder !== null && typeof holder === 'object' && !Array.isArray(holder) ? holder.userId : undefined;
  if (user === undefined || user === null || typeof user === 'string') return { raw, withheld: false };
  const held = { ...holder, userId: WITHHELD_USER };
  return { raw: (at === 'data' ? { ...(raw as object), data: held } : held) as T, withheld: true };
}

export function replaceUserId<T>(value: T, userId: string, replacement: string, depth = 0): T {
  if (typeof value === 'string') return (value === userId ? replacement : value) as T;
  if (depth > 16 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => replaceUserId(v, userId, replacement, depth + 1)) as T;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = replaceUserId(v, userId, replacement, depth + 1);
  return out as T;
}

/**
 * An event as the pipeline stores it: its user id replaced by the user's ref, metadata values equal to the id too.
 * An event that already carries a `userRef` (a replay of a quarantined event) keeps it as its user.
 */
export function withUserRef(e: UsageEvent, refs: ReadonlyMap<string, string>): UsageEvent {
  if (e.userRef !== undefined) {
    const { userRef, userId: _ignored, ...rest } = e;
    return { ...rest, userId: userRef };
  }
  if (e.userId === undefined) return e;
  const ref = refs.get(e.userId);
  if (ref === undefined) throw new Error('no user ref for an event: pseudonymize its users first');
  const out: UsageEvent = { ...e, userId: ref };
  if (e.metadata !== undefined) out.metadata = replaceUserId(e.metadata, e.userId, ref);
  return out;
}

/** The queue form of a stored event: its user as `userRef`, so a replay does not take the ref for an id. */
export function asQueued(e: UsageEvent): UsageEvent {
  if (e.userId === undefined || !isUserRef(e.userId)) return e;
  const { userId, ...rest } = e;
  return { ...rest, userRef: userId };
}

/** The distinct values `pick` gives for events (undefined: none), by customer. */
export function distinctByCustomer(events: readonly UsageEvent[], pick: (e: UsageEvent) => readonly string[]): Map<string, string[]> {
  const out = new Map<string, Set<string>>();
  for (const e of events) {
    const values = pick(e);
    if (values.length === 0) continue;
    const seen = out.get(e.customerId) ?? new Set<string>();
    for (const v of values) seen.add(v);
    out.set(e.customerId, seen);
  }
  return new Map([...out].map(([c, seen]) => [c, [...seen]]));
}

/** The distinct raw user ids of events, by customer (events carrying a ref need none). */
export function rawUsersByCustomer(events: readonly UsageEvent[]): Map<string, string[]> {
  return distinctByCustomer(events, (e) => (e.userRef !== undefined || e.userId === undefined ? [] : [e.userId]));
}
