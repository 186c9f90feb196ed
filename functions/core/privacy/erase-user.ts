import type { Clock } from '../../../contract/clock.js';
import { DAY_MS } from '../../../contract/clock.js';
import type { AuditLog, UserRefs } from '../shared/ports.js';
import { type PrivacyRequest, REQUEST_RETENTION_DAYS, TOMBSTONE_DAYS } from './requests.js';

export interface EraseUserDeps {
  userRefs: UserRefs;
  audit: AuditLog;
  clock: Clock;
  newId: () => string;
}

/**
 * Erases one end user of a customer. Every table stores the user's ref, never the id, and the ref is found only
 * through the mapping keyed by the user's pseudonym: deleting that mapping leaves nothing that can be computed from
 * the id, while every event, fragment and period user set (and so every count and invoice) stays exactly as it was.
 * The tombstone left in its place (another keyed hash of the id, with the ref) lasts `TOMBSTONE_DAYS`, so events
 * still queued or in the dead-letter queue count under the same ref and do not make a new mapping; after it
 * expires, a user who comes back is a new user to us. Idempotent: a rerun finds the tombstone; a crash between the
 * tombstone and the delete is finished by the rerun.
 */
export async function eraseUser(
  input: { customerId: string; userId: string; reason: string; actor: string },
  deps: EraseUserDeps,
): Promise<PrivacyRequest> {
  const now = deps.clock.now();
  const ref = await deps.userRefs.erase(input.customerId, input.userId, Math.floor((now + TOMBSTONE_DAYS * DAY_MS) / 1000));
  const at = new Date(now).toISOString();
  const request: PrivacyRequest = {
    id: deps.newId(),
    type: 'erase',
    customerId: input.customerId,
    ...(ref !== undefined ? { userRef: ref } : { unknownUser: true }),
    reason: input.reason,
    actor: input.actor,
    status: 'done',
    createdAt: at,
    updatedAt: at,
    progress: { step: 'done', done: 1, total: 1 },
    counts: { mappingsDeleted: ref === undefined ? 0 : 1, tombstones: 1 },
    notes:
      ref === undefined
        ? [
            'No data is held about this user: they were never counted for this customer.',
            `Events of theirs still in flight would count under a ref of their own until ${new Date(now + TOMBSTONE_DAYS * DAY_MS).toISOString().slice(0, 10)}, never linked to them.`,
          ]
        : [
            `The user's mapping is deleted: their events, period user sets, fragments, flags' evidence and quarantined events keep only the unlinkable ref ${ref}, so every count and invoice is unchanged.`,
            `Events still in flight count under the same ref until ${new Date(now + TOMBSTONE_DAYS * DAY_MS).toISOString().slice(0, 10)}; a user who comes back after that is a new user.`,
            'Backups (point-in-time recovery) keep the mapping until they expire, 35 days at most.',
          ],
    expiresAt: Math.floor((now + REQUEST_RETENTION_DAYS * DAY_MS) / 1000),
  };
  await deps.audit.record({
    id: `privacy-${request.id}`,
    action: 'privacy.erase',
    actor: input.actor,
    at,
    customerId: input.customerId,
    counts: request.counts,
    details: { request: request.id, subject: ref ?? 'unknown user', reason: input.reason },
  });
  return request;
}
