import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

describe('meter backtest', () => {
  it('prints one scored row per input row and flags an injected spike', () => {
    // Prepare: two weeks of a daily rhythm with one spike
    const rows = ['timestamp,value'];
    const start = Date.parse('2026-01-01T00:00:00Z');
    for (let i = 0; i < 400; i++)
      rows.push(
        `${new Date(start + i * 3_600_000).toISOString()},${Math.round(100 + 50 * Math.sin((i / 24) * 2 * Math.PI)) + (i === 300 ? 900 : 0)}`,
      );
    const file = join(mkdtempSync(join(tmpdir(), 'bt-')), 'series.csv');
    writeFileSync(file, `${rows.join('\n')}\n`);
    // Act
    const run = spawnSync(process.execPath, ['bin/meter.mjs', 'backtest', '--input', file], { encoding: 'utf8' });
    // Assess
    expect(run.status).toBe(0);
    const out = run.stdout.trim().split('\n');
    expect(out[0]).toBe('timestamp,value,score,flagged');
    expect(out).toHaveLength(401);
    const flagged = out.slice(1).filter((l) => l.endsWith(',true'));
    expect(flagged.map((l) => l.split(',')[0])).toEqual([new Date(start + 300 * 3_600_000).toISOString()]);
  });
});
