/**
 * The fraud evaluation's figures for one seed, from what was injected (labels), what happened benignly,
 * the detections night by night and the flags as they stand after the last night. Pure: `eval-fraud.ts`
 * runs the nights and prints; this scores.
 *
 * - **caught**: an injection is caught when a detection of its rule and meter (its own or one folded into
 *   it) overlaps its days; "within one nightly run" means by the run that closes its first day.
 * - **true flag**: a flag overlapping an injected day of its customer (any rule: a flag on injected traffic
 *   is worth a look).
 * - **benign flag**: not true, but on a labelled backfill: it suspects `api_calls` and its window touches
 *   the backfill's day. A backfill looks exactly like an injected spike or night burst (issue 4), so such
 *   a flag is worth a look but should not stop billing.
 * - **false flag**: every other flag (bursts, level shifts, outages, clean-ups, key rotations, migrations,
 *   scale-outs: ordinary life).
 * - **holds** (default policy, `holdsFromFlags`): the merged customer-meter day ranges the flags hold as they
 *   were raised, before any decision (`asRaised`: with `--decide`, dismissed and confirmed flags held what they held);
 *   benign and false holds are those drawn from benign and from false flags alone.
 * - **fraud quantity held**: each injection's quantity at stake per day (`GroundTruth.quantity`: how far it
 *   moved the meter's daily value), and the part of it on days a hold of the final flags covers for that
 *   customer and meter. Quantities of different meters are not added together: the share is given per
 *   meter, and the headline is the lowest of the three.
 */
import { DAY_MS, utcDay } from '../contract/clock.js';
import { METERS, type Meter } from '../contract/meters.js';
import type { Hold } from '../functions/core/billing/reporting-plan.js';
import { holdsFromFlags, suspectMeters } from '../functions/core/fraud/holds.js';
import { severityRank } from '../functions/core/fraud/scoring.js';
import { type Detection, FLAG_SEVERITIES, type Flag, FRAUD_RULES } from '../functions/core/fraud/types.js';
import type { Scenario } from './synthetic.js';

export interface PatternFigures {
  injected: number;
  caughtWithinOneRun: number;
  caughtEver: number;
  shareWithinOneRun: number;
  shareEver: number;
  meanDaysToDetection: number | null;
  /** Injections whose first day the final flags hold under the default policy. */
  heldByDefault: number;
  /** The pattern's quantity at stake, in its meters' units, and the part of it held. */
  quantity: number;
  quantityHeld: number;
}

export interface SeedFigures {
  seed: number;
  customers: number;
  customerMonths: number;
  flags: number;
  trueFlags: number;
  benignFlags: number;
  falseFlags: number;
  falseFlagsByRule: Record<string, number>;
  /** The latest benign event of the customer in the two weeks up to a false flag's end, or `noise`. */
  falseFlagsByCause: Record<string, number>;
  benignHolds: number;
  falseHolds: number;
  /** Flags by severity, and how many of them are true. */
  bySeverity: Record<string, { flags: number; true: number }>;
  /** Quantity at stake and held, per meter (each in its own unit). */
  quantityByMeter: Record<Meter, { quantity: number; held: number }>;
  patterns: Record<string, PatternFigures>;
  seconds: number;
}

/** What the nights produced, for one seed. */
export interface SeedRun {
  seed: number;
  scenario: Scenario;
  /** Every detection, with the night (0-based, from the first scored day) that made it. */
  detections: { night: number; d: Detection }[];
  flags: Flag[];
  customerMonths: number;
  /** Start of the first scored day (night 0's day), ms. */
  firstScoredDayMs: number;
  seconds: number;
}

type Label = Scenario['labels'][number];

const dayMs = (day: string) => Date.parse(`${day}T00:00:00Z`);
const overlaps = (w: { from: string; to: string }, fromDay: string, toDay: string) =>
  Date.parse(w.from) < dayMs(toDay) && dayMs(fromDay) < Date.parse(w.to);
/** A detection covers its meter and every other meter folded into it (a new account surging on several). */
const covers = (d: Detection, meter: Meter) => suspectMeters(d).includes(meter);

/** Whether `d` catches `l`: same rule, a meter it covers, overlapping days. */
export const catches = (d: Detection, l: Label) =>
  d.customerId === l.customerId && d.rule === l.pattern && covers(d, l.meter) && overlaps(d.window, l.from, l.to);

/**
 * A flag as the closes that reported its days saw it, before any analyst's decision: open, at the highest
 * severity it reached before its first decision. Usage is held, or billed, by the close that reports it,
 * the night before an analyst can look, so this is what the default policy held; a flag nobody decided is
 * its own.
 */
export function asRaised(f: Flag): Flag {
  const decidedAt = f.history.findIndex((h) => h.action === 'confirmed' || h.action === 'dismissed');
  if (decidedAt < 0) return f;
  const before = f.history.slice(0, decidedAt).flatMap((h) => (h.severity ? [h.severity] : []));
  const severity = before.reduce((a, b) => (severityRank(b) > severityRank(a) ? b : a), before[0] ?? f.severity);
  return { ...f, status: 'open', severity };
}

/** Sorts flags into true, benign (on a labelled backfill) and false. */
export function classifyFlags(s: Scenario, flags: readonly Flag[]): { true: Flag[]; benign: Flag[]; false: Flag[] } {
  const isTrue = (f: Flag) => s.labels.some((l) => l.customerId === f.customerId && overlaps(f.window, l.from, l.to));
  const backfills = s.benign.filter((b) => b.kind === 'backfill');
  const onBackfill = (f: Flag) =>
    covers(f, 'api_calls') &&
    backfills.some((b) => b.customerId === f.customerId && overlaps(f.window, b.day, utcDay(dayMs(b.day) + DAY_MS)));
  const out = { true: [] as Flag[], benign: [] as Flag[], false: [] as Flag[] };
  for (const f of flags) (isTrue(f) ? out.true : onBackfill(f) ? out.benign : out.false).push(f);
  return out;
}

/** Whether a hold covers the label's customer and meter on `day` (UTC, `YYYY-MM-DD`). */
const heldOn = (l: Label, holds: readonly Hold[], day: string) =>
  holds.some((h) => h.customerId === l.customerId && h.meter === l.meter && h.from <= day && day < h.to);

/** The part of a label's quantity on days `holds` cover for its customer and meter. */
export function heldQuantity(l: Label, holds: readonly Hold[]): number {
  let held = 0;
  for (const [day, q] of Object.entries(l.quantity ?? {})) if (heldOn(l, holds, day)) held += q;
  return held;
}

const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);

/** Scores one seed's run. */
export function scoreSeed(run: SeedRun): SeedFigures {
  const { scenario: s, detections, flags } = run;
  const raised = flags.map(asRaised);
  const holds = holdsFromFlags(raised);
  const patterns: Record<string, PatternFigures> = {};
  for (const rule of FRAUD_RULES) {
    const labels = s.labels.filter((l) => l.pattern === rule);
    const delays = labels.flatMap((l) => {
      const nights = detections.filter(({ d }) => catches(d, l)).map((h) => h.night);
      return nights.length ? [Math.round((run.firstScoredDayMs + Math.min(...nights) * DAY_MS - dayMs(l.from)) / DAY_MS)] : [];
    });
    const within = delays.filter((x) => x <= 0).length;
    patterns[rule] = {
      injected: labels.length,
      caughtWithinOneRun: within,
      caughtEver: delays.length,
      shareWithinOneRun: labels.length ? within / labels.length : 0,
      shareEver: labels.length ? delays.length / labels.length : 0,
      meanDaysToDetection: delays.length ? sum(delays) / delays.length : null,
      heldByDefault: labels.filter((l) => heldOn(l, holds, l.from)).length,
      quantity: sum(labels.map((l) => sum(Object.values(l.quantity ?? {})))),
      quantityHeld: sum(labels.map((l) => heldQuantity(l, holds))),
    };
  }
  const sorted = classifyFlags(s, flags);
  const byRule: Record<string, number> = Object.fromEntries(FRAUD_RULES.map((r) => [r, 0]));
  const byCause: Record<string, number> = {};
  for (const f of sorted.false) {
    byRule[f.rule]!++;
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
  const trueSet = new Set(sorted.true);
  const quantityByMeter = Object.fromEntries(
    METERS.map((m) => {
      const ls = s.labels.filter((l) => l.meter === m);
      return [m, { quantity: sum(ls.map((l) => sum(Object.values(l.quantity ?? {})))), held: sum(ls.map((l) => heldQuantity(l, holds))) }];
    }),
  ) as SeedFigures['quantityByMeter'];
  return {
    seed: run.seed,
    customers: s.customers.length,
    customerMonths: round(run.customerMonths),
    flags: flags.length,
    trueFlags: sorted.true.length,
    benignFlags: sorted.benign.length,
    falseFlags: sorted.false.length,
    falseFlagsByRule: byRule,
    falseFlagsByCause: byCause,
    benignHolds: holdsFromFlags(sorted.benign.map(asRaised)).length,
    falseHolds: holdsFromFlags(sorted.false.map(asRaised)).length,
    bySeverity: Object.fromEntries(
      FLAG_SEVERITIES.map((sev) => {
        const of = flags.filter((f) => f.severity === sev);
        return [sev, { flags: of.length, true: of.filter((f) => trueSet.has(f)).length }];
      }),
    ),
    quantityByMeter,
    patterns,
    seconds: round(run.seconds),
  };
}

/** Figures pooled over several seeds: rates over their customer-months, shares over their injections. */
export interface PooledFigures {
  seeds: number[];
  customerMonths: number;
  /** The lowest share caught within one run, over every pattern of every seed (each seed on its own). */
  minRecall: number;
  /** Per pattern, pooled over the seeds. */
  recallByPattern: Record<string, number>;
  falseFlagsPer100CustomerMonths: number;
  benignFlagsPer100CustomerMonths: number;
  benignHoldsPer100CustomerMonths: number;
  falseHoldsPer100CustomerMonths: number;
  /** The lowest of the three meters' shares of fraud quantity held. */
  fraudQuantityHeldShare: number;
  quantityHeldShareByMeter: Record<Meter, number | null>;
  quantityHeldShareByPattern: Record<string, number | null>;
}

export function pool(figures: readonly SeedFigures[]): PooledFigures {
  const cm = sum(figures.map((f) => f.customerMonths));
  const per100 = (pick: (f: SeedFigures) => number) => round((100 * sum(figures.map(pick))) / cm);
  const share = (held: number, of: number) => (of > 0 ? round(held / of) : null);
  const byMeter = Object.fromEntries(
    METERS.map((m) => [
      m,
      share(sum(figures.map((f) => f.quantityByMeter[m].held)), sum(figures.map((f) => f.quantityByMeter[m].quantity))),
    ]),
  ) as Record<Meter, number | null>;
  return {
    seeds: figures.map((f) => f.seed),
    customerMonths: round(cm),
    minRecall: round(Math.min(...figures.flatMap((f) => FRAUD_RULES.map((r) => f.patterns[r]!.shareWithinOneRun)))),
    recallByPattern: Object.fromEntries(
      FRAUD_RULES.map((r) => [
        r,
        round(sum(figures.map((f) => f.patterns[r]!.caughtWithinOneRun)) / Math.max(1, sum(figures.map((f) => f.patterns[r]!.injected)))),
      ]),
    ),
    falseFlagsPer100CustomerMonths: per100((f) => f.falseFlags),
    benignFlagsPer100CustomerMonths: per100((f) => f.benignFlags),
    benignHoldsPer100CustomerMonths: per100((f) => f.benignHolds),
    falseHoldsPer100CustomerMonths: per100((f) => f.falseHolds),
    fraudQuantityHeldShare: Math.min(...Object.values(byMeter).filter((x): x is number => x !== null)),
    quantityHeldShareByMeter: byMeter,
    quantityHeldShareByPattern: Object.fromEntries(
      FRAUD_RULES.map((r) => [
        r,
        share(sum(figures.map((f) => f.patterns[r]!.quantityHeld)), sum(figures.map((f) => f.patterns[r]!.quantity))),
      ]),
    ),
  };
}

export const round = (x: number) => Math.round(x * 1000) / 1000;
