import { DAY_MS, HOUR_MS } from '../../contract/clock.js';
import { mulberry32 } from '../../eval/random.js';
import type { UsagePoint } from '../../functions/core/anomaly/types.js';

/** A Monday, 00:00 UTC: the fixtures start on a clean week boundary. */
export const START = Date.parse('2025-01-06T00:00:00Z');

/** Deterministic PRNG (mulberry32), so every fixture is the same on every run. */
export function prng(seed: number): () => number {
  return mulberry32(seed);
}

/** A standard normal draw (Box-Muller). */
function normal(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

/** Expected hourly usage with a daytime peak and quieter weekends. */
export function seasonalMean(t: number, base: number): number {
  const hour = new Date(t).getUTCHours();
  const weekday = new Date(t).getUTCDay();
  const daily = 1 + 0.6 * Math.sin((2 * Math.PI * (hour - 8)) / 24);
  return base * daily * (weekday === 0 || weekday === 6 ? 0.7 : 1);
}

/** `days` of hourly integer counts around {@link seasonalMean}, with overdispersed count noise. */
export function hourlySeries(days: number, options: { base?: number; seed?: number; start?: number } = {}): UsagePoint[] {
  const { base = 200, seed = 1, start = START } = options;
  const rand = prng(seed);
  return Array.from({ length: days * 24 }, (_, i) => {
    const t = start + i * HOUR_MS;
    const mu = seasonalMean(t, base);
    return { t, value: Math.max(0, Math.round(mu + 1.5 * Math.sqrt(mu) * normal(rand))) };
  });
}

/** `days` of daily totals with a weekly rhythm (weekends at 60 %). */
export function dailySeries(days: number, options: { base?: number; seed?: number } = {}): UsagePoint[] {
  const { base = 5000, seed = 1 } = options;
  const rand = prng(seed);
  return Array.from({ length: days }, (_, i) => {
    const t = START + i * DAY_MS;
    const weekday = new Date(t).getUTCDay();
    const mu = base * (weekday === 0 || weekday === 6 ? 0.6 : 1);
    return { t, value: Math.max(0, Math.round(mu * (1 + 0.05 * normal(rand)))) };
  });
}

/** Index of the point at `day` days and `hour` hours after the start of an hourly fixture. */
export const at = (day: number, hour: number) => day * 24 + hour;
