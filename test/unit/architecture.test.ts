import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The layout's rules (issue 9), checked on every tracked source file: what may import what, what the
 * pure core may touch, how large a handler and a source file may grow. Each check names the offenders.
 */
const root = normalize(join(dirname(fileURLToPath(import.meta.url)), '..', '..'));
const tracked = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], { cwd: root, encoding: 'utf8' })
  .split('\n')
  .filter((f) => /\.(ts|mts|mjs)$/.test(f) && !f.startsWith('node_modules/'));
const source = (f: string) => readFileSync(join(root, f), 'utf8');
const under = (...dirs: string[]) => tracked.filter((f) => dirs.some((d) => f.startsWith(`${d}/`)));

/** Every module specifier a file imports or re-exports, resolved to a repo path when relative. */
function importsOf(file: string): string[] {
  const specs = [
    ...source(file).matchAll(
      /(?:^|\n)\s*(?:import|export)\b[^'"`;]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g,
    ),
  ].map((m) => m[1] ?? m[2] ?? m[3] ?? '');
  return specs.map((s) => (s.startsWith('.') ? normalize(join(dirname(file), s)) : s));
}

describe('layout: what may import what', () => {
  it('finds the imports this test relies on (the scanner itself works)', () => {
    // Assess: a known import of a known file, so a broken scanner cannot pass every check below
    expect(importsOf('functions/handlers/api.ts')).toContain(normalize('functions/http/router.js'));
    expect(importsOf('functions/core/close/close-customer.ts')).toContain(normalize('contract/clock.js'));
  });

  it('production code (functions/, contract/, emitter/) imports nothing from eval/, bench/, local/, cli/ or test/', () => {
    // Act
    const offenders = under('functions', 'contract', 'emitter').flatMap((f) =>
      importsOf(f)
        .filter((i) => /^(eval|bench|local|cli|test)\//.test(i))
        .map((i) => `${f} -> ${i}`),
    );
    // Assess
    expect(offenders).toEqual([]);
  });

  it('the emitter imports only contract/, and the SQS adapter it sends through', () => {
    // The SQS transport puts messages on the queue through the pipeline's own SqsEventQueue, so there is one way to batch them.
    const allowed = [normalize('functions/adapters/aws/sqs-event-queue.js')];
    const offenders = under('emitter').flatMap((f) =>
      importsOf(f)
        .filter((i) => i.startsWith('functions/') && !allowed.includes(i))
        .map((i) => `${f} -> ${i}`),
    );
    expect(offenders).toEqual([]);
  });

  it('the core is pure: no AWS SDK, no Stripe, no process.env, no Date.now(), no handler, runtime or adapter', () => {
    // Act
    const offenders = under('functions/core').flatMap((f) => {
      const text = source(f);
      const found = importsOf(f).filter((i) =>
        /^@aws-sdk\/|^stripe$|^@aws-lambda-powertools\/|^functions\/(handlers|http|runtime|adapters)\//.test(i),
      );
      if (/process\.env/.test(text)) found.push('process.env');
      if (/Date\.now\(\)/.test(text)) found.push('Date.now()');
      return found.map((x) => `${f}: ${x}`);
    });
    // Assess
    expect(offenders).toEqual([]);
  });

  it('keeps evaluation and synthetic traffic out of production folders', () => {
    // Act
    const offenders = under('functions').filter((f) => /synthetic|prng/.test(source(f)));
    // Assess
    expect(offenders).toEqual([]);
  });
});

describe('layout: sizes', () => {
  it('every handler is under 60 lines, one per function', () => {
    // Act
    const handlers = under('functions/handlers');
    const long = handlers.filter((f) => source(f).split('\n').length >= 60);
    // Assess
    expect(handlers.map((f) => f.replace(/^functions\/handlers\/|\.ts$/g, '')).sort()).toEqual([
      'api',
      'close-planner',
      'close-worker',
      'consume',
      'ingest',
    ]);
    expect(long).toEqual([]);
  });

  it('a source file over 300 lines says in its first comment why it is one idea', () => {
    // Act
    const long = tracked.filter((f) => !f.startsWith('test/') && source(f).split('\n').length > 300);
    const unexplained = long.filter((f) => !/^\/\/ One idea in one file, though over 300 lines: /.test(source(f)));
    // Assess
    expect(unexplained).toEqual([]);
  });
});
