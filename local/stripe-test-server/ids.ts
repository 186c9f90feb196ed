import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** A Stripe-looking id: `prefix` plus `length` random base62 characters (`cus_`, `mtr_test_`, `req_`...). */
export function newId(prefix: string, length = 24): string {
  const bytes = randomBytes(length);
  let out = prefix;
  for (const b of bytes) out += ALPHABET[b % ALPHABET.length];
  return out;
}

/** Unix seconds of a millisecond instant. */
export function toSeconds(ms: number): number {
  return Math.floor(ms / 1000);
}

/** ISO-8601 with milliseconds, the v2 API's timestamp format. */
export function toIso(ms: number): string {
  return new Date(ms).toISOString();
}
