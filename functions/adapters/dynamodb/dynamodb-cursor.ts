import { ValidationError } from '../../../contract/errors.js';

/** The refusal of a cursor no listing of ours handed out, for listings that check fields of their own too. */
export const invalidCursor = () => new ValidationError([{ field: 'cursor', message: 'is not a cursor this listing handed out' }]);

/** A page cursor: the named fields of a query's or scan's last evaluated key, as base64url JSON. */
export const encodeCursor = (key: Record<string, unknown>, fields: readonly string[] = ['pk', 'sk']): string =>
  Buffer.from(JSON.stringify(Object.fromEntries(fields.map((f) => [f, key[f]])))).toString('base64url');

/**
 * The fields a cursor encodes, or a `ValidationError` on `cursor`: base64url JSON of an object, nothing else.
 * Each listing then checks the fields are exactly the key it hands out.
 */
export function cursorFields(cursor: string): Record<string, unknown> {
  if (!/^[A-Za-z0-9_-]{1,2048}$/.test(cursor)) throw invalidCursor();
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalidCursor();
  }
  if (typeof key !== 'object' || key === null || Array.isArray(key)) throw invalidCursor();
  return key as Record<string, unknown>;
}

/** A page cursor of a `{pk, sk}` key. */
export const encodeKeyCursor = (key: Record<string, unknown>): string => encodeCursor(key);

/**
 * The key a cursor names, or a `ValidationError` on `cursor`: base64url JSON of exactly `{pk, sk}` strings whose
 * `pk` this listing could have handed out (`ours`), so a tampered cursor cannot start a read in another listing's items.
 */
export function decodeKeyCursor(cursor: string, ours: (pk: string) => boolean): { pk: string; sk: string } {
  const { pk, sk, ...rest } = cursorFields(cursor);
  if (typeof pk !== 'string' || typeof sk !== 'string' || Object.keys(rest).length > 0) throw invalidCursor();
  if (pk.length > 1024 || sk.length === 0 || sk.length > 1024 || !ours(pk)) throw invalidCursor();
  return { pk, sk };
}
