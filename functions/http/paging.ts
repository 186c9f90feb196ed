import { ValidationError } from '../../contract/errors.js';
import type { PageRequest } from '../core/shared/ports.js';

/** Items per page of a list route when the caller names no `limit`. */
export const DEFAULT_PAGE_LIMIT = 50;
/** Most items a list route reads for one request: keeps every response far below Lambda's 6 MB limit. */
export const MAX_PAGE_LIMIT = 200;

/**
 * The `limit` and `cursor` of a list route's query string: `limit` a whole number 1-200 (default 50);
 * `cursor` the one a previous page answered, opaque (the store checks it). A bad one is a 400 naming it.
 */
export function pageOf(q: Record<string, string | undefined>): PageRequest {
  const raw = q.limit;
  let limit = DEFAULT_PAGE_LIMIT;
  if (raw !== undefined) {
    limit = /^\d{1,4}$/.test(raw) ? Number(raw) : Number.NaN;
    if (!(limit >= 1 && limit <= MAX_PAGE_LIMIT))
      throw new ValidationError([{ field: 'limit', message: `must be a whole number from 1 to ${MAX_PAGE_LIMIT}` }]);
  }
  const cursor = q.cursor;
  if (cursor !== undefined && cursor.length === 0) throw new ValidationError([{ field: 'cursor', message: 'must not be empty' }]);
  return { limit, ...(cursor !== undefined ? { cursor } : {}) };
}
