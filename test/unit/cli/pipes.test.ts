import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalStack, startLocalStack } from '../../../local/stack.js';

// Defect 14: the CLI exited before a piped stdout drained, so `meter backtest | wc -l` lost most rows.
// A slow reader (sleep before reading) fills the pipe's buffer, which is when the old exit cut output short.
const ROWS = 5_200;
const dir = mkdtempSync(join(tmpdir(), 'meter-pipes-'));
const series = join(dir, 'series.csv');
const start = Date.parse('2026-01-01T00:00:00Z');
writeFileSync(
  series,
  `timestamp,value\n${Array.from({ length: ROWS }, (_, i) => `${new Date(start + i * 3_600_000).toISOString()},${100 + (i % 24) * 3}`).join('\n')}\n`,
);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `meter ...args` with its stdout piped into a reader that waits a second before counting lines. */
function throughSlowPipe(args: string[], env: NodeJS.ProcessEnv = process.env): { lines: number; status: number | null; stderr: string } {
  const quoted = args.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
  const run = spawnSync('sh', ['-c', `"$NODE" bin/meter.mjs ${quoted} 2>"$ERR" | (sleep 1; wc -l)`], {
    encoding: 'utf8',
    env: { ...env, NODE: process.execPath, ERR: join(dir, 'stderr.txt') },
  });
  const stderr = spawnSync('cat', [join(dir, 'stderr.txt')], { encoding: 'utf8' }).stdout;
  return { lines: Number(run.stdout.trim()), status: run.status, stderr };
}

describe('meter output through a pipe', () => {
  it('backtest prints one row per input row (plus the header) into a slow pipe', () => {
    // Act
    const run = throughSlowPipe(['backtest', '--input', series]);

    // Assess
    expect(run.stderr).toBe('');
    expect(run.lines).toBe(ROWS + 1);
  });

  it('exits quietly with 0 when the reader closes early (meter ... | head -1)', async () => {
    // Act: read the first chunk, then close the pipe as head does
    const child = spawn(process.execPath, ['bin/meter.mjs', 'backtest', '--input', series], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const first = await new Promise<string>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(d.toString())));
    child.stdout.destroy();
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));

    // Assess
    expect(first.split('\n')[0]).toBe('timestamp,value,score,flagged');
    expect([code, stderr]).toEqual([0, '']);
  });
});

describe('meter output through a pipe, against a local stack', () => {
  let stack: LocalStack;
  const stackDir = join(dir, 'stack');
  const CUSTOMERS = 800; // 158 KB of JSON and about 90 KB of table: over a pipe's 64 KB buffer
  beforeAll(async () => {
    stack = await startLocalStack({ dataDir: stackDir, noPoller: true });
    const at = new Date(start).toISOString();
    for (let i = 0; i < CUSTOMERS; i += 50) {
      await Promise.all(
        Array.from({ length: 50 }, (_, j) =>
          stack.services.registry.putCustomer({
            id: `pipe-${String(i + j).padStart(5, '0')}`,
            name: 'A customer with a name long enough to make the listing large',
            createdAt: at,
            updatedAt: at,
          }),
        ),
      );
    }
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('customers list --json and the table arrive whole through a slow pipe', () => {
    // Act
    const json = throughSlowPipe(['customers', 'list', '--json', '--data-dir', stackDir]);
    const table = throughSlowPipe(['customers', 'list', '--data-dir', stackDir]);

    // Assess: the JSON is pretty-printed, one line per field (6 lines a customer), plus the brackets
    expect([json.status, json.stderr]).toEqual([0, '']);
    expect(json.lines).toBe(CUSTOMERS * 6 + 2);
    expect(table.lines).toBe(CUSTOMERS + 2);
  });
});
