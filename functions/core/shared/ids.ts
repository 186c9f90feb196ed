import { createHash } from 'node:crypto';
import { encodeTime } from 'ulid';

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/**
 * A ULID-shaped id for the instant `at` (ms) whose random part is derived from `key`: the same operation
 * retried gets the same id (so an idempotent store records it once), and ids still sort by time.
 *
 * @example stableUlid(Date.parse('2026-03-10T09:00:00Z'), 'flag.review|flg_abc|2') // '01KK…' (26 chars, same every time)
 */
export function stableUlid(at: number, key: string): string {
  const digest = createHash('sha256').update(key).digest();
  let bits = 0n;
  for (let i = 0; i < 10; i++) bits = (bits << 8n) | BigInt(digest[i]!);
  let random = '';
  for (let i = 15; i >= 0; i--) random += CROCKFORD[Number((bits >> BigInt(5 * i)) & 31n)];
  return encodeTime(at, 10) + random;
}
