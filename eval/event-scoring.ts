import { HOUR_MS } from '../contract/clock.js';

/** A labelled anomaly window: inclusive hour buckets `[start, end]`, epoch ms. */
export interface LabelWindow {
  start: number;
  end: number;
}

/** Event-level outcome of one detector on one series (the NAB-hourly README's rules). */
export interface EventScore {
  windows: number;
  caught: number;
  falseAlerts: number;
  /** Hours scored, for the false-alerts-per-30-days rate. */
  hours: number;
}

/** Precision, recall, F1 and false alerts per series per 30 days of an `EventScore` total. */
export interface EventMetrics extends EventScore {
  precision: number;
  recall: number;
  f1: number;
  falseAlertsPerSeriesMonth: number;
}

/** The minimum span a window is given when deciding whether it was caught. */
export const MIN_CATCH_SPAN_MS = 3 * HOUR_MS;

/**
 * Scores flags against windows, exactly as the NAB-hourly README defines it: a window is caught when
 * any flagged hour lies in `[start, max(end, start + 3h)]`; a false alert is a maximal run of consecutive
 * flagged hours that lie outside every window.
 *
 * @example scoreEvents([0, 3_600_000], [false, true], [{ start: 3_600_000, end: 3_600_000 }]) // caught 1
 */
export function scoreEvents(
  times: readonly number[],
  flagged: readonly boolean[],
  windows: readonly LabelWindow[],
  stepMs = HOUR_MS,
): EventScore {
  let caught = 0;
  for (const w of windows) {
    const until = Math.max(w.end, w.start + MIN_CATCH_SPAN_MS);
    if (times.some((t, i) => flagged[i] === true && t >= w.start && t <= until)) caught++;
  }
  return {
    windows: windows.length,
    caught,
    falseAlerts: countFalseRuns(times, flagged, windows, stepMs),
    hours: (times.length * stepMs) / HOUR_MS,
  };
}

// "Outside every window" is read literally as outside [start, end]; the 3 h minimum only widens what
// counts as a catch. (On the NAB-hourly set every window is longer than 3 h, so the two readings agree.)
// A run ends at any unflagged or in-window point, and at a gap in the timestamps.
function countFalseRuns(times: readonly number[], flagged: readonly boolean[], windows: readonly LabelWindow[], stepMs: number): number {
  let runs = 0;
  let inRun = false;
  let prevT: number | undefined;
  for (let i = 0; i < times.length; i++) {
    const t = times[i]!;
    const outside = flagged[i] === true && !windows.some((w) => t >= w.start && t <= w.end);
    const contiguous = prevT !== undefined && t - prevT === stepMs;
    if (outside && !(inRun && contiguous)) runs++;
    inRun = outside;
    prevT = t;
  }
  return runs;
}

/** Sums per-series scores and derives precision, recall, F1 and the false-alert rate. */
export function summarize(scores: readonly EventScore[]): EventMetrics {
  const total = scores.reduce(
    (a, s) => ({
      windows: a.windows + s.windows,
      caught: a.caught + s.caught,
      falseAlerts: a.falseAlerts + s.falseAlerts,
      hours: a.hours + s.hours,
    }),
    { windows: 0, caught: 0, falseAlerts: 0, hours: 0 },
  );
  const precision = total.caught + total.falseAlerts === 0 ? 0 : total.caught / (total.caught + total.falseAlerts);
  const recall = total.windows === 0 ? 0 : total.caught / total.windows;
  const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  const seriesMonths = total.hours / (30 * 24);
  return { ...total, precision, recall, f1, falseAlertsPerSeriesMonth: seriesMonths === 0 ? 0 : total.falseAlerts / seriesMonths };
}
