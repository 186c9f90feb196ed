import { createHash, randomBytes } from 'node:crypto';
import { AuthError } from '../../../contract/errors.js';
import type { ApiKey, KeyRole } from './ports.js';

/** SHA-256 of a key, the only form in which keys are stored. */
export const hashKey = (key: string): string => createHash('sha256').update(key).digest('hex');

/** A new random key with a readable role prefix, e.g. `mk_ingest_…`. */
export function generateKey(role: KeyRole): string {
  return `mk_${role}_${randomBytes(24).toString('base64url')}`;
}

/** The bearer token of an Authorization header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return m?.[1];
}

/**
 * Resolves a bearer header to its key and checks the role. 401 for a missing or unknown key,
 * 403 for a known key without one of the allowed roles (an ingest key cannot review flags).
 */
export async function authenticate(
  header: string | undefined,
  lookup: (hash: string) => Promise<ApiKey | undefined>,
  allowed: readonly KeyRole[],
): Promise<ApiKey> {
  const token = bearerToken(header);
  if (!token) throw new AuthError('missing bearer token in the Authorization header');
  const key = await lookup(hashKey(token));
  if (!key) throw new AuthError('unknown API key');
  if (!allowed.includes(key.role)) throw new AuthError(`a ${key.role} key cannot do this; needs ${allowed.join(' or ')}`, 403);
  return key;
}

/** Wraps a key lookup with a small in-memory cache: keys change rarely and are read on every request. */
export function cachedLookup(
  lookup: (hash: string) => Promise<ApiKey | undefined>,
  now: () => number,
  ttlMs = 60_000,
  maxEntries = 1_000,
): (hash: string) => Promise<ApiKey | undefined> {
  const cache = new Map<string, { key: ApiKey | undefined; until: number }>();
  return async (hash) => {
    const hit = cache.get(hash);
    if (hit && hit.until > now()) return hit.key;
    const key = await lookup(hash);
    // Unknown keys are cached briefly only, so a newly created key works at once; and the cache is
    // bounded (oldest entry out first), so callers sending random keys cannot grow it without end.
    cache.delete(hash);
    if (cache.size >= maxEntries) cache.delete(cache.keys().next().value!);
    cache.set(hash, { key, until: now() + (key ? ttlMs : 1_000) });
    return key;
  };
}
