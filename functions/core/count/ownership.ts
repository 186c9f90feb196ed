import { eventKey, type UsageEvent } from '../../../contract/event-contract.js';

/** What the store already holds for an event key: the message that counted it. */
export type ExistingOwners = ReadonlyMap<string, string>;

export interface Claim {
  /** Events this message counts: new ones plus ones it stored on an earlier, interrupted delivery. */
  owned: UsageEvent[];
  /** Owned events not yet stored: the only ones to write. */
  toWrite: UsageEvent[];
  /** Events another message already counted (client retries, overlapping batches). */
  duplicates: UsageEvent[];
}

/**
 * Decides which events a message counts. An event belongs to the first message that stored it;
 * a redelivered message finds its own mark and counts the event again into the same idempotent fragment.
 * `skip` holds keys that an earlier message of the same batch claims.
 */
export function claimEvents(
  message: string,
  events: readonly UsageEvent[],
  existing: ExistingOwners,
  skip: ReadonlySet<string> = new Set(),
): Claim {
  const claim: Claim = { owned: [], toWrite: [], duplicates: [] };
  const seen = new Set<string>();
  for (const e of events) {
    const key = eventKey(e);
    if (seen.has(key)) {
      claim.duplicates.push(e);
      continue;
    }
    seen.add(key);
    const owner = existing.get(key);
    if (owner === message) {
      // Stored by an earlier delivery of this very message: count it again, whatever else the batch holds.
      claim.owned.push(e);
    } else if (owner === undefined && !skip.has(key)) {
      claim.owned.push(e);
      claim.toWrite.push(e);
    } else {
      claim.duplicates.push(e);
    }
  }
  return claim;
}
