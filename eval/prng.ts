import { mulberry32 } from './random.js';

/** A seeded, deterministic random source for the synthetic scenarios: same seed, same numbers. */
export interface Random {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform in [a, b). */
  uniform(a: number, b: number): number;
  /** Log-uniform in [a, b): as likely to be 2-4x as 4-8x. */
  logUniform(a: number, b: number): number;
  /** A whole number in [a, b], both included. */
  int(a: number, b: number): number;
  /** True with probability `p`. */
  chance(p: number): boolean;
  pick<T>(xs: readonly T[]): T;
  /** Picks by weight. */
  weighted<T>(xs: readonly (readonly [T, number])[]): T;
  /** Standard normal. */
  normal(): number;
  /** Gamma with shape `k` and mean 1 (a multiplicative noise with coefficient of variation 1/sqrt(k)). */
  gammaMean1(k: number): number;
  /** A Poisson count with mean `lambda`. */
  poisson(lambda: number): number;
}

/**
 * mulberry32 with helpers; streams for different purposes come from `derive(seed, ...labels)`.
 * @example const r = createRandom(derive(1, 'customer', 7)); r.poisson(12)
 */
export function createRandom(seed: number): Random {
  const next = mulberry32(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
  const gamma = (k: number): number => {
    // Marsaglia-Tsang; shape < 1 through the boost U^(1/k).
    if (k < 1) return gamma(k + 1) * (1 - next()) ** (1 / k);
    const d = k - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      const x = normal();
      const v = (1 + c * x) ** 3;
      if (v > 0 && Math.log(1 - next()) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
    }
  };
  const r: Random = {
    next,
    uniform: (lo, hi) => lo + (hi - lo) * next(),
    logUniform: (lo, hi) => Math.exp(Math.log(lo) + (Math.log(hi) - Math.log(lo)) * next()),
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    chance: (p) => next() < p,
    pick: (xs) => xs[Math.floor(next() * xs.length)]!,
    weighted: (xs) => {
      const total = xs.reduce((s, [, w]) => s + w, 0);
      let u = next() * total;
      for (const [x, w] of xs) {
        u -= w;
        if (u < 0) return x;
      }
      return xs[xs.length - 1]![0];
    },
    normal,
    gammaMean1: (k) => gamma(k) / k,
    poisson: (lambda) => {
      if (!(lambda > 0)) return 0;
      if (lambda > 50) return Math.max(0, Math.round(lambda + Math.sqrt(lambda) * normal()));
      const l = Math.exp(-lambda);
      let k = 0;
      let p = 1;
      do {
        k++;
        p *= next();
      } while (p > l);
      return k - 1;
    },
  };
  return r;
}

/** A 32-bit seed derived from a seed and labels (FNV-1a), so each stream is independent of the others' use. */
export function derive(seed: number, ...labels: (string | number)[]): number {
  let h = 0x811c9dc5 ^ (seed >>> 0);
  for (const ch of labels.join('\u0000')) {
    h ^= ch.charCodeAt(0);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}
