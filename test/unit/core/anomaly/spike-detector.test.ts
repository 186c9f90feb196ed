import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HOUR_MS } from '../../../../contract/clock.js';
import { ValidationError } from '../../../../contract/errors.js';
import { productionTuning, SPIKE_THRESHOLD } from '../../../../functions/core/anomaly/constants.js';
import { createSpikeDetector, scoreSeries, severityOf } from '../../../../functions/core/anomaly/spike-detector.js';
import type { UsagePoint } from '../../../../functions/core/anomaly/types.js';
import { at, dailySeries, hourlySeries, prng, START } from '../../../fakes/series-fixtures.js';

const WARMUP = productionTuning('hour').warmupPoints;

describe('createSpikeDetector on hourly usage', () => {
  it('raises no flag on a clean daily + weekly seasonal series', () => {
    // Prepare: six weeks of noisy but normal usage.
    const points = hourlySeries(42);

    // Act
    const results = scoreSeries(points, { granularity: 'hour' });

    // Assess
    expect(results).toHaveLength(points.length);
    expect(results.filter((r) => r.flagged)).toEqual([]);
    expect(results.slice(WARMUP).every((r) => r.warm)).toBe(true);
  });

  it('flags an injected spike with high severity', () => {
    // Prepare: a 10x spike at 14:00 on day 20.
    const points = hourlySeries(28);
    const i = at(20, 14);
    points[i] = { ...points[i]!, value: points[i]!.value * 10 };

    // Act
    const results = scoreSeries(points, { granularity: 'hour' });

    // Assess
    expect(results[i]!.flagged).toBe(true);
    expect(results[i]!.severity).toBe('high');
    expect(results[i]!.value).toBeGreaterThan(results[i]!.band[1]);
    expect(results.filter((r) => r.flagged).map((r) => r.t)).toEqual([points[i]!.t]);
  });

  it('does not let a flagged spike inflate the baseline', () => {
    // Prepare: the same series with and without a three-hour 8x burst on day 20.
    const clean = hourlySeries(28, { seed: 7 });
    const spiked = clean.map((p, i) => (i >= at(20, 12) && i < at(20, 15) ? { ...p, value: p.value * 8 } : p));

    // Act
    const before = scoreSeries(clean, { granularity: 'hour' });
    const after = scoreSeries(spiked, { granularity: 'hour' });

    // Assess: the burst is flagged, the days after it are not, and the expectations barely move:
    // within 5 % at the burst's own hours the next day, within 10 % anywhere after it.
    const drift = (i: number) => Math.abs(after[i]!.expected - before[i]!.expected) / before[i]!.expected;
    expect(after.slice(at(20, 12), at(20, 15)).every((r) => r.flagged)).toBe(true);
    expect(after.slice(at(20, 15)).filter((r) => r.flagged)).toEqual([]);
    for (let i = at(21, 12); i < at(21, 15); i++) expect(drift(i)).toBeLessThan(0.05);
    for (let i = at(20, 15); i < clean.length; i++) expect(drift(i)).toBeLessThan(0.1);
  });

  it('never flags during warm-up, however large the value', () => {
    // Prepare: a huge value just before warm-up ends.
    const points = hourlySeries(3);
    points[WARMUP - 1] = { ...points[WARMUP - 1]!, value: 1_000_000 };

    // Act
    const results = scoreSeries(points, { granularity: 'hour' });

    // Assess
    expect(results.slice(0, WARMUP).some((r) => r.flagged || r.warm)).toBe(false);
    expect(results.slice(0, WARMUP).every((r) => r.score === 0)).toBe(true);
  });

  it('does not flag the noise of tiny counts and zeros', () => {
    // Prepare: four weeks of mostly zeros with a few single events, then a handful at once.
    const rand = prng(3);
    const points: UsagePoint[] = Array.from({ length: 28 * 24 }, (_, i) => ({ t: START + i * HOUR_MS, value: rand() < 0.1 ? 1 : 0 }));
    points[at(20, 3)] = { ...points[at(20, 3)]!, value: 3 };

    // Act
    const results = scoreSeries(points, { granularity: 'hour' });

    // Assess
    expect(results.filter((r) => r.flagged)).toEqual([]);
    expect(results.every((r) => Number.isFinite(r.score) && Number.isFinite(r.expected))).toBe(true);
  });

  it('adopts a sustained level shift instead of flagging it for ever', () => {
    // Prepare: usage triples for good from day 14.
    const points = hourlySeries(35, { seed: 11 }).map((p, i) => (i >= at(14, 0) ? { ...p, value: p.value * 3 } : p));

    // Act
    const results = scoreSeries(points, { granularity: 'hour' });

    // Assess: it is noticed, then accepted within two days.
    expect(results.slice(at(14, 0), at(15, 0)).some((r) => r.flagged)).toBe(true);
    expect(results.slice(at(16, 0)).filter((r) => r.flagged)).toEqual([]);
  });

  it('skips a gap in the series without breaking the seasonal slots', () => {
    // Prepare: drop day 10 entirely (no points), then a spike on day 20.
    const full = hourlySeries(28, { seed: 5 });
    const i = at(20, 15);
    full[i] = { ...full[i]!, value: full[i]!.value * 10 };
    const gapped = full.filter((_, j) => j < at(10, 0) || j >= at(11, 0));

    // Act
    const results = scoreSeries(gapped, { granularity: 'hour' });

    // Assess
    expect(results.filter((r) => r.flagged).map((r) => r.t)).toEqual([full[i]!.t]);
  });
});

describe('createSpikeDetector on daily usage', () => {
  it('learns a weekly rhythm and flags a spiking day', () => {
    // Prepare: twelve weeks of daily totals, a 4x day in week 10 (a Wednesday).
    const points = dailySeries(84);
    const i = 7 * 10 + 2;
    const clean = scoreSeries(points, { granularity: 'day' });
    points[i] = { ...points[i]!, value: points[i]!.value * 4 };

    // Act
    const results = scoreSeries(points, { granularity: 'day' });

    // Assess
    expect(clean.filter((r) => r.flagged)).toEqual([]);
    expect(results.filter((r) => r.flagged).map((r) => r.t)).toEqual([points[i]!.t]);
    expect(results[i]!.severity).toBe('high');
  });
});

describe('scores and severities', () => {
  it('keeps every score in [0, 1] and flags exactly at the production threshold', () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 100_000 }), { minLength: 1, maxLength: 400 }), (values) => {
        // Prepare
        const points = values.map((value, i) => ({ t: START + i * HOUR_MS, value }));

        // Act
        const results = scoreSeries(points, { granularity: 'hour' });

        // Assess
        for (const r of results) {
          expect(r.score).toBeGreaterThanOrEqual(0);
          expect(r.score).toBeLessThanOrEqual(1);
          expect(r.flagged).toBe(r.score >= SPIKE_THRESHOLD);
          expect(r.band[0]).toBeLessThanOrEqual(r.expected);
          expect(r.band[1]).toBeGreaterThanOrEqual(r.expected);
        }
      }),
      { numRuns: 50 },
    );
  });

  it('orders severities by score', () => {
    // Prepare / Act
    const severities = [0, 0.49, SPIKE_THRESHOLD, 0.75, 0.9].map(severityOf);

    // Assess
    expect(severities).toEqual(['none', 'none', 'low', 'medium', 'high']);
  });
});

describe('no look-ahead', () => {
  it('scores point i the same whatever comes after it', () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat({ max: 5_000 }), { minLength: 80, maxLength: 300 }),
        fc.array(fc.nat({ max: 5_000 }), { minLength: 1, maxLength: 100 }),
        fc.nat(),
        (values, replacement, cut) => {
          // Prepare: the same prefix, followed by two different futures.
          const i = cut % values.length;
          const future = values.slice(i + 1).map((v, j) => replacement[j % replacement.length]! + v);
          const a = values.map((value, j) => ({ t: START + j * HOUR_MS, value }));
          const b = [...a.slice(0, i + 1), ...future.map((value, j) => ({ t: START + (i + 1 + j) * HOUR_MS, value }))];

          // Act
          const ra = scoreSeries(a, { granularity: 'hour' });
          const rb = scoreSeries(b, { granularity: 'hour' });

          // Assess
          expect(rb.slice(0, i + 1)).toEqual(ra.slice(0, i + 1));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('gives the same results streamed one by one as in batch', () => {
    // Prepare
    const points = hourlySeries(10, { seed: 9 });
    const detector = createSpikeDetector({ granularity: 'hour' });

    // Act
    const streamed = points.map((p) => detector.update(p));

    // Assess
    expect(streamed).toEqual(scoreSeries(points, { granularity: 'hour' }));
  });
});

describe('validation', () => {
  it('rejects unknown options and bad values, all at once', () => {
    // Prepare / Act
    const attempt = () => createSpikeDetector({ granularity: 'minute' as never, tuning: { zFlg: 3, alpha: 2 } as never });

    // Assess
    expect(attempt).toThrow(ValidationError);
    try {
      attempt();
    } catch (e) {
      expect((e as ValidationError).errors.map((x) => x.field).sort()).toEqual(['granularity', 'tuning.alpha', 'tuning.zFlg']);
    }
  });

  it('rejects unaligned, out-of-order and negative points', () => {
    // Prepare
    const detector = createSpikeDetector({ granularity: 'hour' });
    detector.update({ t: START, value: 1 });

    // Act / Assess
    expect(() => detector.update({ t: START + 60_000, value: 1 })).toThrow(/aligned/);
    expect(() => detector.update({ t: START, value: 1 })).toThrow(/after the previous/);
    expect(() => detector.update({ t: START + HOUR_MS, value: -1 })).toThrow(/>= 0/);
    expect(() => detector.update({ t: START + HOUR_MS, value: Number.NaN })).toThrow(ValidationError);
  });
});
