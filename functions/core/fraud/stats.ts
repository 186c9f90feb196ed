/** Small order statistics shared by the rules, the peer statistics and the generator. */

/** Arithmetic mean; 0 for an empty list. */
export function mean(xs: readonly number[]): number {
  return xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** Median; 0 for an empty list. */
export function median(xs: readonly number[]): number {
  return quantile(xs, 0.5);
}

/**
 * The `q` quantile (0..1) with linear interpolation between order statistics; 0 for an empty list.
 * @example quantile([1, 2, 3, 4], 0.5) // 2.5
 */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const pos = Math.min(1, Math.max(0, q)) * (s.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}
