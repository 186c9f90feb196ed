import type { ClockSource } from './types.js';

/** The server's notion of "now", which tests and the CLI can freeze, set or move. */
export interface ClockControl {
  /** Current server time, ms since the epoch. */
  now(): number;
  /** Freeze time at an instant (ms or ISO-8601). */
  set(at: number | string): void;
  /** Move time forward (or back, with a negative value), frozen or not. */
  advance(ms: number): void;
  /** Follow the source clock again. */
  reset(): void;
}

/** Wraps a source clock so the server can be steered without the caller's clock knowing. */
export function makeClockControl(source: ClockSource): ClockControl {
  let frozen: number | null = null;
  let offset = 0;
  return {
    now: () => frozen ?? source.now() + offset,
    set: (at) => {
      frozen = parseInstant(at);
    },
    advance: (ms) => {
      if (!Number.isFinite(ms)) throw new RangeError(`advance needs a finite number of ms, got ${ms}`);
      if (frozen === null) offset += ms;
      else frozen += ms;
    },
    reset: () => {
      frozen = null;
      offset = 0;
    },
  };
}

/** Reads ms-since-epoch or an ISO-8601 string; throws on anything else so a typo never silently means 1970. */
export function parseInstant(at: number | string): number {
  const ms = typeof at === 'number' ? at : Date.parse(at);
  if (!Number.isFinite(ms)) throw new RangeError(`not an instant: ${String(at)}`);
  return ms;
}
