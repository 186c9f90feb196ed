/**
 * Backtests the production spike detector on a `timestamp,value` CSV.
 *
 * Run: `npx tsx bench/backtest-cli.ts <file.csv | -> [--granularity hour|day]`; writes
 * `timestamp,value,score,flagged` to stdout. Bad rows are listed on stderr, exit code 1.
 */
import { readFileSync } from 'node:fs';
import { backtestCsv } from '../functions/core/anomaly/backtest.js';
import { ValidationError } from '../functions/core/errors.js';
import type { Granularity } from '../functions/core/anomaly/types.js';

function parseArgs(argv: readonly string[]): { file: string; granularity: Granularity } {
  let file: string | undefined;
  let granularity: Granularity = 'hour';
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--granularity') {
      const value = argv[++i];
      if (value !== 'hour' && value !== 'day') throw new Error('--granularity must be hour or day');
      granularity = value;
    } else if (file === undefined) file = arg;
    else throw new Error(`unexpected argument: ${arg}`);
  }
  if (file === undefined) throw new Error('usage: backtest-cli <file.csv | -> [--granularity hour|day]');
  return { file, granularity };
}

try {
  const { file, granularity } = parseArgs(process.argv.slice(2));
  const csv = readFileSync(file === '-' ? 0 : file, 'utf8');
  process.stdout.write(backtestCsv(csv, { granularity }));
} catch (e) {
  if (e instanceof ValidationError) for (const err of e.errors) process.stderr.write(`${err.field}: ${err.message}\n`);
  else process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
}
