import { createHmac, createSecretKey, type KeyObject, randomBytes } from 'node:crypto';
import { ulid } from 'ulid';
import { looksLikeCardNumber } from '../contract/privacy.js';

// Ids go through the same card-number scan as every other string of an event. The separators
// below are never '-' or ' ', so digit runs of different parts cannot join into a 13+ digit run.

/** A random id for one emitter instance: 12 hex characters, so it alone can never look like a card number. */
export function newInstanceId(): string {
  return randomBytes(6).toString('hex');
}

/**
 * Id of a sealed api.call aggregate: unique per instance through `seq`, readable through the minute.
 * Fixed at sealing, so every retry re-sends the same id.
 */
export function apiCallId(instanceId: string, minute: number, seq: number): string {
  return `ac_${instanceId}_${minute.toString(36)}_${seq.toString(36)}`;
}

/**
 * The key of user.active ids: `secret` (the `userIdKey` option), or else 32 random bytes. A KeyObject,
 * because neither its inspection nor its JSON shows the key, so logging resolved options cannot leak it.
 */
export function newUserIdKey(secret?: string): KeyObject {
  return createSecretKey(secret === undefined ? randomBytes(32) : Buffer.from(secret, 'utf8'));
}

/**
 * Id of a user.active event: an HMAC-SHA256 of (customer, user, UTC hour) under `key`, so a stored id
 * cannot be turned back into its user by hashing guessed user ids. Processes given the same
 * `userIdKey` and source make the same id, so the pipeline's (source, id) dedupe collapses repeats;
 * with per-instance random keys, processes make different ids for one user-hour, which costs only
 * extra stored events (distinct-user counts are by user, not by event id, so billing stays exact).
 */
export function userActiveId(key: KeyObject, customerId: string, userId: string, hour: number): string {
  // A deterministic salt replaces the (astronomically rare) MAC that would read as a card number.
  for (let salt = 0; ; salt++) {
    const mac = createHmac('sha256', key)
      .update(JSON.stringify([customerId, userId, hour, salt]))
      .digest('base64url')
      .slice(0, 22);
    const id = `ua_${hour.toString(36)}_${mac}`;
    if (!looksLikeCardNumber(id)) return id;
  }
}

/** Id of a file event: a ULID fixed at record time (redrawn in the rare case it reads as a card number). */
export function fileEventId(now: number): string {
  for (;;) {
    const id = ulid(now);
    if (!looksLikeCardNumber(id)) return id;
  }
}
