import { createHash, randomBytes } from 'node:crypto';
import { AuthError, type FieldError, ValidationError } from '../../../contract/errors.js';
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
  if (key.revokedAt !== undefined) throw new AuthError('this API key was revoked');
  if (!allowed.includes(key.role)) throw new AuthError(`a ${key.role} key cannot do this; needs ${allowed.join(' or ')}`, 403);
  return key;
}

/**
 * Wraps a key lookup with a small in-memory cache: keys change rarely and are read on every request.
 * Only ingest keys are served from it (for `ttlMs`): a machine key sends thousands of requests a minute, and
 * the ingest function may accept a revoked ingest key for up to a minute (docs/limits.md). Every other
 * role's key (a person at the console, an operator) is read afresh on each request, so revoking one
 * refuses it at once; those requests are few, one GetItem each.
 */
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
    if (key && key.role !== 'ingest') return key;
    if (cache.size >= maxEntries) cache.delete(cache.keys().next().value!);
    cache.set(hash, { key, until: now() + (key ? ttlMs : 1_000) });
    return key;
  };
}

/** How stale a key's `lastUsedAt` may get before a request writes it again: at most one write per key per hour. */
export const KEY_USE_RESOLUTION_MS = 3_600_000;

/**
 * Records that a key authenticated a request, at most once per `KEY_USE_RESOLUTION_MS`: nothing when the key
 * as read is fresh enough, else one conditional write (which concurrent requests cannot repeat).
 */
export async function markKeyUsed(
  key: ApiKey,
  registry: { touchKey(hash: string, at: string, staleBefore: string): Promise<void> },
  now: number,
): Promise<void> {
  const staleBefore = new Date(now - KEY_USE_RESOLUTION_MS).toISOString();
  if (key.lastUsedAt !== undefined && key.lastUsedAt >= staleBefore) return;
  await registry.touchKey(key.hash, new Date(now).toISOString(), staleBefore);
}

/** The customers an ingest key may write usage for; a key without either may write for any. */
export type KeyScope = Pick<ApiKey, 'customers' | 'customerPrefix'>;

/** Checks a key's customer scope as given (a comma-separated list, or a prefix), naming the field at fault. */
export function buildKeyScope(input: { customers?: string; customerPrefix?: string; role: KeyRole }): KeyScope {
  const errors: FieldError[] = [];
  const customers = input.customers
    ?.split(',')
    .map((c) => c.trim())
    .filter((c) => c !== '');
  if (input.customers !== undefined && input.customerPrefix !== undefined)
    errors.push({ field: 'customers', message: 'give a list of customers or a customer prefix, not both' });
  if (customers !== undefined && (customers.length === 0 || customers.length > MAX_SCOPED_CUSTOMERS))
    errors.push({ field: 'customers', message: `must name 1-${MAX_SCOPED_CUSTOMERS} customer ids, separated by commas` });
  else if (customers?.some((c) => !CUSTOMER_ID.test(c)))
    errors.push({ field: 'customers', message: 'each must be 1-256 characters without "#" or whitespace' });
  if (input.customerPrefix !== undefined && !CUSTOMER_ID.test(input.customerPrefix))
    errors.push({ field: 'customerPrefix', message: 'must be 1-256 characters without "#" or whitespace' });
  if ((customers !== undefined || input.customerPrefix !== undefined) && input.role !== 'ingest')
    errors.push({ field: 'role', message: 'only an ingest key can be scoped to customers' });
  if (errors.length > 0) throw new ValidationError(errors);
  if (customers !== undefined) return { customers: [...new Set(customers)] };
  return input.customerPrefix !== undefined ? { customerPrefix: input.customerPrefix } : {};
}

/** Whether a key may write usage for `customerId`: any customer without a scope, else one listed or under its prefix. */
export function keyAllowsCustomer(key: KeyScope, customerId: string): boolean {
  if (key.customers !== undefined) return key.customers.includes(customerId);
  if (key.customerPrefix !== undefined) return customerId.startsWith(key.customerPrefix);
  return true;
}

/** A key's list fits one Registry item comfortably (400 KB) and is checked per event without an index. */
const MAX_SCOPED_CUSTOMERS = 1_000;
const CUSTOMER_ID = /^[^#\s]{1,256}$/;
