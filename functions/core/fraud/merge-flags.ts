import { createHash } from 'node:crypto';
import { DAY_MS, startOfUtcDay, utcDay } from '../../../contract/clock.js';
import { type FieldError, ValidationError } from '../../../contract/errors.js';
import type { Meter } from '../../../contract/meters.js';
import { MAX_EVIDENCE_POINTS } from './constants.js';
import { learnFromDecisions } from './learn-from-decisions.js';
import { severityRank } from './scoring.js';
import type { AlsoMatched, Detection, EvidenceSeries, Flag, FlagEvidence, FraudRule, RankedValue } from './types.js';

/** What one night's detections do to the stored flags. */
export interface MergeResult {
  /** New flags, to store. */
  created: Flag[];
  /** New versions of stored flags (window extended, or score raised), to store over the old. */
  updated: Flag[];
  /** Detections that open nothing: already covered by a dismissed flag, or continuing one at no higher severity. */
  suppressed: Detection[];
}

/**
 * A flag's id: a hash of customer, rule, meter and the window start it was opened with, so the same
 * detection always names the same flag. `generation` (default 0, left out of the hash then) tells apart
 * a flag opened again where a dismissed one started, for a louder detection.
 *
 * @example flagId('cus-1', 'volume_spike', 'api_calls', '2026-03-09T14:00:00.000Z') // 'flg_…'
 */
export function flagId(customerId: string, rule: FraudRule, meter: Meter, windowFrom: string, generation = 0): string {
  const parts = [customerId, rule, meter, new Date(Date.parse(windowFrom)).toISOString(), ...(generation > 0 ? [String(generation)] : [])];
  const digest = createHash('sha256').update(parts.join('\u0000')).digest('base64url');
  return `flg_${digest.slice(0, 24)}`;
}

/**
 * Deduplicates one night's detections against the customer's stored flags, after the analysts' earlier
 * decisions on them have adjusted the detections' severities (`learnFromDecisions`). A night may score several
 * days (the closed day, and late days scored again). Detections are taken oldest window first, those that
 * continue a live flag before the others, repeatedly: a late day next to a day whose detection has just
 * extended a flag extends it too, rather than opening a second flag beside it.
 *
 * For each detection, among flags of the same customer, rule and meter (for `new_account_surge`, judged
 * per account: of the same customer and rule, whatever the meter and day):
 * - an open or confirmed flag whose window overlaps it or ends on the day before it (per account: any)
 *   is *continued*: its window is widened to cover the detection, its score and severity raised if the
 *   detection's are higher (a confirmed flag stays confirmed, so a continuing confirmed pattern stays
 *   held), and another meter is folded into `evidence.alsoMatched`, so the flag holds it too;
 * - otherwise a dismissed flag it touches suppresses it, unless the detection is of a higher severity
 *   than the dismissal (then a new flag opens, for a fresh look);
 * - otherwise a new open flag opens.
 * A detection already inside a flag's window at no higher score changes nothing, so re-running a night
 * creates and updates nothing. `at` (ISO) stamps the history entries.
 *
 * @example const { created, updated } = mergeFlags(storedFlags, detectFraud(input), now)
 */
export function mergeFlags(existing: readonly Flag[], detections: readonly Detection[], at: string): MergeResult {
  validate(detections, at);
  const working = new Map(existing.map((f) => [f.id, f]));
  const created = new Set<string>();
  const updated = new Set<string>();
  const suppressed: Detection[] = [];
  // The analysts' decisions first: a dismissed pattern seen again is low, a confirmed one louder.
  const ordered = learnFromDecisions(existing, detections).sort(
    (a, b) => Date.parse(a.window.from) - Date.parse(b.window.from) || a.rule.localeCompare(b.rule) || a.meter.localeCompare(b.meter),
  );
  const touching = (d: Detection) => [...working.values()].filter((f) => sameCase(f, d));
  const continueLive = (d: Detection): boolean => {
    const live = touching(d).find((f) => f.status !== 'dismissed');
    if (!live) return false;
    const next = continueFlag(live, d, at);
    if (next !== live) {
      working.set(next.id, next);
      if (!created.has(next.id)) updated.add(next.id);
    }
    return true;
  };
  // Continuations first, until none is left: a night scoring several days (late ones) may reach a flag
  // through a newer day, e.g. days 1 and 2 before a flag on day 3, and day 1 must then extend it too.
  let rest = ordered;
  for (let before = -1; rest.length !== before; ) {
    before = rest.length;
    rest = rest.filter((d) => !continueLive(d));
  }
  for (const d of rest) {
    if (continueLive(d)) continue;
    const same = touching(d);
    const dismissed = same.filter((f) => f.status === 'dismissed');
    if (dismissed.some((f) => covers(f, d) || severityRank(d.severity) <= severityRank(f.severity))) {
      suppressed.push(d);
      continue;
    }
    // A louder detection where a dismissed flag started opens a flag of its own, under the next generation's id.
    let flag = openFlag(d, at);
    for (let generation = 1; working.has(flag.id); generation++) flag = openFlag(d, at, generation);
    working.set(flag.id, flag);
    created.add(flag.id);
  }
  const pick = (ids: Set<string>) => [...ids].map((id) => working.get(id)!).sort((a, b) => a.id.localeCompare(b.id));
  return { created: pick(created), updated: pick(updated), suppressed };
}

/**
 * A flag's revision: how many changes it has been through. Every change (opened, extended, escalated,
 * confirmed, dismissed) appends to its history, so the count tells a stored flag from a later version.
 */
export function flagRevision(f: Pick<Flag, 'history'>): number {
  return f.history.length;
}

/** A new open flag for a detection (`generation`: see `flagId`). */
export function openFlag(d: Detection, at: string, generation = 0): Flag {
  return {
    ...d,
    id: flagId(d.customerId, d.rule, d.meter, d.window.from, generation),
    status: 'open',
    notes: [],
    history: [{ at, by: 'system', action: 'opened', window: d.window, severity: d.severity, score: d.score }],
  };
}

function continueFlag(f: Flag, d: Detection, at: string): Flag {
  const from = Math.min(Date.parse(f.window.from), Date.parse(d.window.from));
  const to = Math.max(Date.parse(f.window.to), Date.parse(d.window.to));
  const grew = from < Date.parse(f.window.from) || to > Date.parse(f.window.to);
  const louder = d.score > f.score;
  // Another meter of a per-account pattern widens the flag to that meter (it then holds it too).
  const otherMeter =
    d.meter !== f.meter && !(f.evidence.alsoMatched ?? []).some((m) => m.rule === d.rule && m.meter === d.meter && m.score >= d.score);
  if (!grew && !louder && !otherMeter) return f;
  const window = { from: new Date(from).toISOString(), to: new Date(to).toISOString() };
  const severity = severityRank(d.severity) > severityRank(f.severity) ? d.severity : f.severity;
  const score = Math.max(f.score, d.score);
  // Another meter of a per-account pattern is folded in, so the flag holds it too.
  const fresh = d.meter === f.meter ? d.evidence : { ...d.evidence, alsoMatched: [...(d.evidence.alsoMatched ?? []), foldedMeter(d)] };
  return {
    ...f,
    window,
    severity,
    score,
    evidence: mergeEvidence(f.evidence, fresh, louder && d.meter === f.meter, {
      old: utcDay(Date.parse(f.window.from)),
      fresh: utcDay(Date.parse(d.window.from)),
    }),
    history: [
      ...f.history,
      { at, by: 'system', action: grew || (otherMeter && !louder) ? 'extended' : 'escalated', window, severity, score },
    ],
  };
}

/**
 * Same rule continuing: the louder detection's numbers, every series point (newest kept), top values
 * summed over days, a day's own figures replaced when it is scored again (`days`: the UTC days the old
 * flag's first figures and the fresh detection's are about).
 */
function mergeEvidence(old: FlagEvidence, fresh: FlagEvidence, freshIsLouder: boolean, days: { old: string; fresh: string }): FlagEvidence {
  const base = freshIsLouder ? fresh : old;
  const { placesByDay: _old, ...rest } = base;
  const merged: FlagEvidence = { ...rest, series: mergeSeries(old.series, fresh.series) };
  const keys = [...new Set([...(old.apiKeyIds ?? []), ...(fresh.apiKeyIds ?? [])])];
  if (keys.length > 0) merged.apiKeyIds = keys;
  const places = (e: FlagEvidence) => ({
    ...(e.topIpPrefixes ? { topIpPrefixes: e.topIpPrefixes } : {}),
    ...(e.topCountries ? { topCountries: e.topCountries } : {}),
  });
  const byDay = {
    ...(old.placesByDay ?? (old.topIpPrefixes || old.topCountries ? { [days.old]: places(old) } : {})),
    ...(fresh.topIpPrefixes || fresh.topCountries ? { [days.fresh]: places(fresh) } : {}),
  };
  const perDay = Object.values(byDay);
  if (perDay.length > 0) merged.placesByDay = byDay;
  const prefixes = perDay.reduce<RankedValue[] | undefined>((acc, p) => mergeRanked(acc, p.topIpPrefixes), undefined);
  if (prefixes) merged.topIpPrefixes = prefixes;
  const countries = perDay.reduce<RankedValue[] | undefined>((acc, p) => mergeRanked(acc, p.topCountries), undefined);
  if (countries) merged.topCountries = countries;
  const also = mergeAlsoMatched(old.alsoMatched, fresh.alsoMatched);
  if (also.length > 0) merged.alsoMatched = also;
  return merged;
}

/** A detection about another meter, as folded into a per-account flag's `evidence.alsoMatched`. */
export function foldedMeter(d: Detection): AlsoMatched {
  return { rule: d.rule, meter: d.meter, score: d.score, summary: d.evidence.summary };
}

/** One entry per rule and meter, the loudest kept. */
function mergeAlsoMatched(a: readonly AlsoMatched[] | undefined, b: readonly AlsoMatched[] | undefined): AlsoMatched[] {
  const byKey = new Map<string, AlsoMatched>();
  for (const m of [...(a ?? []), ...(b ?? [])]) {
    const key = `${m.rule}\u0000${m.meter ?? ''}`;
    const prev = byKey.get(key);
    if (prev === undefined || m.score > prev.score) byKey.set(key, m);
  }
  return [...byKey.values()];
}

function mergeSeries(a: readonly EvidenceSeries[], b: readonly EvidenceSeries[]): EvidenceSeries[] {
  const byName = new Map<string, EvidenceSeries>();
  for (const s of [...a, ...b]) {
    const prev = byName.get(s.name);
    const points = new Map((prev?.points ?? []).map((p) => [p.t, p]));
    for (const p of s.points) points.set(p.t, { ...p, flagged: p.flagged || points.get(p.t)?.flagged === true });
    const sorted = [...points.values()].sort((x, y) => Date.parse(x.t) - Date.parse(y.t)).slice(-MAX_EVIDENCE_POINTS);
    byName.set(s.name, { name: s.name, granularity: s.granularity, points: sorted });
  }
  return [...byName.values()];
}

function mergeRanked(a: readonly RankedValue[] | undefined, b: readonly RankedValue[] | undefined): RankedValue[] | undefined {
  if (a === undefined && b === undefined) return undefined;
  const totals = new Map<string, RankedValue>();
  for (const v of [...(a ?? []), ...(b ?? [])]) {
    const prev = totals.get(v.value);
    totals.set(v.value, { value: v.value, calls: (prev?.calls ?? 0) + v.calls, ...((prev?.new ?? false) || v.new ? { new: true } : {}) });
  }
  return [...totals.values()]
    .sort((x, y) => Number(y.new ?? false) - Number(x.new ?? false) || y.calls - x.calls || x.value.localeCompare(y.value))
    .slice(0, 15);
}

/**
 * Whether a detection belongs to a flag's case: same customer and rule, and the same meter on the same
 * or consecutive days; for a rule judged per account (`new_account_surge`: the account's first two
 * weeks are one pattern), any meter and day.
 */
function sameCase(f: Flag, d: Detection): boolean {
  if (f.customerId !== d.customerId || f.rule !== d.rule) return false;
  return PER_ACCOUNT_RULES.has(d.rule) || (f.meter === d.meter && touches(f, d));
}

/** Rules whose pattern is the account's, not a meter's or a day's: one flag per account. */
const PER_ACCOUNT_RULES: ReadonlySet<FraudRule> = new Set(['new_account_surge']);

/** True when the detection overlaps the flag's window or starts on the UTC day after it ends (consecutive days). */
function touches(f: Flag, d: Detection): boolean {
  const fFirst = startOfUtcDay(Date.parse(f.window.from));
  const fLast = startOfUtcDay(Date.parse(f.window.to) - 1);
  const dFirst = startOfUtcDay(Date.parse(d.window.from));
  const dLast = startOfUtcDay(Date.parse(d.window.to) - 1);
  return dFirst <= fLast + DAY_MS && fFirst <= dLast + DAY_MS;
}

function covers(f: Flag, d: Detection): boolean {
  return Date.parse(f.window.from) <= Date.parse(d.window.from) && Date.parse(d.window.to) <= Date.parse(f.window.to);
}

function validate(detections: readonly Detection[], at: string): void {
  const errors: FieldError[] = [];
  if (!Number.isFinite(Date.parse(at))) errors.push({ field: 'at', message: `must be an ISO-8601 instant, got '${at}'` });
  detections.forEach((d, i) => {
    if (!(Date.parse(d.window.from) < Date.parse(d.window.to)))
      errors.push({ field: `detections[${i}].window`, message: 'must be half-open with from < to' });
    if (!(d.score >= 0 && d.score <= 1)) errors.push({ field: `detections[${i}].score`, message: 'must lie in [0, 1]' });
  });
  if (errors.length > 0) throw new ValidationError(errors);
}
