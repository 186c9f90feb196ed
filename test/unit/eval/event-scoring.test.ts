import { describe, expect, it } from 'vitest';
import { HOUR_MS } from '../../../contract/clock.js';
import { scoreEvents, summarize } from '../../../eval/event-scoring.js';

const T0 = Date.parse('2025-01-06T00:00:00Z');
const hours = (n: number) => Array.from({ length: n }, (_, i) => T0 + i * HOUR_MS);
const flagsAt = (n: number, on: number[]) => Array.from({ length: n }, (_, i) => on.includes(i));

describe('scoreEvents', () => {
  it('catches a window flagged anywhere in [start, max(end, start + 3h)]', () => {
    // Prepare: a one-hour window at hour 10, flagged 3 hours after its start.
    const windows = [{ start: T0 + 10 * HOUR_MS, end: T0 + 10 * HOUR_MS }];

    // Act
    const inReach = scoreEvents(hours(24), flagsAt(24, [13]), windows);
    const tooLate = scoreEvents(hours(24), flagsAt(24, [14]), windows);

    // Assess
    expect(inReach.caught).toBe(1);
    expect(tooLate.caught).toBe(0);
    expect(tooLate.falseAlerts).toBe(1);
  });

  it('counts each run of consecutive flagged hours outside every window as one false alert', () => {
    // Prepare: runs 2-4 and 6, one flag inside the window (hours 10-12), and a run 12-13 crossing its end.
    const windows = [{ start: T0 + 10 * HOUR_MS, end: T0 + 12 * HOUR_MS }];

    // Act
    const score = scoreEvents(hours(24), flagsAt(24, [2, 3, 4, 6, 11, 12, 13]), windows);

    // Assess
    expect(score).toEqual({ windows: 1, caught: 1, falseAlerts: 3, hours: 24 });
  });

  it('derives precision, recall, F1 and false alerts per series-month', () => {
    // Prepare: 3 of 4 windows caught, 1 false alert, over two 30-day series.
    const scores = [
      { windows: 2, caught: 2, falseAlerts: 1, hours: 720 },
      { windows: 2, caught: 1, falseAlerts: 0, hours: 720 },
    ];

    // Act
    const m = summarize(scores);

    // Assess
    expect(m.precision).toBeCloseTo(0.75);
    expect(m.recall).toBeCloseTo(0.75);
    expect(m.f1).toBeCloseTo(0.75);
    expect(m.falseAlertsPerSeriesMonth).toBeCloseTo(0.5);
  });
});
