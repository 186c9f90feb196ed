import { type FieldError, MeteringError, ValidationError } from '../../../contract/errors.js';
import { validateReview } from './review-flag.js';
import { type ReviewCaller, type SubmitReviewDeps, submitReview } from './submit-review.js';

/** Most flags one bulk review takes. */
export const MAX_BULK_REVIEW = 100;

/** One flag's outcome in a bulk review: its status after it, or why it was not reviewed. */
export interface BulkReviewResult {
  id: string;
  ok: boolean;
  status?: string;
  error?: string;
}

/** Checks a bulk review's ids (1-100 distinct non-empty strings), naming the field at fault. */
export function validateBulkIds(ids: unknown): string[] {
  const errors: FieldError[] = [];
  if (!Array.isArray(ids) || ids.length < 1 || ids.length > MAX_BULK_REVIEW)
    errors.push({ field: 'ids', message: `must be a list of 1 to ${MAX_BULK_REVIEW} flag ids` });
  else
    ids.forEach((id, i) => {
      if (typeof id !== 'string' || id.length < 1 || id.length > 256) errors.push({ field: `ids[${i}]`, message: 'must be a flag id' });
    });
  if (errors.length > 0) throw new ValidationError(errors);
  return [...new Set(ids as string[])];
}

/**
 * Dismisses each of `ids` with one note, each on its own through `submitReview` (its late marks and its
 * audit entry, exactly as a single review): one flag failing (unknown, already reviewed otherwise) does not
 * stop the others. Errors that are not a domain answer (a DynamoDB outage) are rethrown: a retry is safe.
 */
export async function bulkDismiss(
  ids: readonly string[],
  review: { note: string; reviewer: string; at: string },
  deps: SubmitReviewDeps,
  caller: ReviewCaller = {},
): Promise<BulkReviewResult[]> {
  // One note for all: refused once, before any flag is touched.
  validateReview({ decision: 'dismiss', ...review });
  const out: BulkReviewResult[] = [];
  for (const id of ids) {
    try {
      const flag = await submitReview(id, { decision: 'dismiss', ...review }, deps, caller);
      out.push({ id, ok: true, status: flag.status });
    } catch (err) {
      if (!(err instanceof MeteringError) || err.retryable) throw err;
      const status = (err as { flag?: { status?: string } }).flag?.status;
      out.push({ id, ok: false, ...(status ? { status } : {}), error: err.message });
    }
  }
  return out;
}
