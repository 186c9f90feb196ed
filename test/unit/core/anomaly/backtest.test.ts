import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../../contract/errors.js';
import { backtestCsv } from '../../../../functions/core/anomaly/backtest.js';
import { SPIKE_THRESHOLD } from '../../../../functions/core/anomaly/constants.js';
import { scoreSeries } from '../../../../functions/core/anomaly/spike-detector.js';
import { at, hourlySeries } from '../../../fakes/series-fixtures.js';

const toCsv = (points: { t: number; value: number }[]) =>
  `timestamp,value\n${points.map((p) => `${new Date(p.t).toISOString()},${p.value}`).join('\n')}\n`;

describe('backtestCsv', () => {
  it('emits one row per input row, in order, with the production verdicts', () => {
    // Prepare: three weeks with one spike.
    const points = hourlySeries(21);
    points[at(18, 13)] = { ...points[at(18, 13)]!, value: points[at(18, 13)]!.value * 10 };

    // Act
    const lines = backtestCsv(toCsv(points), { granularity: 'hour' }).trimEnd().split('\n');

    // Assess
    expect(lines[0]).toBe('timestamp,value,score,flagged');
    expect(lines).toHaveLength(points.length + 1);
    const expected = scoreSeries(points, { granularity: 'hour' });
    lines.slice(1).forEach((line, i) => {
      const [ts, value, score, flagged] = line.split(',');
      expect(ts).toBe(new Date(points[i]!.t).toISOString());
      expect(Number(value)).toBe(points[i]!.value);
      expect(Number(score)).toBeCloseTo(expected[i]!.score, 4);
      expect(flagged).toBe(String(expected[i]!.flagged));
      expect(flagged === 'true').toBe(expected[i]!.score >= SPIKE_THRESHOLD);
    });
    expect(lines[at(18, 13) + 1]!.endsWith(',true')).toBe(true);
  });

  it('accepts CRLF line ends and daily buckets', () => {
    // Prepare
    const csv = 'timestamp,value\r\n2025-01-06T00:00:00Z,10\r\n2025-01-07T00:00:00Z,12\r\n';

    // Act
    const out = backtestCsv(csv, { granularity: 'day' });

    // Assess
    expect(out).toBe('timestamp,value,score,flagged\n2025-01-06T00:00:00Z,10,0.0000,false\n2025-01-07T00:00:00Z,12,0.0000,false\n');
  });

  it('reports every malformed row at once, by line', () => {
    // Prepare
    const csv = 'timestamp,value\n2025-01-06T00:00:00Z,1\nyesterday,2\n2025-01-06T02:30:00Z,3\n2025-01-06T03:00:00Z,-4\n';

    // Act
    let error: unknown;
    try {
      backtestCsv(csv, { granularity: 'hour' });
    } catch (e) {
      error = e;
    }

    // Assess
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).errors.map((e) => e.field)).toEqual(['line 3', 'line 4', 'line 5']);
  });
});
