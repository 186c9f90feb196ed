import type { StoredDay } from '../shared/ports.js';

/**
 * Whether a recomputed day holds exactly what the store already has, `computedAt` aside: the close then
 * leaves the stored row as it is instead of paying a write for the same values. A row stored before a
 * field was kept (no `filesByHour`, no `keys`) differs, so it is written once with the field.
 * @example sameStoredDay({ ...stored, computedAt: now }, stored) === true
 */
export function sameStoredDay(computed: StoredDay, stored: StoredDay | undefined): boolean {
  if (stored === undefined) return false;
  const { computedAt: _a, ...next } = computed;
  const { computedAt: _b, ...prev } = stored;
  return sameValue(next, prev);
}

/** Structural equality of JSON-like values as DynamoDB returns them: key order is ignored, and an undefined property counts as absent (the store drops them). */
function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => sameValue(x, b[i]));
  }
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const keys = (o: Record<string, unknown>) => Object.keys(o).filter((k) => o[k] !== undefined);
  const ak = keys(ao);
  if (ak.length !== keys(bo).length) return false;
  return ak.every((k) => Object.hasOwn(bo, k) && sameValue(ao[k], bo[k]));
}
