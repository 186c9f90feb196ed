/**
 * Event-level evaluation of the volume-spike detector on the labelled NAB-hourly subset.
 *
 * Run: `npx tsx eval/eval-detector.ts` (data from `<repo>/../shared/data/nab-hourly/`, or `NAB_DIR`).
 * Scoring is exactly the README's: a window is caught when any hour in `[start, max(end, start + 3h)]` is
 * flagged; a false alert is a run of consecutive flagged hours outside every window. Prints a per-series
 * table for the production detector (over each whole series, as the backtest runs it; and as the nightly
 * close runs it, a fresh detector per day over at most 56 days), a null detector and the README's EWMA z-score baseline, a
 * leave-one-series-out check of the global parameters, and ends with one line of JSON.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { productionTuning } from '../functions/core/anomaly/constants.js';
import { scoreSeries } from '../functions/core/anomaly/spike-detector.js';
import type { DetectorTuning, Severity, SpikeResult, UsagePoint } from '../functions/core/anomaly/types.js';
import { MAX_HISTORY_DAYS } from '../functions/core/fraud/constants.js';
import { type EventMetrics, type EventScore, type LabelWindow, scoreEvents, summarize } from './event-scoring.js';

interface Series {
  name: string;
  points: UsagePoint[];
  windows: LabelWindow[];
}

type Detector = (points: readonly UsagePoint[]) => boolean[];

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dataDir = process.env.NAB_DIR ?? join(repoRoot, '..', 'shared', 'data', 'nab-hourly');
// Checked only, never tuned on: the validation set's README says so.
const validationDir = process.env.NAB_VALIDATION_DIR ?? join(repoRoot, '..', 'shared', 'data', 'nab-hourly-validation');

function loadSeries(dir: string): Series[] {
  const labels = JSON.parse(readFileSync(join(dir, 'labels.json'), 'utf8')) as Record<string, [string, string][]>;
  return readdirSync(dir)
    .filter((f) => f.endsWith('.csv'))
    .sort()
    .map((name) => {
      const rows = readFileSync(join(dir, name), 'utf8').trim().split(/\r?\n/).slice(1);
      const points = rows.map((row) => {
        const [ts, value] = row.split(',');
        return { t: Date.parse(ts!), value: Number(value) };
      });
      const windows = (labels[name] ?? []).map(([s, e]) => ({ start: Date.parse(s), end: Date.parse(e) }));
      return { name, points, windows };
    });
}

/** The README's reference: EWMA mean and variance (alpha 0.05), flag |z| >= 4 after 48 h, learns from every point. */
function ewmaZScore(points: readonly UsagePoint[]): boolean[] {
  const alpha = 0.05;
  let mean = points[0]?.value ?? 0;
  let variance = 0;
  return points.map(({ value }, i) => {
    const sd = Math.sqrt(variance);
    const z = sd > 0 ? (value - mean) / sd : 0;
    const diff = value - mean;
    mean += alpha * diff;
    variance = (1 - alpha) * (variance + alpha * diff * diff);
    return i >= 48 && Math.abs(z) >= 4;
  });
}

const nullDetector: Detector = (points) => points.map(() => false);

const ours =
  (tuning?: Partial<DetectorTuning>): Detector =>
  (points) =>
    scoreSeries(points, tuning ? { granularity: 'hour', tuning } : { granularity: 'hour' }).map((r) => r.flagged);

/**
 * The same detector as the nightly close runs it: each UTC day scored by a fresh detector over that day
 * and the `historyDays - 1` days before it (the close reads at most 56 days of history), only that day's
 * verdicts kept. Still online: a day's verdicts use nothing after it.
 */
const asNightly =
  (historyDays: number): Detector =>
  (points) => {
    const dayOf = (t: number) => Math.floor(t / 86_400_000);
    const flagged = new Array<boolean>(points.length).fill(false);
    let start = 0;
    for (let i = 0; i < points.length; ) {
      const day = dayOf(points[i]!.t);
      while (dayOf(points[start]!.t) < day - historyDays + 1) start++;
      let end = i;
      while (end < points.length && dayOf(points[end]!.t) === day) end++;
      const results = scoreSeries(points.slice(start, end), { granularity: 'hour' });
      for (let j = i; j < end; j++) flagged[j] = results[j - start]!.flagged;
      i = end;
    }
    return flagged;
  };

/**
 * Leave-one-series-out: for each series, pick the grid point with the best F1 (subject to at most one
 * false alert per series-month) on the other series, then score the held-out series with it.
 */
const LOSO_GRID: Partial<DetectorTuning>[] = (() => {
  const grid: Partial<DetectorTuning>[] = [];
  for (const zFlag of [4.5, 5, 5.5])
    for (const dispersion of [0, 0.02, 0.05])
      for (const huberK of [1.5, 2, 2.5]) for (const tailRatio of [0, 1.2]) grid.push({ zFlag, dispersion, huberK, tailRatio });
  return grid;
})();

function leaveOneSeriesOut(series: readonly Series[]): { scores: EventScore[]; picks: string[] } {
  const table = LOSO_GRID.map((tuning) => run(ours(tuning), series));
  const scores: EventScore[] = [];
  const picks: string[] = [];
  series.forEach((_, held) => {
    let best = -1;
    let bestKey = -Infinity;
    table.forEach((perSeries, g) => {
      const m = summarize(perSeries.filter((__, i) => i !== held));
      const key = m.falseAlertsPerSeriesMonth <= 1 ? m.f1 : -m.falseAlertsPerSeriesMonth;
      if (key > bestKey) [best, bestKey] = [g, key];
    });
    scores.push(table[best]![held]!);
    picks.push(JSON.stringify(LOSO_GRID[best]));
  });
  return { scores, picks };
}

/** F1 when one production parameter at a time is moved to a neighbouring value: how sharp the optimum is. */
const SENSITIVITY: [keyof DetectorTuning, number[]][] = [
  ['zFlag', [4.5, 5.5]],
  ['alpha', [0.03, 0.1]],
  ['gammaDaily', [0.2, 0.4]],
  ['huberK', [1.5, 2.5]],
  ['dispersion', [0, 0.05]],
  ['tailRatio', [0, 1, 1.4]],
  ['tailLag', [0, 48]],
  ['warmupPoints', [48, 96]],
];

/** Of the runs of flags whose loudest point has a given severity, how many touch a labelled window. */
function severityCalibration(series: readonly Series[]): Record<Exclude<Severity, 'none'>, { runs: number; inWindow: number }> {
  const out = { low: { runs: 0, inWindow: 0 }, medium: { runs: 0, inWindow: 0 }, high: { runs: 0, inWindow: 0 } };
  const rank: Record<Severity, number> = { none: 0, low: 1, medium: 2, high: 3 };
  for (const s of series) {
    const results = scoreSeries(s.points, { granularity: 'hour' });
    const inWindow = (r: SpikeResult) => s.windows.some((w) => r.t >= w.start && r.t <= Math.max(w.end, w.start + 3 * 3_600_000));
    let runSeverity: Severity = 'none';
    let runHits = false;
    results.forEach((r, i) => {
      if (r.flagged) {
        if (rank[r.severity] > rank[runSeverity]) runSeverity = r.severity;
        runHits ||= inWindow(r);
      }
      if ((!r.flagged || i === results.length - 1) && runSeverity !== 'none') {
        out[runSeverity].runs++;
        if (runHits) out[runSeverity].inWindow++;
        runSeverity = 'none';
        runHits = false;
      }
    });
  }
  return out;
}

function run(detector: Detector, series: readonly Series[]): EventScore[] {
  return series.map((s) =>
    scoreEvents(
      s.points.map((p) => p.t),
      detector(s.points),
      s.windows,
    ),
  );
}

const pct = (x: number) => x.toFixed(2);

function printTable(title: string, series: readonly Series[], scores: readonly EventScore[]): EventMetrics {
  const total = summarize(scores);
  console.log(`\n== ${title}`);
  console.log(`${'series'.padEnd(32)} ${'caught'.padStart(7)} ${'false'.padStart(6)} ${'FA/30d'.padStart(7)}`);
  scores.forEach((s, i) => {
    const perMonth = s.falseAlerts / (s.hours / 720);
    console.log(
      `${series[i]!.name.padEnd(32)} ${`${s.caught}/${s.windows}`.padStart(7)} ${String(s.falseAlerts).padStart(6)} ${perMonth.toFixed(2).padStart(7)}`,
    );
  });
  console.log(
    `${'TOTAL'.padEnd(32)} ${`${total.caught}/${total.windows}`.padStart(7)} ${String(total.falseAlerts).padStart(6)} ${total.falseAlertsPerSeriesMonth.toFixed(2).padStart(7)}` +
      `   precision ${pct(total.precision)} recall ${pct(total.recall)} F1 ${pct(total.f1)}`,
  );
  return total;
}

const main = () => {
  const series = loadSeries(dataDir);
  const t0 = performance.now();
  const oursScores = run(ours(), series);
  const ms = performance.now() - t0;
  const oursTotal = printTable('spike detector (production parameters)', series, oursScores);
  console.log(`(${series.reduce((n, s) => n + s.points.length, 0)} points scored in ${ms.toFixed(0)} ms)`);
  const nightlyTotal = printTable(
    'the same detector as the nightly close runs it (a fresh detector each day over at most 56 days of history)',
    series,
    run(asNightly(MAX_HISTORY_DAYS), series),
  );
  const nullTotal = printTable('null detector (never flags)', series, run(nullDetector, series));
  const ewmaTotal = printTable('EWMA z-score (alpha 0.05, |z| >= 4, 48 h warm-up)', series, run(ewmaZScore, series));

  console.log('\n== severity calibration (runs of flags by their loudest severity; share touching a labelled window)');
  const calibration = severityCalibration(series);
  for (const [severity, c] of Object.entries(calibration)) {
    console.log(
      `${severity.padEnd(8)} ${String(c.runs).padStart(4)} runs, ${c.inWindow} in a window (${c.runs ? pct(c.inWindow / c.runs) : '-'})`,
    );
  }

  console.log('\n== sensitivity: F1 with one production parameter moved (the rest unchanged)');
  const production = productionTuning('hour');
  for (const [key, values] of SENSITIVITY) {
    const cells = values.map((v) => {
      const m = summarize(run(ours({ [key]: v }), series));
      return `${v}: F1 ${pct(m.f1)} (${m.caught} caught, ${m.falseAlerts} false)`;
    });
    console.log(`${`${key} = ${production[key]}`.padEnd(22)} -> ${cells.join(' | ')}`);
  }

  const loso = leaveOneSeriesOut(series);
  const losoTotal = printTable(
    `leave-one-series-out over a ${LOSO_GRID.length}-point grid (each series scored with parameters picked on the other ${series.length - 1})`,
    series,
    loso.scores,
  );
  const pickCounts = new Map<string, number>();
  for (const p of loso.picks) pickCounts.set(p, (pickCounts.get(p) ?? 0) + 1);
  console.log('picks:', [...pickCounts].map(([p, n]) => `${n}x ${p}`).join('; '));

  const validation = loadSeries(validationDir);
  const validationTotal = printTable('VALIDATION (nab-hourly-validation; checked, never tuned on)', validation, run(ours(), validation));
  const validationNightly = printTable(
    'VALIDATION as the nightly close runs it (56 days of history)',
    validation,
    run(asNightly(MAX_HISTORY_DAYS), validation),
  );

  const brief = (m: EventMetrics) => ({
    caught: m.caught,
    windows: m.windows,
    falseAlerts: m.falseAlerts,
    precision: round(m.precision),
    recall: round(m.recall),
    f1: round(m.f1),
    falseAlertsPerSeriesMonth: round(m.falseAlertsPerSeriesMonth),
  });
  console.log(
    JSON.stringify({
      ...brief(oursTotal),
      perSeries: Object.fromEntries(
        series.map((s, i) => [
          s.name,
          { caught: oursScores[i]!.caught, windows: oursScores[i]!.windows, falseAlerts: oursScores[i]!.falseAlerts },
        ]),
      ),
      baselines: { null: brief(nullTotal), ewma: brief(ewmaTotal) },
      asNightlyClose56Days: brief(nightlyTotal),
      leaveOneSeriesOut: brief(losoTotal),
      severityCalibration: calibration,
      validation: brief(validationTotal),
      validationAsNightlyClose56Days: brief(validationNightly),
      tuning: brief(oursTotal),
    }),
  );
};

const round = (x: number) => Math.round(x * 1000) / 1000;

main();
