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
});
