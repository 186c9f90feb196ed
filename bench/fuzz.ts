/**
 * `npm run fuzz`: the larger run of the hostile-ingest generator that `test/integration/ingest-fuzz.test.ts` runs in
 * `npm test`, through real HTTP on a local stack, then the privacy properties at a larger size.
 * Prints inputs tried, 5xx answers, leaks found and duration, and ends with one line of JSON.
 *
 * Settings: FUZZ_REQUESTS (50000), FUZZ_SEED (a fixed default), FUZZ_CONCURRENCY (8), PRIVACY_RUNS (200; 0 skips them).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCustomer } from '../functions/core/shared/customers.js';
import { startLocalStack } from '../local/stack.js';
import { checkStored, runHostileIngest } from '../test/fakes/hostile-ingest.js';

const requests = Number(process.env.FUZZ_REQUESTS ?? 50_000);
const seed = Number(process.env.FUZZ_SEED ?? 424242);
const concurrency = Number(process.env.FUZZ_CONCURRENCY ?? 8);
const privacyRuns = Number(process.env.PRIVACY_RUNS ?? 200);
const customers = ['fuzz-0', 'fuzz-1', 'fuzz-2', 'fuzz-3', 'fuzz-4'];

async function ingestFuzz() {
  const stack = await startLocalStack({ visibilityTimeoutSeconds: 1 });
  try {
    for (const id of customers) await stack.services.registry.putCustomer(buildCustomer({ id }, undefined, Date.now()));
    const run = await runHostileIngest({ url: stack.url, ingestKey: stack.ingestKey, customers, requests, seed, concurrency });
    await stack.drain(600_000);
    const stored = await checkStored(stack, run);
    const quarantined = (await stack.services.quarantine.list({ limit: 100_000_000 })).filter((q) => q.origin === 'ingest').length;
    if (quarantined !== run.rejectedEvents)
      stored.push(`quarantine holds ${quarantined} rejected events, answers named ${run.rejectedEvents}`);
    return { run, stored };
  } finally {
    await stack.stop();
  }
}

/** B's privacy properties at a larger size, through vitest: a failing property is a leak found. */
function privacyProperties(): { runs: number; failed: number; passed: number; ms: number } | undefined {
  if (privacyRuns <= 0) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'fuzz-privacy-'));
  const out = join(dir, 'report.json');
  const started = Date.now();
  try {
    spawnSync('npx', ['vitest', 'run', 'test/integration/privacy-properties.test.ts', '--reporter=json', `--outputFile=${out}`], {
      env: { ...process.env, PRIVACY_RUNS: String(privacyRuns) },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const report = JSON.parse(readFileSync(out, 'utf8')) as { numFailedTests: number; numPassedTests: number };
    return { runs: privacyRuns, failed: report.numFailedTests, passed: report.numPassedTests, ms: Date.now() - started };
  } catch (err) {
    console.error('privacy properties did not report:', (err as Error).message);
    return { runs: privacyRuns, failed: -1, passed: 0, ms: Date.now() - started };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const started = Date.now();
const { run, stored } = await ingestFuzz();
const privacy = privacyProperties();
const leaks = run.problems.length + stored.length;
console.log(
  `hostile ingest: ${run.requests} requests (${run.events} events in batches, ${run.validSent} valid accepted, ${run.rejectedEvents} rejected)`,
);
console.log(
  `  answers by status: ${JSON.stringify(run.statuses)}; 5xx: ${run.serverErrors}; ${Math.round(run.requests / (run.durationMs / 1000))} requests/s`,
);
console.log(
  `  problems in answers: ${run.problems.length}; problems in what was stored (half-stored, double-counted, lost): ${stored.length}`,
);
for (const p of [...run.problems, ...stored].slice(0, 20)) console.log(`    ${p}`);
if (privacy)
  console.log(`privacy properties at ${privacy.runs} runs each: ${privacy.passed} passed, ${privacy.failed} failed (${privacy.ms} ms)`);
const summary = {
  inputsTried: run.requests + run.events,
  requests: run.requests,
  events: run.events,
  serverErrors: run.serverErrors,
  leaksFound: leaks + (privacy?.failed ?? 0),
  privacyRuns: privacy?.runs ?? 0,
  privacyFailed: privacy?.failed ?? 0,
  seed,
  durationMs: Date.now() - started,
};
console.log(JSON.stringify(summary));
process.exit(summary.serverErrors === 0 && summary.leaksFound === 0 ? 0 : 1);
