import { DAY_MS, HOUR_MS } from '../../../contract/clock.js';
import { type FieldError, ValidationError } from '../../../contract/errors.js';
import { createSpikeDetector } from './spike-detector.js';
import type { Granularity } from './types.js';

/** Options of {@link backtestCsv}. */
export interface BacktestOptions {
  granularity: Granularity;
}

const HEADER = 'timestamp,value';

/**
 * Replays a `timestamp,value` CSV (UTC ISO-8601 bucket starts, oldest first) through the production
 * detector and threshold, and returns `timestamp,value,score,flagged`: one output row per input row, in
 * order. Every malformed row is reported at once, as a `ValidationError` naming its line.
 *
 * @example backtestCsv('timestamp,value\n2025-01-01T00:00:00Z,12\n', { granularity: 'hour' })
 * // 'timestamp,value,score,flagged\n2025-01-01T00:00:00Z,12,0.0000,false\n'
 */
export function backtestCsv(csvText: string, options: BacktestOptions): string {
  const rows = parseCsv(csvText, options.granularity === 'hour' ? HOUR_MS : DAY_MS);
  const detector = createSpikeDetector({ granularity: options.granularity });
  const out = [`${HEADER},score,flagged`];
  for (const row of rows) {
    const r = detector.update({ t: row.t, value: row.value });
    out.push(`${row.timestamp},${row.rawValue},${r.score.toFixed(4)},${r.flagged}`);
  }
  return `${out.join('\n')}\n`;
}

interface Row {
  timestamp: string;
  rawValue: string;
  t: number;
  value: number;
}

function parseCsv(text: string, stepMs: number): Row[] {
  const lines = text.split(/\r?\n/);
  while (lines.length > 0 && lines[lines.length - 1]!.trim() === '') lines.pop();
  const errors: FieldError[] = [];
  if (lines[0]?.trim().toLowerCase() !== HEADER) errors.push({ field: 'line 1', message: `header must be "${HEADER}"` });
  const rows: Row[] = [];
  let lastT: number | undefined;
  lines.slice(1).forEach((line, i) => {
    const field = `line ${i + 2}`;
    const cells = line.split(',');
    if (cells.length !== 2) {
      errors.push({ field, message: 'must have exactly two cells: timestamp,value' });
      return;
    }
    const timestamp = cells[0]!.trim();
    const rawValue = cells[1]!.trim();
    const t = Date.parse(timestamp);
    const value = rawValue === '' ? Number.NaN : Number(rawValue);
    if (!/^\d{4}-\d{2}-\d{2}(T[\d:.]+)?(Z|[+-]\d{2}:?\d{2})?$/.test(timestamp) || Number.isNaN(t)) {
      errors.push({ field, message: `timestamp "${timestamp}" is not an ISO-8601 UTC instant` });
    } else if (t % stepMs !== 0) {
      errors.push({ field, message: `timestamp "${timestamp}" is not aligned to a UTC ${stepMs === HOUR_MS ? 'hour' : 'day'}` });
    } else if (lastT !== undefined && t <= lastT) {
      errors.push({ field, message: `timestamp "${timestamp}" is not after the previous row` });
    }
    if (!Number.isFinite(value) || value < 0) errors.push({ field, message: `value "${rawValue}" must be a finite number >= 0` });
    if (!Number.isNaN(t)) lastT = t;
    rows.push({ timestamp, rawValue, t, value });
  });
  if (errors.length > 0) throw new ValidationError(errors);
  return rows;
}
