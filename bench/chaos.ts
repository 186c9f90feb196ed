/**
 * npm run chaos — one run of the local stack under every fault at once (bench/chaos/faults.ts): figures, the
 * verdict, and one JSON line. CHAOS_CUSTOMERS, CHAOS_DAYS, CHAOS_EVENTS and CHAOS_SEED override the defaults.
 */
import { CHAOS_DEFAULTS, runChaos } from './chaos/run.js';

process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const num = (k: string, d: number) => (process.env[k] ? Number(process.env[k]) : d);
const options = {
  ...CHAOS_DEFAULTS,
  customers: num('CHAOS_CUSTOMERS', CHAOS_DEFAULTS.customers),
  days: num('CHAOS_DAYS', CHAOS_DEFAULTS.days),
  events: num('CHAOS_EVENTS', CHAOS_DEFAULTS.events),
  seed: num('CHAOS_SEED', CHAOS_DEFAULTS.seed),
};
const f = await runChaos(options, (line) => console.error(`chaos: ${line}`));
console.log(`${options.events} events, ${options.customers} customers, ${options.days} days, seed ${options.seed}: ${f.wallSeconds} s`);
console.log(`accepted ${f.accepted}, rejected ${f.rejected}, nights ${f.nights}, Stripe meter events ${f.stripeMeterEvents}`);
console.log('faults injected:');
for (const [k, v] of Object.entries(f.faults)) console.log(`  ${k.padEnd(22)} ${v}`);
console.log(`  ${'ingestErrorsRetried'.padEnd(22)} ${f.ingestErrorsRetried}`);
console.log(`  ${'plannerRetries'.padEnd(22)} ${f.plannerRetries}`);
console.log(
  `flags open after the last day's close (each dismissed by the run's analyst, ${f.flagsDismissed} in all): ${JSON.stringify(f.flags)}`,
);
console.log(
  `verdict: lost ${f.lost}, doubleCounted ${f.doubleCounted}, stripeMismatches ${f.stripeMismatches}, reconcile ${f.reconcileDifferences} of ${f.reconcileRows} rows differ, DLQ redriven ${f.dlqRedriven}`,
);
const { options: _o, faults, flags: _f, ...figures } = f;
console.log(JSON.stringify({ ...figures, ...faults, ...options }));
process.exitCode = f.lost + f.doubleCounted + f.stripeMismatches + f.reconcileDifferences === 0 ? 0 : 1;
