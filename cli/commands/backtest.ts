import { readFileSync } from 'node:fs';
import { backtestCsv } from '../../functions/core/anomaly/backtest.js';
import type { Granularity } from '../../functions/core/anomaly/types.js';

/**
 * `meter backtest --input series.csv [--granularity hour|day]`: scores a `timestamp,value` series with the
 * production spike detector, online and at the production threshold; writes `timestamp,value,score,flagged`.
 */
export function backtest(o: { input?: string; granularity?: string }): void {
  if (!o.input) throw new Error('--input is required (a CSV of timestamp,value; - for standard input)');
  const granularity = (o.granularity ?? 'hour') as Granularity;
  if (granularity !== 'hour' && granularity !== 'day') throw new Error('--granularity must be hour or day');
  process.stdout.write(backtestCsv(readFileSync(o.input === '-' ? 0 : o.input, 'utf8'), { granularity }));
}
