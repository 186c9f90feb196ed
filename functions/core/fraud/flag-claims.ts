import type { Clock } from '../../../contract/clock.js';
import { AuthError, NotFoundError, StateConflictError } from '../../../contract/errors.js';
import { auditEntry } from '../shared/audit-entries.js';
import { stableUlid } from '../shared/ids.js';
import type { AuditLog, FlagStore } from '../shared/ports.js';
import { flagRevision } from './merge-flags.js';
import { FlagConflictError } from './review-flag.js';
import type { ReviewCaller } from './submit-review.js';
import type { Flag } from './types.js';

/** Someone else holds the flag (HTTP 409); the message names who, so the analyst knows whom to ask. */
export class FlagClaimedError extends StateConflictError {
  constructor(flag: Pick<Flag, 'id' | 'claim'>) {
    super(`flag ${flag.id} is assigned to ${flag.claim?.by} since ${flag.claim?.at}`, { flagId: flag.id, claimedBy: flag.claim?.by });
  }
}

/**
 * `by` takes the open flag `flag` in hand: the flag with its claim set and a `claimed` history entry (which
 * moves its revision, so a close that read the flag before cannot store over the claim). Claiming one's own
 * claim again changes nothing (`undefined`: nothing to store). Throws `FlagClaimedError` when someone else
 * holds it, and a `StateConflictError` for a reviewed flag.
 */
export function claimFlag(flag: Flag, by: string, at: string): Flag | undefined {
  if (flag.status !== 'open') throw new StateConflictError(`flag ${flag.id} is ${flag.status}; only open flags can be assigned`);
  if (flag.claim?.by === by) return undefined;
  if (flag.claim) throw new FlagClaimedError(flag);
  return { ...flag, claim: { by, at }, history: [...flag.history, { at, by, action: 'claimed' }] };
}

/**
 * Gives up the claim on `flag`: only its claimer or an admin may (`AuthError` 403 otherwise). A flag
 * nobody holds stays as it is (`undefined`).
 */
export function releaseFlag(flag: Flag, by: string, isAdmin: boolean, at: string): Flag | undefined {
  if (!flag.claim) return undefined;
  if (flag.claim.by !== by && !isAdmin)
    throw new AuthError(`flag ${flag.id} is assigned to ${flag.claim.by}; only they or an admin can release it`, 403);
  const { claim: _claim, ...rest } = flag;
  return {
    ...rest,
    history: [...flag.history, { at, by, action: 'released', ...(flag.claim.by === by ? {} : { note: `was ${flag.claim.by}` }) }],
  };
}

/** What claiming and releasing read and write. */
export interface ClaimDeps {
  flags: Pick<FlagStore, 'get' | 'save'>;
  audit: AuditLog;
  clock: Clock;
}

/** Times a claim is tried against a flag the nightly close changed in the meantime. */
const CLAIM_ATTEMPTS = 3;

/**
 * Claims (`claim`) or releases (`release`) flag `flagId` for `actor`, stores it over the revision read
 * (redone on a conflict with a close), and records `flag.claim` / `flag.unclaim` in the audit trail.
 * A request that changes nothing (one's own claim again, an unclaimed flag released) stores and records nothing.
 */
export async function changeClaim(
  flagId: string,
  change: 'claim' | 'release',
  actor: { principal: string; isAdmin: boolean },
  deps: ClaimDeps,
  caller: ReviewCaller = {},
): Promise<Flag> {
  for (let attempt = 1; ; attempt++) {
    const flag = await deps.flags.get(flagId);
    if (!flag) throw new NotFoundError(`no flag ${flagId}`);
    const now = deps.clock.now();
    const at = new Date(now).toISOString();
    const next = change === 'claim' ? claimFlag(flag, actor.principal, at) : releaseFlag(flag, actor.principal, actor.isAdmin, at);
    if (!next) return flag;
    try {
      await deps.flags.save([{ flag: next, basedOn: flagRevision(flag) }]);
    } catch (err) {
      if (err instanceof FlagConflictError && attempt < CLAIM_ATTEMPTS) continue;
      throw err;
    }
    const action = change === 'claim' ? 'flag.claim' : 'flag.unclaim';
    await deps.audit.record(
      auditEntry(stableUlid(now, `${action}|${flagId}|${at}`), now, {
        action,
        actor: actor.principal,
        customerId: flag.customerId,
        ...caller,
        details: { flagId, ...(change === 'release' && flag.claim ? { claimedBy: flag.claim.by } : {}) },
      }),
    );
    return next;
  }
}
