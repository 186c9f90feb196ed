import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const meter = (...args: string[]) =>
  spawnSync(process.execPath, ['bin/meter.mjs', ...args], {
    encoding: 'utf8',
    env: { ...process.env, METER_DATA_DIR: '/nonexistent-meter-dir' },
  });

describe('meter command line', () => {
  it('exits 0 for --help, and 2 naming the flag for an unknown or incomplete one, without a stack trace', () => {
    // Act
    const help = meter('--help');
    const typo = meter('reconcile', '--perid', '2026-03');
    const missing = meter('reconcile', '--period');
    const nothing = meter();

    // Assess
    expect([help.status, help.stdout]).toEqual([0, expect.stringContaining('meter reconcile --period YYYY-MM')]);
    expect([typo.status, typo.stderr]).toEqual([2, expect.stringContaining("Unknown option '--perid'")]);
    expect([missing.status, missing.stderr]).toEqual([2, expect.stringContaining("'--period <value>' argument missing")]);
    expect(`${typo.stderr}${missing.stderr}`).not.toMatch(/\n\s+at /);
    expect(nothing.status).toBe(2);
  });

  it('refuses a flag the command does not take, and an unknown command, before needing any stack', () => {
    // Act
    const otherCommands = meter('nightly', '--day', '2026-03-01');
    const unknown = meter('frobnicate');

    // Assess
    expect([otherCommands.status, otherCommands.stderr.trim()]).toEqual([
      2,
      "error: 'meter nightly' does not take --day; it takes --date, --json",
    ]);
    expect([unknown.status, unknown.stderr]).toEqual([2, expect.stringContaining('unknown command: frobnicate')]);
  });

  it('without a stack or AWS settings, says so in one line that gives both ways out', () => {
    // Prepare: no stack.json, and none of the deployed stack's variables
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/_TABLE$|_QUEUE_URL$|_DLQ_URL$|^METER_API_URL$/.test(k)));
    const run = (...args: string[]) =>
      spawnSync(process.execPath, ['bin/meter.mjs', ...args], {
        encoding: 'utf8',
        env: { ...env, METER_DATA_DIR: '/nonexistent-meter-dir' },
      });

    // Act
    const runs = [
      run('customers', 'list'),
      run('health'),
      run('statement', '--customer', 'c', '--period', '2026-03'),
      run('flags', 'list'),
    ];

    // Assess: exit 1, one line on stderr naming `npx meter serve` and the AWS way, and no list of eleven variables
    for (const r of runs) {
      expect(r.status).toBe(1);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toContain("start one with 'npx meter serve'");
      expect(r.stderr).toMatch(/or set (the AWS variables|METER_API_URL)/);
      expect(r.stderr).not.toContain('is not set');
    }
  });
});
