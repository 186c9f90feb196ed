import type { UsageEvent } from '../contract/event-contract.js';
import { validateEvent } from '../contract/event-contract.js';
import { mulberry32 } from '../eval/random.js';

/** A small deterministic PRNG (mulberry32), so every benchmark run sees the same traffic. */
export function rng(seed: number): () => number {
  return mulberry32(seed);
}

/** Zipf-distributed picks over `n` items: a few big customers, a long tail of small ones. */
export function zipf(n: number, s: number, random: () => number): () => number {
  const cdf: number[] = [];
  let acc = 0;
  const total = Array.from({ length: n }, (_, i) => 1 / (i + 1) ** s).reduce((a, b) => a + b);
  for (let i = 0; i < n; i++) {
    acc += 1 / (i + 1) ** s / total;
    cdf.push(acc);
  }
  return () => {
    const r = random();
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid]! < r) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

export interface TrafficMix {
  customers: number;
  zipfS: number;
  apiShare: number;
  userShare: number;
  /** Spread of event times before `now`. */
  spreadMs: number;
}

export const REALISTIC_MIX: TrafficMix = { customers: 200, zipfS: 1.1, apiShare: 0.85, userShare: 0.1, spreadMs: 3 * 3_600_000 };

const OPERATIONS = ['encrypt', 'decrypt', 'share', 'revoke', 'audit', 'rotate'];
const COUNTRIES = ['US', 'DE', 'FR', 'GB', 'NL', 'JP'];

/** Customer ids of the model. */
export const customerId = (i: number) => `cus-${String(i).padStart(4, '0')}`;

/**
 * Raw, unaggregated usage events as CloudEvents, validated through the ingest contract, for
 * benchmarks: Zipf customers, mostly API calls, some user activity and file protection.
 */
export function rawEvents(n: number, now: number, mix: TrafficMix = REALISTIC_MIX, seed = 42): UsageEvent[] {
  const random = rng(seed);
  const pick = zipf(mix.customers, mix.zipfS, random);
  const out: UsageEvent[] = [];
  for (let i = 0; i < n; i++) {
    const c = pick();
    const r = random();
    const time = new Date(now - Math.floor(random() * mix.spreadMs)).toISOString();
    const common = { specversion: '1.0', source: 'bench', subject: customerId(c), id: `bench-${seed}-${i}`, time };
    const ce =
      r < mix.apiShare
        ? {
            ...common,
            type: 'com.serenity.api.call',
            data: {
              operation: OPERATIONS[Math.floor(random() * OPERATIONS.length)],
              apiKeyId: `key-${c}-${Math.floor(random() * 2)}`,
              clientIp: `10.${c % 250}.${Math.floor(random() * 4)}.${Math.floor(random() * 250)}`,
              country: COUNTRIES[c % COUNTRIES.length],
            },
          }
        : r < mix.apiShare + mix.userShare
          ? { ...common, type: 'com.serenity.user.active', data: { userId: `user-${c}-${Math.floor(random() * 50)}` } }
          : {
              ...common,
              type: random() < 0.8 ? 'com.serenity.file.protected' : 'com.serenity.file.unprotected',
              data: { fileId: `file-${c}-${Math.floor(random() * 5000)}` },
            };
    const v = validateEvent(ce, { now, newId: () => 'unused' });
    if (!v.ok) throw new Error(`traffic model made an invalid event: ${JSON.stringify(v.errors)}`);
    out.push(v.event);
  }
  return out;
}
