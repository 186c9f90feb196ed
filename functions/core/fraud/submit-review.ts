import type { Clock } from '../../../contract/clock.js';
import { NotFoundError } from '../../../contract/errors.js';
import { auditEntry } from '../shared/audit-entries.js';
import { stableUlid } from '../shared/ids.js';
import type { AuditLog, FlagStore, Registry, RollupStore } from '../shared/ports.js';
import { releasedDays } from './holds.js';
import { flagRevision } from './merge-flags.js';
import {
  FlagAlreadyReviewedError,
  FlagConflictError,
  type FlagReview,
  reviewEntry,
  reviewFlag,
  sameReview,
  validateReview,
} from './review-flag.js';
import type { Flag } from './types.js';

/** What a review reads and writes. */
export interface SubmitReviewDeps {
  flags: Pick<FlagStore, 'get' | 'save'>;
  rollups: Pick<RollupStore, 'markLate'>;
  registry: Pick<Registry, 'customers' | 'putCustomer'>;
  audit: AuditLog;
  clock: Clock;
}

/** Where the reviewer called from, as the audit trail may keep it. */
export interface ReviewCaller {
  ipPrefix?: string;
  region?: string;
}

/** Times a review is tried against a flag the nightly close changed in the meantime. */
const REVIEW_ATTEMPTS = 3;

/**
 * Confirms or dismisses flag `flagId` and does what follows: every review goes to the audit trail with
 * reviewer, decision, note, time and /24. A dismissal marks the flag's days late (`releasedDays`), so the
 * next close releases their usage, in whatever billing period they lie (while Stripe still bills it: see
 * `billableUntil`); a confirmation marks the customer for finance.
 *
 * Safe to retry: the flag is written only over the version that was read (a close extending it at the
 * same moment makes the review read it again, up to `REVIEW_ATTEMPTS` times), and the same reviewer
 * repeating the same decision and note on a flag already so reviewed gets the flag back with its
 * follow-ups (late marks, finance mark, audit entry, under a stable id) done again, once each, in case a
 * failure cut them short. Throws `NotFoundError` for an unknown flag and `FlagAlreadyReviewedError` for
 * any other review of a reviewed one.
 */
export async function submitReview(flagId: string, review: FlagReview, deps: SubmitReviewDeps, caller: ReviewCaller = {}): Promise<Flag> {
  validateReview(review, flagId);
  for (let attempt = 1; ; attempt++) {
    const flag = await deps.flags.get(flagId);
    if (!flag) throw new NotFoundError(`no flag ${flagId}`);
    if (flag.status !== 'open') {
      if (!sameReview(flag, review)) throw new FlagAlreadyReviewedError(flag);
      await reviewFollowUps(flag, deps, caller);
      return flag;
    }
    const reviewed = reviewFlag(flag, review);
    // Late marks before the flag: if the review then loses a race, the flag still holds those days and the close re-plans them to no effect.
    await deps.rollups.markLate(releasedDays(reviewed), deps.clock.now());
    try {
      await deps.flags.save([{ flag: reviewed, basedOn: flagRevision(flag) }]);
    } catch (err) {
      if (err instanceof FlagConflictError && attempt < REVIEW_ATTEMPTS) continue;
      throw err;
    }
    // Marked again now the dismissal is stored: a close that began before it, and so held these days, clears only older marks.
    await reviewFollowUps(reviewed, deps, caller);
    return reviewed;
  }
}

/**
 * What follows a stored review, each step idempotent so a retry can redo them all: the late marks (also
 * made before the flag was stored), the finance mark, the audit entry (its id from the review entry's time).
 */
async function reviewFollowUps(reviewed: Flag, deps: SubmitReviewDeps, caller: ReviewCaller): Promise<void> {
  const entry = reviewEntry(reviewed);
  if (!entry) throw new Error(`flag ${reviewed.id} is ${reviewed.status} but its history holds no review`);
  // Released usage goes out with the next close, whatever billing period it lies in.
  await deps.rollups.markLate(releasedDays(reviewed), deps.clock.now());
  if (reviewed.status === 'confirmed') {
    // Confirmed fraud keeps its usage held and puts the customer in front of finance.
    const customer = (await deps.registry.customers([reviewed.customerId])).get(reviewed.customerId);
    const financeReview = { flagId: reviewed.id, rule: reviewed.rule, by: entry.by, at: entry.at };
    if (customer) await deps.registry.putCustomer({ ...customer, financeReview, updatedAt: entry.at });
  }
  const at = Date.parse(entry.at);
  const decision = reviewed.status === 'confirmed' ? 'confirm' : 'dismiss';
  await deps.audit.record(
    auditEntry(stableUlid(at, `flag.review|${reviewed.id}|${entry.at}`), at, {
      action: 'flag.review',
      actor: entry.by,
      customerId: reviewed.customerId,
      ...caller,
      details: { flagId: reviewed.id, rule: reviewed.rule, decision, note: entry.note },
    }),
  );
}
