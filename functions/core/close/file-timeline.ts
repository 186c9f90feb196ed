import { DAY_MS } from '../../../contract/clock.js';
import { type FieldError, ValidationError } from '../../../contract/errors.js';
import { compareFileOps, type FileOp } from '../count/usage-fragment.js';

/**
 * Protected files over time, exactly.
 *
 * A file's state is its latest operation in (time, event key) order; protecting a protected file or
 * unprotecting an unknown or unprotected one changes nothing. An operation takes effect at its own
 * instant: the count at instant `t` is the number of files whose latest operation stamped at or before
 * `t` is a protect. So an operation counts in the UTC day (and billing period) it is stamped in, and
 * `[from, to)` windows need no special case at their edges. Operations sharing a millisecond take effect
 * together; their key order only decides which of one file's operations is the latest, so swapping one
 * file for another within a millisecond is never a peak.
 *
 * A day's counts: `start` when it opens, before any of its operations (the previous day's `end`);
 * `end` after all of them; `peak` the highest count at any instant of `[00:00, 24:00)`. An operation
 * stamped exactly 00:00:00.000 already applies at the day's first instant, so `peak` can be below `start`.
 */

/** Files protected at one instant: what a day's rollup starts from and hands on to the next day. */
export interface FileTimelineState {
  /** ISO-8601 UTC; the state holds every operation stamped before this instant (usually a day's 00:00). */
  asOf: string;
  protectedFiles: ReadonlySet<string>;
}

/** Protected-file counts of one window (a UTC day). */
export interface FileDayCounts {
  start: number;
  end: number;
  peak: number;
}

/** Every operation of a customer's files, per file id, each list sorted by `compareFileOps`. */
export type FileHistory = ReadonlyMap<string, readonly FileOp[]>;

/** The count as a step function: from `times[i]` on (until the next time) the count is `counts[i]`. */
export interface FileTimeline {
  /** Files protected at instant `tMs` (operations stamped at or before it applied). */
  countAt(tMs: number): number;
  /** Highest count at any instant of `[fromMs, toMs)`. */
  peakIn(fromMs: number, toMs: number): number;
  /** Count after every operation. */
  readonly endCount: number;
}

/** The state before any operation: nothing protected. */
export function emptyFileState(asOf: string): FileTimelineState {
  return { asOf, protectedFiles: new Set() };
}

/** 00:00 UTC of a `YYYY-MM-DD` day in ms, or undefined when it is not a real UTC day (e.g. 2026-02-30). */
export function utcDayStart(day: string): number | undefined {
  if (typeof day !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(day)) return undefined;
  const ms = Date.parse(`${day}T00:00:00.000Z`);
  return Number.isFinite(ms) && new Date(ms).toISOString().slice(0, 10) === day ? ms : undefined;
}

/**
 * Applies one window's operations (any order) to the state at the window's start.
 * Every operation must lie in `[state.asOf, until)`; the returned state is the one at `until`.
 * @example applyFileOps(emptyFileState('2026-03-01T00:00:00.000Z'), [['f', '+', Date.parse('2026-03-01T10:00:00Z'), 's#1']], '2026-03-02T00:00:00.000Z').counts // { start: 0, end: 1, peak: 1 }
 */
export function applyFileOps(
  state: FileTimelineState,
  ops: readonly FileOp[],
  until: string,
): { state: FileTimelineState; counts: FileDayCounts; timeline: FileTimeline } {
  const from = Date.parse(state.asOf);
  const to = Date.parse(until);
  const errors: FieldError[] = [];
  if (!Number.isFinite(from)) errors.push({ field: 'state.asOf', message: 'must be an ISO-8601 instant' });
  if (!Number.isFinite(to) || !(to > from)) errors.push({ field: 'until', message: 'must be an ISO-8601 instant after state.asOf' });
  ops.forEach((op, i) => {
    if (!(op[2] >= from && op[2] < to))
      errors.push({ field: `ops[${i}]`, message: `time ${op[2]} lies outside [${state.asOf}, ${until})` });
  });
  if (errors.length) throw new ValidationError(errors);
  const start = state.protectedFiles.size;
  const { timeline, protectedFiles } = sweep(state.protectedFiles, [...ops].sort(compareFileOps));
  return {
    state: { asOf: new Date(to).toISOString(), protectedFiles },
    counts: { start, end: timeline.endCount, peak: timeline.peakIn(from, to) },
    timeline,
  };
}

/**
 * The count over time of a whole history (nothing protected before its first operation).
 * O(n log n) to build, O(log n) per `countAt`.
 */
export function fileTimeline(history: FileHistory): FileTimeline {
  return sweep(new Set(), flatten(history)).timeline;
}

/**
 * Counts for each of `days` (`YYYY-MM-DD`, any order) from a whole history: what a late operation
 * in an already closed day is repaired with. O(n log n + days log n) for n operations.
 * @example recomputeDays(history, ['2026-03-01', '2026-03-02']).get('2026-03-02') // { start, end, peak }
 */
export function recomputeDays(history: FileHistory, days: readonly string[]): Map<string, FileDayCounts> {
  const bounds = days.map((day, i) => ({ day, i, start: utcDayStart(day) }));
  const bad = bounds.filter((b) => b.start === undefined);
  if (bad.length)
    throw new ValidationError(bad.map((b) => ({ field: `days[${b.i}]`, message: `must be a UTC day, YYYY-MM-DD, got '${b.day}'` })));
  const timeline = fileTimeline(history);
  const out = new Map<string, FileDayCounts>();
  for (const { day, start } of bounds) {
    const s = start!;
    out.set(day, { start: timeline.countAt(s - 1), end: timeline.countAt(s + DAY_MS - 1), peak: timeline.peakIn(s, s + DAY_MS) });
  }
  return out;
}

/**
 * Adds operations to a history. An operation already held (same event key) is skipped, so applying
 * the same operations twice changes nothing. `earliestAddedMs` is the time of the earliest operation
 * actually added: every day from its day on needs recomputing (later days' starts may have moved).
 */
export function mergeFileOps(
  history: FileHistory,
  ops: readonly FileOp[],
): { history: FileHistory; earliestAddedMs: number | undefined; added: number } {
  const byFile = new Map<string, FileOp[]>();
  for (const op of ops) {
    let list = byFile.get(op[0]);
    if (!list) {
      list = [];
      byFile.set(op[0], list);
    }
    list.push(op);
  }
  const errors: FieldError[] = [];
  const next = new Map(history);
  let earliestAddedMs: number | undefined;
  let added = 0;
  for (const [fileId, incoming] of byFile) {
    const held = history.get(fileId) ?? [];
    const byKey = new Map(held.map((op) => [op[3], op]));
    const fresh: FileOp[] = [];
    for (const op of incoming) {
      const known = byKey.get(op[3]);
      if (known) {
        if (known[1] !== op[1] || known[2] !== op[2])
          errors.push({
            field: `ops.${op[3]}`,
            message: 'an operation with this event key is already held with a different operation or time',
          });
        continue;
      }
      byKey.set(op[3], op);
      fresh.push(op);
      earliestAddedMs = earliestAddedMs === undefined ? op[2] : Math.min(earliestAddedMs, op[2]);
    }
    if (fresh.length) {
      added += fresh.length;
      next.set(fileId, [...held, ...fresh].sort(compareFileOps));
    }
  }
  if (errors.length) throw new ValidationError(errors);
  return { history: next, earliestAddedMs, added };
}

/** The files protected at `asOf` (operations stamped before it), read from a history. O(files log ops). */
export function fileStateAt(history: FileHistory, asOf: string): FileTimelineState {
  const t = Date.parse(asOf);
  if (!Number.isFinite(t)) throw new ValidationError([{ field: 'asOf', message: 'must be an ISO-8601 instant' }]);
  const protectedFiles = new Set<string>();
  for (const [fileId, ops] of history) {
    const last = lastBefore(ops, t);
    if (last !== undefined && ops[last]![1] === '+') protectedFiles.add(fileId);
  }
  return { asOf: new Date(t).toISOString(), protectedFiles };
}

/**
 * Collapses what happened before `before` to each file's state then: its latest earlier operation if it
 * is a protect, nothing if it is an unprotect (the same as an unknown file). Counts at and after `before`
 * are unchanged. Only compact before an instant no operation can still arrive for: a late operation
 * earlier than `before` would be ordered against operations no longer held.
 */
export function compactFileHistory(history: FileHistory, before: string): FileHistory {
  const t = Date.parse(before);
  if (!Number.isFinite(t)) throw new ValidationError([{ field: 'before', message: 'must be an ISO-8601 instant' }]);
  const out = new Map<string, readonly FileOp[]>();
  for (const [fileId, ops] of history) {
    const last = lastBefore(ops, t);
    const kept = last === undefined ? ops : [...(ops[last]![1] === '+' ? [ops[last]!] : []), ...ops.slice(last + 1)];
    if (kept.length) out.set(fileId, kept);
  }
  return out;
}

/** Index of the last operation stamped before `t` in a sorted list, by binary search. */
function lastBefore(ops: readonly FileOp[], t: number): number | undefined {
  let lo = 0;
  let hi = ops.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ops[mid]![2] < t) lo = mid + 1;
    else hi = mid;
  }
  return lo === 0 ? undefined : lo - 1;
}

function flatten(history: FileHistory): FileOp[] {
  const all: FileOp[] = [];
  for (const ops of history.values()) for (const op of ops) all.push(op);
  return all.sort(compareFileOps);
}

/** Applies sorted operations to a copy of `initial`, recording the count after each millisecond's operations. */
function sweep(initial: Iterable<string>, sorted: readonly FileOp[]): { timeline: FileTimeline; protectedFiles: Set<string> } {
  const protectedFiles = new Set(initial);
  const initialCount = protectedFiles.size;
  const times: number[] = [];
  const counts: number[] = [];
  for (let i = 0; i < sorted.length; i++) {
    const [fileId, op, time] = sorted[i]!;
    if (op === '+') protectedFiles.add(fileId);
    else protectedFiles.delete(fileId);
    if (i + 1 === sorted.length || sorted[i + 1]![2] !== time) {
      times.push(time);
      counts.push(protectedFiles.size);
    }
  }
  // Index of the last step at or before t, or -1 before the first.
  const stepAt = (t: number): number => {
    let lo = 0;
    let hi = times.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (times[mid]! <= t) lo = mid + 1;
      else hi = mid;
    }
    return lo - 1;
  };
  const countAt = (t: number) => {
    const i = stepAt(t);
    return i < 0 ? initialCount : counts[i]!;
  };
  const timeline: FileTimeline = {
    countAt,
    peakIn(fromMs, toMs) {
      if (!(toMs > fromMs)) throw new ValidationError([{ field: 'toMs', message: 'must be after fromMs' }]);
      let peak = countAt(fromMs);
      for (let i = stepAt(fromMs) + 1; i < times.length && times[i]! < toMs; i++) peak = Math.max(peak, counts[i]!);
      return peak;
    },
    endCount: protectedFiles.size,
  };
  return { timeline, protectedFiles };
}
