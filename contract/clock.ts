/** Injected time source: core code never calls Date.now() itself. */
export interface Clock {
  now(): number;
}

/** The real wall clock, for handlers and the local stack. */
export const systemClock: Clock = { now: () => Date.now() };

/** A clock that only moves when told to; for tests. */
export function fixedClock(start: number | string): Clock & { set(t: number | string): void; advance(ms: number): void } {
  let t = typeof start === 'string' ? Date.parse(start) : start;
  return {
    now: () => t,
    set: (v) => {
      t = typeof v === 'string' ? Date.parse(v) : v;
    },
    advance: (ms) => {
      t += ms;
    },
  };
}

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

/** `YYYY-MM-DD` of a UTC instant. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** `YYYY-MM-DDTHH` of a UTC instant. */
export function utcHour(ms: number): string {
  return new Date(ms).toISOString().slice(0, 13);
}

/** Start of the UTC day containing `ms`. */
export function startOfUtcDay(ms: number): number {
  return ms - (((ms % DAY_MS) + DAY_MS) % DAY_MS);
}
