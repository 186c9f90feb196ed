import { ConflictError, type FieldError, StateConflictError, ValidationError } from '../../../contract/errors.js';
import { looksLikeCardNumber } from '../../../contract/privacy.js';
import type { Flag } from './types.js';

/** An analyst's decision on an open flag. */
export interface FlagReview {
  decision: 'confirm' | 'dismiss';
  /** Why; required, at most `MAX_NOTE_LENGTH` characters. */
  note: string;
  /** Who decided: from authentication (the analyst key's principal), never from the request body. */
  reviewer: string;
  /** When, ISO-8601 UTC, from the injected clock. */
  at: string;
}

/** Longest review note accepted, in characters. */
export const MAX_NOTE_LENGTH = 2000;

/** The flag was already reviewed: a conflict that waiting cannot resolve (HTTP 409). */
export class FlagAlreadyReviewedError extends StateConflictError {
  constructor(readonly flag: Pick<Flag, 'id' | 'status' | 'history'>) {
    const last = reviewEntry(flag);
    super(`flag ${flag.id} is already ${flag.status}${last ? ` by ${last.by} at ${last.at}` : ''}; only open flags can be reviewed`, {
      flagId: flag.id,
      status: flag.status,
    });
  }
}

/** Flags whose stored version moved on since they were read (a review and a close, or two reviews, at once): read again and redo. */
export class FlagConflictError extends ConflictError {
  constructor(readonly flagIds: readonly string[]) {
    super(`flag(s) ${flagIds.join(', ')} changed since they were read; read them again`, { flagIds });
  }
}

const REVIEW_KEYS = new Set(['decision', 'note', 'reviewer', 'at']);

/**
 * Confirms or dismisses an open flag, returning the reviewed flag (the input is not changed): the
 * status moves, the note joins `notes`, and `history` records reviewer, decision, note and time.
 * Bad input throws a `ValidationError` naming every problem; a flag that is not open throws
 * `FlagAlreadyReviewedError`. A note holding something like a card number is refused, never echoed.
 *
 * @example reviewFlag(flag, { decision: 'dismiss', note: 'launch day, expected', reviewer: 'ana', at: now })
 */
export function reviewFlag(flag: Flag, review: FlagReview): Flag {
  validateReview(review, flag.id);
  if (flag.status !== 'open') throw new FlagAlreadyReviewedError(flag);
  const at = new Date(Date.parse(review.at)).toISOString();
  const note = review.note.trim();
  // A review ends the claim: nobody is working on a decided flag.
  const { claim: _claim, ...unclaimed } = flag;
  return {
    ...unclaimed,
    status: review.decision === 'confirm' ? 'confirmed' : 'dismissed',
    notes: [...flag.notes, { at, by: review.reviewer, text: note }],
    history: [...flag.history, { at, by: review.reviewer, action: review.decision === 'confirm' ? 'confirmed' : 'dismissed', note }],
  };
}

/**
 * The review history entry of a reviewed flag when it records exactly `review`'s reviewer, decision and
 * note: a retry of that review (its follow-ups may not have run), not a second opinion.
 */
export function sameReview(flag: Flag, review: Pick<FlagReview, 'decision' | 'note' | 'reviewer'>): Flag['history'][number] | undefined {
  // The review entry, wherever it is: a confirmed flag that continued has been extended since.
  const last = reviewEntry(flag);
  const action = review.decision === 'confirm' ? 'confirmed' : 'dismissed';
  return last && last.action === action && last.by === review.reviewer && last.note === review.note.trim() ? last : undefined;
}

/** A flag's latest review (confirmed or dismissed) in its history, if it has one; later entries may follow it (a confirmed flag goes on being extended). */
export function reviewEntry(flag: Pick<Flag, 'history'>): Flag['history'][number] | undefined {
  return [...flag.history].reverse().find((h) => h.action === 'confirmed' || h.action === 'dismissed');
}

/** Checks a review, naming every problem at once (`ValidationError`). */
export function validateReview(review: FlagReview, flagId?: string): void {
  const errors: FieldError[] = [];
  for (const key of Object.keys(review)) if (!REVIEW_KEYS.has(key)) errors.push({ field: key, message: 'unknown field' });
  if (review.decision !== 'confirm' && review.decision !== 'dismiss')
    errors.push({ field: 'decision', message: "must be 'confirm' or 'dismiss'" });
  if (typeof review.note !== 'string' || review.note.trim().length === 0) errors.push({ field: 'note', message: 'is required: say why' });
  else if (review.note.length > MAX_NOTE_LENGTH) errors.push({ field: 'note', message: `must be at most ${MAX_NOTE_LENGTH} characters` });
  else if (looksLikeCardNumber(review.note))
    errors.push({ field: 'note', message: 'looks like it holds a payment card number; it is refused and not stored' });
  if (typeof review.reviewer !== 'string' || review.reviewer.length < 1 || review.reviewer.length > 256)
    errors.push({ field: 'reviewer', message: 'must be 1-256 characters' });
  if (typeof review.at !== 'string' || !Number.isFinite(Date.parse(review.at)))
    errors.push({ field: 'at', message: 'must be an ISO-8601 instant' });
  if (errors.length > 0) throw new ValidationError(errors, flagId ? { flagId } : {});
}
