// One idea in one file, though over 300 lines: the fraud evaluation, run and scored in one place so that the
// figures printed are exactly those computed.
/**
 * Evaluates the fraud rules on synthetic scenarios, online, night by night, by calling the nightly
 * close's own fraud step (`closeFraudStep`): each night closes one UTC day, and each customer's rules see
 * only its days up to that one (at most `MAX_HISTORY_DAYS`), with peer statistics from what was closed by
 * then; the step merges the detections into the customer's stored flags, as the close does.
 *
 * Run: `npx tsx eval/eval-fraud.ts [--seeds 1,2,3,4,5,6,7] [--customers 200] [--days 60] [--share 0.1] [--verbose]`
 *
 * Per seed: 200 customers, 28 days of clean history and then 60 scored nights; 30 % of customers are
 * new accounts created during that time; each of the 6 patterns is injected into 10 % of customers
 * (one pattern per customer, sizes as documented in `eval/synthetic.ts`).
 * Seeds 1, 2 and 3 were looked at while the one global parameter set was chosen (seed 3 only from the
 * second session on); seeds 4 and 5 were added in that session and looked at once (the false flags that
 * led to one flag per new account); seeds 6 and 7 are held out. Seeds run in parallel child processes,
 * one per core (about 80 s each on this machine).
 * Figures:
 * - caught: an injection is caught when a detection of its rule and meter (its own or one folded into it) overlaps its days; "within
 *   one nightly run" means by the run that closes the injection's first day; days to detection count
 *   from that day (0 = that same run);
 * - false flags: flags (after merging) overlapping no injected day of their customer (any rule: a flag
 *   on injected traffic is worth a look), per 100 customer-months (customer-nights / 30), with the benign event that explains each
 *   where there is one;
 * - precision by severity, and false holds under the default policy (open high flags);
 * - held: injections whose first day the final flags hold under the default policy (what would not
 *   have been billed before an analyst decided);
 * - a what-if, labelled so: false flags left if every backfill had been announced as expected activity.
 * Ends with one line of JSON holding every figure.
 */
import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { DAY_MS, MINUTE_MS, utcDay } from '../contract/clock.js';
import type { Meter } from '../contract/meters.js';
import { type ActivityReader, closeFraudStep, daysToScore, type FraudStepDeps } from '../functions/core/fraud/close-fraud-step.js';
import { NEW_ACCOUNT_DAYS } from '../functions/core/fraud/constants.js';
import { DEFAULT_EXPECTED_RULES, type ExpectedActivity } from '../functions/core/fraud/expected-activity.js';
import { holdsFromFlags, suspectMeters } from '../functions/core/fraud/holds.js';
import { type PeerAccount, peerStatsFrom } from '../functions/core/fraud/peer-stats.js';
import { accountAgeDays } from '../functions/core/fraud/rules/new-account-surge.js';
import { type CustomerActivityDay, type Detection, FLAG_SEVERITIES, type Flag, FRAUD_RULES } from '../functions/core/fraud/types.js';
import { mapLimit } from '../functions/core/shared/concurrency.js';
import type { FlagStore, FlagWrite } from '../functions/core/shared/ports.js';
import { generateScenario, planInjections, type Scenario, type ScenarioOptions } from './synthetic.js';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
};
const SEEDS = arg('seeds', '1,2,3,4,5,6,7').split(',').map(Number);
/** The seeds whose results were looked at while the parameters were chosen; the others are held out. */
const TUNING_SEEDS = new Set([1, 2, 3, 4, 5]);
const CUSTOMERS = Number(arg('customers', '200'));
const EVAL_DAYS = Number(arg('days', '60'));
const HISTORY_DAYS = 28;
const SHARE = Number(arg('share', '0.1'));
const CHILD = process.argv.includes('--child');
const CHILD_PREFIX = 'SEED_FIGURES ';
const START = '2026-01-05';

interface PatternFigures {
  injected: number;
  caughtWithinOneRun: number;
  caughtEver: number;
  shareWithinOneRun: number;
  shareEver: number;
  meanDaysToDetection: number | null;
  /** Injections whose first day the flags (as they stand after the last night) hold under the default policy. */
  heldByDefault: number;
}

interface SeedFigures {
  seed: number;
  customers: number;
  customerMonths: number;
  flags: number;
  falseFlags: number;
  falseFlagsPer100CustomerMonths: number;
  falseFlagsByRule: Record<string, number>;
  falseFlagsByCause: Record<string, number>;
  falseHoldsPer100CustomerMonths: number;
  /**
   * What-if, not a measurement of anything announced: false flags per 100 customer-months left if every
   * backfill had been registered as expected activity for its day (default rules), counting out the false
   * flags of those rules lying wholly inside a backfill's day (approximate: it ignores that a set-aside
   * detection could have extended another flag).
   */
  falseFlagsIfBackfillsAnnounced: number;
  /** New accounts scored during their first 14 days without an injected surge, and the false surge flags they got. */
  cleanNewAccounts: number;
  falseSurgeFlagsPer100CleanNewAccounts: number;
  precisionBySeverity: Record<string, number | null>;
  patterns: Record<string, PatternFigures>;
  seconds: number;
}

async function runSeed(seed: number): Promise<SeedFigures> {
  const t0 = performance.now();
  const options: ScenarioOptions = {
    seed,
    customers: CUSTOMERS,
    start: START,
    days: HISTORY_DAYS + EVAL_DAYS,
    newAccountDays: [HISTORY_DAYS - 10, HISTORY_DAYS + EVAL_DAYS - 12],
  };
  const injections = planInjections(options, { share: SHARE, firstDay: HISTORY_DAYS + 1, lastDay: HISTORY_DAYS + EVAL_DAYS - 4 });
  const scenario = generateScenario({ ...options, injections });
  const startMs = Date.parse(`${START}T00:00:00Z`);
  const peers = peerAccounts(scenario);
  const flags = new EvalFlagStore();
  const detections: { night: number; d: Detection }[] = [];
  let customerNights = 0;

  for (let n = 0; n < EVAL_DAYS; n++) {
    const dayIdx = HISTORY_DAYS + n;
    const dayStart = startMs + dayIdx * DAY_MS;
    const day = utcDay(dayStart);
    for (const c of scenario.customers) {
      const offset = HISTORY_DAYS + EVAL_DAYS - c.days.length;
      if (dayIdx - offset < 0) continue;
      customerNights++;
      // The peers' statistics are only read for a young account; computing them for the others would be wasted.
      const young = accountAgeDays(dayStart, Date.parse(c.createdAt)) < NEW_ACCOUNT_DAYS;
      const deps: FraudStepDeps = {
        activity: scenarioActivity(c.days),
        flags,
        ...(young ? { peers: peerStatsFrom(peers, { throughDay: day, exclude: [c.customerId] }) } : {}),
      };
      // The nightly close's own fraud step, run as the close that starts at 00:30 the next day would run it.
      const step = await closeFraudStep(
        { id: c.customerId, createdAt: c.createdAt },
        daysToScore(day, [], c.createdAt),
        c.anchorDay,
        deps,
        dayStart + DAY_MS + 30 * MINUTE_MS,
      );
      for (const d of step.detections) detections.push({ night: n, d });
    }
  }
  return summarize(seed, scenario, detections, flags.all(), customerNights / 30, (performance.now() - t0) / 1000);
}

/**
 * A customer's simulated days as the fraud step reads them: only the days simulated (the world begins at
 * `START`, so an established account's history starts there, not 56 days before its first scored night).
 */
function scenarioActivity(days: readonly CustomerActivityDay[]): ActivityReader {
  const byDay = new Map(days.map((d) => [d.day, d]));
  return async (_customerId, fromDay, toDay) => new Map([...byDay].filter(([day]) => day >= fromDay && day <= toDay));
}

/** The flags the evaluation's nights store, in memory: one process, one night at a time, so no write can race another. */
class EvalFlagStore implements Pick<FlagStore, 'forCustomer' | 'save' | 'expectedActivity'> {
  private readonly byCustomer = new Map<string, Map<string, Flag>>();
  async forCustomer(customerId: string): Promise<Flag[]> {
    return [...(this.byCustomer.get(customerId)?.values() ?? [])];
  }
  async save(writes: readonly FlagWrite[]): Promise<void> {
    for (const { flag } of writes) {
      const own = this.byCustomer.get(flag.customerId) ?? new Map<string, Flag>();
      own.set(flag.id, flag);
      this.byCustomer.set(flag.customerId, own);
    }
  }
  /** The evaluation announces no expected activity. */
  async expectedActivity(): Promise<ExpectedActivity[]> {
    return [];
  }
  all(): Flag[] {
    return [...this.byCustomer.values()].flatMap((m) => [...m.values()]);
  }
}

/**
 * The peer pool: the established customers' first two weeks (long before the simulated span). The
 * eval injects surges into a third of its new accounts, far more than production sees, so letting them
 * into the pool would make its top quantiles mostly fraud; production (`peerCandidates`) keeps the first
 * two weeks of accounts created in the last 120 days whose two weeks are over, except confirmed fraud, so
 * an account in its own first two weeks is never its own peer there either.
 */
function peerAccounts(s: Scenario): PeerAccount[] {
  return s.customers
    .filter((c) => c.onboarding.length > 0)
    .map((c) => ({ customerId: c.customerId, createdAt: c.createdAt, days: c.onboarding }));
}

/** A detection covers its meter and every other meter folded into it (a new account surging on several). */
const covers = (d: Detection, meter: Meter) => suspectMeters(d).includes(meter);
const dayMs = (day: string) => Date.parse(`${day}T00:00:00Z`);
const overlaps = (w: { from: string; to: string }, fromDay: string, toDay: string) =>
  Date.parse(w.from) < dayMs(toDay) && dayMs(fromDay) < Date.parse(w.to);

function summarize(
  seed: number,
  s: Scenario,
  detections: { night: number; d: Detection }[],
  flags: Flag[],
  customerMonths: number,
  seconds: number,
): SeedFigures {
  const startMs = dayMs(START);
  const patterns: Record<string, PatternFigures> = {};
  const holds = holdsFromFlags(flags);
  const held = (l: Scenario['labels'][number]) =>
    holds.some((h) => h.customerId === l.customerId && h.meter === l.meter && h.from <= l.from && l.from < h.to);
  for (const rule of FRAUD_RULES) {
    const labels = s.labels.filter((l) => l.pattern === rule);
    const delays = labels.map((l) => {
      const hits = detections.filter(
        ({ d }) => d.customerId === l.customerId && d.rule === l.pattern && covers(d, l.meter) && overlaps(d.window, l.from, l.to),
      );
      if (hits.length === 0) return undefined;
      const night = Math.min(...hits.map((h) => h.night));
      return Math.round((startMs + (HISTORY_DAYS + night) * DAY_MS - dayMs(l.from)) / DAY_MS);
    });
    const caught = delays.filter((x): x is number => x !== undefined);
    patterns[rule] = {
      injected: labels.length,
      caughtWithinOneRun: caught.filter((x) => x <= 0).length,
      caughtEver: caught.length,
      shareWithinOneRun: labels.length ? caught.filter((x) => x <= 0).length / labels.length : 0,
      shareEver: labels.length ? caught.length / labels.length : 0,
      meanDaysToDetection: caught.length ? caught.reduce((a, b) => a + b, 0) / caught.length : null,
      heldByDefault: labels.filter(held).length,
    };
  }
  // A flag on injected traffic is worth a look whatever rule raised it; one outside the injected days is
  // false, the day after included (end-of-period gaming's files coming back at the new period are legitimate).
  const isTrue = (f: Flag) => s.labels.some((l) => l.customerId === f.customerId && overlaps(f.window, l.from, l.to));
  const falseFlags = flags.filter((f) => !isTrue(f));
  const byRule: Record<string, number> = Object.fromEntries(FRAUD_RULES.map((r) => [r, 0]));
  const byCause: Record<string, number> = {};
  for (const f of falseFlags) {
    byRule[f.rule]!++;
    // The benign event that explains it: the latest one of the customer's in the two weeks up to the flag's end.
    const cause = s.benign
      .filter(
        (b) =>
          b.customerId === f.customerId &&
          dayMs(b.day) < Date.parse(f.window.to) &&
          dayMs(b.day) >= Date.parse(f.window.from) - 14 * DAY_MS,
      )
      .pop();
    const key = cause ? cause.kind : 'noise';
    byCause[key] = (byCause[key] ?? 0) + 1;
  }
  const precisionBySeverity = Object.fromEntries(
    FLAG_SEVERITIES.map((sev) => {
      const of = flags.filter((f) => f.severity === sev);
      return [sev, of.length ? round(of.filter(isTrue).length / of.length) : null];
    }),
  );
  const falseHolds = holdsFromFlags(falseFlags).length;
  const insideAnnouncedBackfill = (f: Flag) =>
    DEFAULT_EXPECTED_RULES.includes(f.rule) &&
    s.benign.some(
      (b) =>
        b.kind === 'backfill' &&
        b.customerId === f.customerId &&
        dayMs(b.day) <= Date.parse(f.window.from) &&
        Date.parse(f.window.to) <= dayMs(b.day) + DAY_MS,
    );
  const surged = new Set(s.labels.filter((l) => l.pattern === 'new_account_surge').map((l) => l.customerId));
  const cleanNew = s.customers.filter(
    (c) =>
      c.onboarding.length === 0 &&
      Date.parse(c.createdAt) < startMs + (HISTORY_DAYS + EVAL_DAYS) * DAY_MS &&
      Date.parse(c.createdAt) >= startMs + (HISTORY_DAYS - NEW_ACCOUNT_DAYS) * DAY_MS &&
      !surged.has(c.customerId),
  );
  if (process.argv.includes('--verbose'))
    for (const f of falseFlags)
      console.log(`  false ${f.customerId} ${f.rule} ${f.meter} ${f.window.from}..${f.window.to} ${f.severity} ${f.evidence.summary}`);
  if (process.argv.includes('--verbose'))
    for (const l of s.labels)
      if (
        !detections.some(
          ({ d }) => d.customerId === l.customerId && d.rule === l.pattern && covers(d, l.meter) && overlaps(d.window, l.from, l.to),
        )
      )
        console.log(`  missed ${l.customerId} ${l.pattern} ${l.meter} ${l.from}..${l.to} ${JSON.stringify(l.detail)}`);
  return {
    seed,
    customers: s.customers.length,
    customerMonths: round(customerMonths),
    flags: flags.length,
    falseFlags: falseFlags.length,
    falseFlagsPer100CustomerMonths: round((100 * falseFlags.length) / customerMonths),
    falseFlagsByRule: byRule,
    falseFlagsByCause: byCause,
    falseHoldsPer100CustomerMonths: round((100 * falseHolds) / customerMonths),
    falseFlagsIfBackfillsAnnounced: round((100 * falseFlags.filter((f) => !insideAnnouncedBackfill(f)).length) / customerMonths),
    cleanNewAccounts: cleanNew.length,
    falseSurgeFlagsPer100CleanNewAccounts: cleanNew.length
      ? round((100 * falseFlags.filter((f) => f.rule === 'new_account_surge').length) / cleanNew.length)
      : 0,
    precisionBySeverity,
    patterns,
    seconds: round(seconds),
  };
}

const round = (x: number) => Math.round(x * 1000) / 1000;
const pct = (x: number) => `${(100 * x).toFixed(0)} %`;

function print(f: SeedFigures): void {
  console.log(
    `\nseed ${f.seed}${TUNING_SEEDS.has(f.seed) ? ' (looked at while choosing the parameters)' : ' (held out)'}: ${f.customers} customers, ${f.customerMonths.toFixed(1)} customer-months scored, ${f.flags} flags, ${f.seconds.toFixed(1)} s`,
  );
  console.log('pattern                 injected  caught in 1 run  caught at all  mean days to detection  held (default policy)');
  for (const rule of FRAUD_RULES) {
    const p = f.patterns[rule]!;
    console.log(
      `${rule.padEnd(24)}${String(p.injected).padStart(8)}  ${`${p.caughtWithinOneRun} (${pct(p.shareWithinOneRun)})`.padStart(15)}  ${`${p.caughtEver} (${pct(p.shareEver)})`.padStart(13)}  ${(p.meanDaysToDetection === null ? '-' : p.meanDaysToDetection.toFixed(2)).padStart(22)}  ${String(p.heldByDefault).padStart(21)}`,
    );
  }
  console.log(
    `false flags: ${f.falseFlags} = ${f.falseFlagsPer100CustomerMonths.toFixed(2)} per 100 customer-months (target <= 2); by rule ${JSON.stringify(f.falseFlagsByRule)}; by cause ${JSON.stringify(f.falseFlagsByCause)}`,
  );
  console.log(
    `false holds (default policy: open high flags): ${f.falseHoldsPer100CustomerMonths.toFixed(2)} per 100 customer-months; precision by severity ${JSON.stringify(f.precisionBySeverity)}`,
  );
  console.log(
    `what-if: false flags if every backfill had been announced as expected activity: ${f.falseFlagsIfBackfillsAnnounced.toFixed(2)} per 100 customer-months (approximate)`,
  );
  console.log(
    `false new_account_surge flags: ${f.falseSurgeFlagsPer100CleanNewAccounts.toFixed(1)} per 100 clean new accounts (${f.cleanNewAccounts} scored in their first two weeks)`,
  );
}

/**
 * One seed runs in this process (`--child`, or a single seed); several run as child processes, as many
 * at once as the machine has cores, each printing its figures as one JSON line the parent collects.
 */
async function runSeeds(): Promise<SeedFigures[]> {
  if (CHILD || SEEDS.length === 1) return Promise.all(SEEDS.map((seed) => runSeed(seed)));
  const passthrough = process.argv.slice(2).filter((a, i, all) => a !== '--seeds' && all[i - 1] !== '--seeds');
  const one = (seed: number) =>
    new Promise<SeedFigures>((resolve, reject) => {
      const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...passthrough, '--seeds', String(seed), '--child'], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      child.stdout.on('data', (b: Buffer) => (out += b.toString()));
      child.on('error', reject);
      child.on('close', (code) => {
        const line = out.split('\n').find((l) => l.startsWith(CHILD_PREFIX));
        if (code !== 0 || line === undefined) reject(new Error(`seed ${seed}: child exited with ${code}`));
        else {
          process.stdout.write(
            out
              .split('\n')
              .filter((l) => !l.startsWith(CHILD_PREFIX))
              .join('\n'),
          );
          resolve(JSON.parse(line.slice(CHILD_PREFIX.length)) as SeedFigures);
        }
      });
    });
  return mapLimit(SEEDS, availableParallelism(), one);
}

const results = await runSeeds();
if (CHILD) {
  console.log(`${CHILD_PREFIX}${JSON.stringify(results[0])}`);
  process.exit(0);
}
for (const r of results) print(r);
const target = (r: SeedFigures) => ({
  everyPatternCaughtWithinOneRunAtLeast90: FRAUD_RULES.every((rule) => r.patterns[rule]!.shareWithinOneRun >= 0.9),
  falseFlagsAtMost2Per100CustomerMonths: r.falseFlagsPer100CustomerMonths <= 2,
});
console.log(
  JSON.stringify({
    customers: CUSTOMERS,
    historyDays: HISTORY_DAYS,
    scoredNights: EVAL_DAYS,
    sharePerPattern: SHARE,
    seeds: results.map((r) => ({ ...r, targetsMet: target(r) })),
  }),
);
