// One idea in one file, though over 300 lines: a seeded scenario (customers, injections, labels) is built
// in one pass whose order of random draws fixes every seed's scenario; splitting it would scatter that order.
/**
 * Synthetic fraud scenarios: realistic traffic for many customers, with chosen fraud patterns injected
 * into chosen customers on chosen days, and the ground truth. Deterministic for a seed. For the
 * evaluation (`eval/eval-fraud.ts`) and tests; the rules never see the labels.
 *
 * Customers: sizes Zipf-distributed by rank (about 250,000 calls a weekday for the biggest, a few
 * hundred for the smallest), 30-300 calls per active user, 5-100 protected files per user, a time zone
 * in the Americas, Europe or Asia, office hours (75 %) or busy around the clock, weekends at 20-50 %
 * (office) or 80-100 %, slow growth, 1-4 API keys (servers with a few fixed prefixes, or mobile
 * clients with a pool of users' prefixes, churn and travellers), a billing anchor day 1-28, and the
 * benign irregularities of `synthetic-traffic.ts` at `DEFAULT_BENIGN_RATES`.
 *
 * Injected patterns and their sizes (each drawn anew per injection):
 * - `volume_spike`: customers with at least 2,000 calls a day at full size; on api_calls (half),
 *   active_users (customers with 60+ users) or protected_files (200+ files); 1-6 business hours at
 *   4-20x (users 3-10x, with their calls; files +30-100 %), or 30 % of the time a whole day at 2.5-6x
 *   (users 2-4x).
 * - `leaked_key`: one key used for 1-3 days from 3-40 new prefixes in 1-6 countries drawn from where
 *   attacks come from (the customer's own country included), adding 20-300 % of the key's calls (at
 *   least 200) over 6-24 hours.
 * - `account_sharing`: for 2-7 days, active users at 25-50 % with calls at 100-130 % (60 %), or active
 *   users at 2.5-6x with calls unchanged (40 %). Customers with at least 60 users (about 40 active a
 *   day; a smaller team's daily users are too noisy to tell the pattern apart in one night).
 * - `new_account_surge`: a new account, 1-10 days old, for 1-3 days reaching 2-20x what only 1 % of
 *   new accounts reach at that age (from the established customers' own first two weeks), on api_calls
 *   (60 %), active_users or protected_files.
 * - `off_hours_burst`: an office-hours customer, 1-4 hours between 00:00 and 05:00 local, each at
 *   0.5-3x its busiest hour of the week before.
 * - `end_of_period_gaming`: a customer with at least 200 files unprotects 30-80 % of them within 1-4
 *   business hours on one of the last 3 days of its billing period; they come back when the next
 *   period starts.
 */
import { DAY_MS, HOUR_MS } from '../contract/clock.js';
import { METERS, type Meter } from '../contract/meters.js';
import { periodContaining } from '../functions/core/close/billing-period.js';
import { utcDayStart } from '../functions/core/close/file-timeline.js';
import { NEW_ACCOUNT_DAYS } from '../functions/core/fraud/constants.js';
import type { PeerDay } from '../functions/core/fraud/peer-stats.js';
import { dailyValue } from '../functions/core/fraud/rule-context.js';
import { quantile } from '../functions/core/fraud/stats.js';
import type { CustomerActivityDay, FraudRule } from '../functions/core/fraud/types.js';
import { createRandom, derive, type Random } from './prng.js';
import { type GroundTruth, inject } from './synthetic-inject.js';
import { type BenignEvent, type BenignRates, type CustomerProfile, DEFAULT_BENIGN_RATES, simulateCustomer } from './synthetic-traffic.js';

export type { GroundTruth } from './synthetic-inject.js';
export type { BenignEvent, BenignRates, CustomerProfile } from './synthetic-traffic.js';

/** One pattern to inject: into customer number `customer` (0-based), starting on day index `day`. */
export interface InjectionRequest {
  customer: number;
  pattern: FraudRule;
  day: number;
}

/** What to simulate. */
export interface ScenarioOptions {
  seed: number;
  customers: number;
  /** First simulated UTC day, `YYYY-MM-DD`. */
  start: string;
  /** Days simulated. */
  days: number;
  /** Share of customers created during the span (new accounts). Default 0.3. */
  newAccountShare?: number;
  /** Day indices `[first, last]` between which new accounts are created. Default the whole span. */
  newAccountDays?: readonly [number, number];
  injections?: readonly InjectionRequest[];
  /** Rates of benign irregularities; defaults `DEFAULT_BENIGN_RATES`. */
  benign?: Partial<BenignRates>;
}

/** One simulated customer. */
export interface SyntheticCustomer {
  customerId: string;
  createdAt: string;
  anchorDay: number;
  profile: CustomerProfile;
  /** Consecutive days from the start (or the creation day), injections applied. */
  days: CustomerActivityDay[];
  /** For customers created before the start: their first 14 days, long ago, as peers see them. */
  onboarding: PeerDay[];
}

/** A simulated population, what was injected into it (ground truth) and the benign events that happened. */
export interface Scenario {
  customers: SyntheticCustomer[];
  labels: GroundTruth[];
  benign: BenignEvent[];
}

/**
 * Generates a scenario; the same options always give the same scenario.
 * @example generateScenario({ seed: 1, customers: 200, start: '2026-01-05', days: 88, injections: planInjections(opts, { share: 0.1, firstDay: 30, lastDay: 84 }) })
 */
export function generateScenario(options: ScenarioOptions): Scenario {
  const startMs = utcDayStart(options.start);
  if (startMs === undefined) throw new RangeError(`start must be a UTC day, got '${options.start}'`);
  const rates = { ...DEFAULT_BENIGN_RATES, ...options.benign };
  const profiles = makeProfiles(options, startMs);
  const benign: BenignEvent[] = [];
  const customers: SyntheticCustomer[] = profiles.map((p, i) => {
    const sim = simulateCustomer(p, startMs, options.days, createRandom(derive(options.seed, 'traffic', i)), rates);
    benign.push(...sim.benign);
    const onboarding = p.createdAt < startMs ? onboardingOf(p, options.seed, i, rates) : [];
    return {
      customerId: p.customerId,
      createdAt: new Date(p.createdAt).toISOString(),
      anchorDay: p.anchorDay,
      profile: p,
      days: sim.days,
      onboarding,
    };
  });
  const refs = surgeReferences(customers);
  const labels = (options.injections ?? []).map((inj) => {
    const c = customers[inj.customer];
    if (c === undefined) throw new RangeError(`no customer ${inj.customer}`);
    const at = inj.day - (options.days - c.days.length);
    if (at < 0 || at >= c.days.length) throw new RangeError(`customer ${inj.customer} has no day ${inj.day}`);
    const age = Math.round((startMs + inj.day * DAY_MS - Math.floor(c.profile.createdAt / DAY_MS) * DAY_MS) / DAY_MS);
    const before = c.days.map((d) => Object.fromEntries(METERS.map((m) => [m, dailyValue(d, m)])) as Record<Meter, number>);
    const truth = inject(
      inj.pattern,
      c.profile,
      c.days,
      at,
      createRandom(derive(options.seed, 'inject', inj.customer, inj.day)),
      refs[Math.min(age, NEW_ACCOUNT_DAYS - 1)]!,
    );
    const quantity: Record<string, number> = {};
    c.days.forEach((d, i) => {
      if (d.day >= truth.from && d.day < truth.to) quantity[d.day] = Math.abs(dailyValue(d, truth.meter) - before[i]![truth.meter]);
    });
    return { ...truth, quantity };
  });
  return { customers, labels, benign };
}

/** Options of {@link planInjections}. */
export interface InjectionPlan {
  /** Share of customers that get each pattern (each customer gets at most one). */
  share: number;
  /** Day indices `[firstDay, lastDay]` an injection may start on. */
  firstDay: number;
  lastDay: number;
}

/**
 * Chooses customers and days for every pattern among the customers it suits (see the file comment):
 * deterministic for `options.seed`.
 * @example planInjections(options, { share: 0.1, firstDay: 28, lastDay: 84 })
 */
export function planInjections(options: ScenarioOptions, plan: InjectionPlan): InjectionRequest[] {
  const startMs = utcDayStart(options.start)!;
  const profiles = makeProfiles(options, startMs);
  const r = createRandom(derive(options.seed, 'plan'));
  const want = Math.round(plan.share * options.customers);
  const taken = new Set<number>();
  const out: InjectionRequest[] = [];
  const order: FraudRule[] = [
    'new_account_surge',
    'end_of_period_gaming',
    'off_hours_burst',
    'account_sharing',
    'leaked_key',
    'volume_spike',
  ];
  for (const pattern of order) {
    const candidates = shuffled(
      profiles.map((p, i) => ({ p, i })),
      r,
    ).filter(({ i }) => !taken.has(i));
    let placed = 0;
    for (const { p, i } of candidates) {
      if (placed >= want) break;
      const days = eligibleDays(pattern, p, startMs, plan);
      if (days.length === 0) continue;
      out.push({ customer: i, pattern, day: r.pick(days) });
      taken.add(i);
      placed++;
    }
  }
  return out.sort((a, b) => a.customer - b.customer);
}

function eligibleDays(pattern: FraudRule, p: CustomerProfile, startMs: number, plan: InjectionPlan): number[] {
  const range = Array.from({ length: plan.lastDay - plan.firstDay + 1 }, (_, k) => plan.firstDay + k);
  const createdIdx = Math.floor((p.createdAt - startMs) / DAY_MS);
  if (pattern === 'new_account_surge') return createdIdx >= 0 ? range.filter((d) => d - createdIdx >= 1 && d - createdIdx <= 10) : [];
  if (createdIdx >= 0) return [];
  switch (pattern) {
    case 'volume_spike':
      return p.dailyCalls >= 2000 ? range : [];
    case 'account_sharing':
      return p.users >= 60 ? range : [];
    case 'off_hours_burst':
      return p.shape === 'office' ? range : [];
    case 'end_of_period_gaming':
      return p.files >= 200
        ? range.filter((d) => Date.parse(periodContaining(startMs + d * DAY_MS, p.anchorDay).end) - (startMs + d * DAY_MS) <= 3 * DAY_MS)
        : [];
    default:
      return range;
  }
}

function makeProfiles(options: ScenarioOptions, startMs: number): CustomerProfile[] {
  const r = createRandom(derive(options.seed, 'profiles'));
  const n = options.customers;
  const ranks = shuffled(
    Array.from({ length: n }, (_, i) => i + 1),
    r,
  );
  const newShare = options.newAccountShare ?? 0.3;
  const [newFrom, newTo] = options.newAccountDays ?? [0, options.days - 1];
  return ranks.map((rank, i) => {
    const dailyCalls = (250_000 / rank ** 1.1) * Math.exp(0.3 * r.normal());
    const users = Math.max(3, Math.round(dailyCalls / r.logUniform(30, 300)));
    const region = r.weighted<readonly [number, readonly (readonly [string, number])[]]>([
      [
        [
          -8,
          [
            ['US', 80],
            ['CA', 10],
            ['MX', 5],
            ['GB', 5],
          ],
        ],
        2,
      ],
      [
        [
          -5,
          [
            ['US', 75],
            ['CA', 15],
            ['BR', 5],
            ['GB', 5],
          ],
        ],
        3,
      ],
      [
        [
          1,
          [
            ['DE', 30],
            ['FR', 20],
            ['GB', 20],
            ['NL', 10],
            ['ES', 10],
            ['IT', 10],
          ],
        ],
        4,
      ],
      [
        [
          9,
          [
            ['JP', 40],
            ['SG', 20],
            ['AU', 20],
            ['KR', 10],
            ['IN', 10],
          ],
        ],
        1,
      ],
    ]);
    const main = r.weighted(region[1]);
    const others = region[1].filter(([c]) => c !== main).slice(0, r.int(0, 3));
    const office = r.chance(0.75);
    const isNew = r.chance(newShare);
    const createdAt = isNew
      ? startMs + r.int(newFrom, newTo) * DAY_MS + r.int(0, 23) * HOUR_MS + r.int(0, 59) * 60_000
      : startMs - r.int(60, 700) * DAY_MS - r.int(0, 23) * HOUR_MS;
    return {
      customerId: `cus-${String(i).padStart(4, '0')}`,
      dailyCalls,
      users,
      files: Math.max(20, Math.round(users * r.logUniform(5, 100))),
      tzOffset: region[0],
      shape: office ? 'office' : 'always_on',
      weekendFactor: office ? r.uniform(0.2, 0.5) : r.uniform(0.8, 1),
      growthPerDay: Math.max(-0.003, Math.min(0.008, 0.002 + 0.002 * r.normal())),
      anchorDay: r.int(1, 28),
      createdAt,
      countries: [[main, 70] as const, ...others.map(([c]) => [c, 30 / Math.max(1, others.length)] as const)],
    };
  });
}

function onboardingOf(p: CustomerProfile, seed: number, i: number, rates: BenignRates): PeerDay[] {
  const createdDay = Math.floor(p.createdAt / DAY_MS) * DAY_MS;
  const sim = simulateCustomer(p, createdDay, NEW_ACCOUNT_DAYS, createRandom(derive(seed, 'onboarding', i)), rates);
  return sim.days.map((d) => ({
    day: d.day,
    values: Object.fromEntries(METERS.map((m) => [m, dailyValue(d, m)])) as Record<Meter, number>,
  }));
}

/** Per day of age, per meter: the 99th percentile of established customers' first two weeks. */
function surgeReferences(customers: readonly SyntheticCustomer[]): Record<Meter, number>[] {
  return Array.from(
    { length: NEW_ACCOUNT_DAYS },
    (_, age) =>
      Object.fromEntries(
        METERS.map((m) => [
          m,
          Math.max(
            1,
            quantile(
              customers.flatMap((c) => (c.onboarding[age] ? [c.onboarding[age]!.values[m]] : [])),
              0.99,
            ),
          ),
        ]),
      ) as Record<Meter, number>,
  );
}

function shuffled<T>(xs: readonly T[], r: Random): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = r.int(0, i);
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}
