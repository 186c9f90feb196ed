import { ValidationError } from '../../../contract/errors.js';

/** A page cursor: a query's or scan's last evaluated key (`pk`, `sk`), as base64url JSON. */
export const encodeKeyCursor = (key: Record<string, unknown>): string =>
  Buffer.from(JSON.stringify({ pk: key.pk, sk: key.sk })).toString('base64url');

/**
 * The key a cursor names, or a `ValidationError` on `cursor`: base64url JSON of exactly `{pk, sk}` strings whose
 * `pk` this listing could have handed out (`ours`), so a tampered cursor cannot start a read in another listing's items.
 */
export function decodeKeyCursor(cursor: string, ours: (pk: string) => boolean): { pk: string; sk: string } {
  const invalid = () => new ValidationError([{ field: 'cursor', message: 'is not a cursor this listing handed out' }]);
  if (!/^[A-Za-z0-9_-]{1,2048}$/.test(cursor)) throw invalid();
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (typeof key !== 'object' || key === null || Array.isArray(key)) throw invalid();
  const { pk, sk, ...rest } = key as Record<string, unknown>;
  if (typeof pk !== 'string' || typeof sk !== 'string' || Object.keys(rest).length > 0) throw invalid();
  if (pk.length > 1024 || sk.length === 0 || sk.length > 1024 || !ours(pk)) throw invalid();
  return { pk, sk };
}
