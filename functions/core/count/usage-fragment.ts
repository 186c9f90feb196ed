import { DAY_MS, HOUR_MS, utcDay } from '../../../contract/clock.js';
import { eventKey, type UsageEvent } from '../../../contract/event-contract.js';
import { assertNever } from '../../../contract/meters.js';

/** A file protection change: file id, '+' protected or '-' unprotected, event time (ms), event key (tie-break). */
export type FileOp = [fileId: string, op: '+' | '-', timeMs: number, key: string];

/**
 * What one queue message contributed to one customer's UTC day. Keyed by (customer, day, message),
 * so writing it again on a redelivery overwrites it with the same content: counters that cannot double count.
 */
export interface UsageFragment {
  customerId: string;
  day: string;
  messageKey: string;
  /** API calls per UTC hour ("00".."23"). */
  calls: Record<string, number>;
  /** Distinct user ids active per UTC hour. */
  users: Record<string, string[]>;
  fileOps: FileOp[];
  events: number;
}

const hourOf = (iso: string) => iso.slice(11, 13);

/** Builds one fragment per (customer, day) from the events a message owns. */
export function buildFragments(message: string, owned: readonly UsageEvent[]): UsageFragment[] {
  const byPartition = new Map<string, UsageFragment>();
  const userSets = new Map<UsageFragment, Map<string, Set<string>>>();
  for (const e of owned) {
    const day = e.time.slice(0, 10);
    const pk = `${e.customerId}\u0000${day}`;
    let f = byPartition.get(pk);
    if (!f) {
      f = { customerId: e.customerId, day, messageKey: message, calls: {}, users: {}, fileOps: [], events: 0 };
      byPartition.set(pk, f);
      userSets.set(f, new Map());
    }
    f.events++;
    const hh = hourOf(e.time);
    switch (e.type) {
      case 'com.serenity.api.call':
        f.calls[hh] = (f.calls[hh] ?? 0) + e.quantity;
        break;
      case 'com.serenity.user.active': {
        const sets = userSets.get(f)!;
        let s = sets.get(hh);
        if (!s) {
          s = new Set();
          sets.set(hh, s);
        }
        s.add(e.userId!);
        break;
      }
      case 'com.serenity.file.protected':
      case 'com.serenity.file.unprotected':
        f.fileOps.push([e.fileId!, e.type === 'com.serenity.file.protected' ? '+' : '-', Date.parse(e.time), eventKey(e)]);
        break;
      default:
        assertNever(e.type);
    }
  }
  for (const [f, sets] of userSets) {
    for (const [hh, s] of sets) f.users[hh] = [...s].sort();
  }
  return [...byPartition.values()];
}

export type Granularity = 'hour' | 'day';

/** Usage of one customer in one bucket `[start, end)`. */
export interface UsageBucket {
  start: string;
  end: string;
  api_calls: number;
  active_users: number;
  /** Files protected at the end of the bucket. */
  protected_files: number;
}

/**
 * Folds fragments into buckets over `[from, to)`: API calls summed, active users distinct per bucket,
 * protected files as the state at each bucket's end. Fragments must cover every day from the first
 * file operation on, or the protected count misses earlier files (`baseline` carries a known state).
 */
export function foldUsage(
  fragments: readonly UsageFragment[],
  range: { from: number; to: number; granularity: Granularity },
  baseline: ReadonlyMap<string, '+' | '-'> = new Map(),
): UsageBucket[] {
  const step = range.granularity === 'hour' ? HOUR_MS : DAY_MS;
  const buckets: (UsageBucket & { users: Set<string> })[] = [];
  for (let t = range.from; t < range.to; t += step) {
    buckets.push({
      start: iso(t),
      end: iso(Math.min(t + step, range.to)),
      api_calls: 0,
      active_users: 0,
      protected_files: 0,
      users: new Set(),
    });
  }
  const indexOf = (ms: number) => (ms < range.from || ms >= range.to ? -1 : Math.floor((ms - range.from) / step));
  const ops: FileOp[] = [];
  for (const f of fragments) {
    const dayStart = Date.parse(`${f.day}T00:00:00Z`);
    for (const [hh, n] of Object.entries(f.calls)) {
      const i = indexOf(dayStart + Number(hh) * HOUR_MS);
      if (i >= 0) buckets[i]!.api_calls += n;
    }
    for (const [hh, ids] of Object.entries(f.users)) {
      const i = indexOf(dayStart + Number(hh) * HOUR_MS);
      if (i >= 0) for (const u of ids) buckets[i]!.users.add(u);
    }
    for (const op of f.fileOps) ops.push(op);
  }
  ops.sort(compareFileOps);
  const state = new Map(baseline);
  let protectedCount = [...state.values()].filter((v) => v === '+').length;
  let next = 0;
  for (const b of buckets) {
    const end = Date.parse(b.end);
    while (next < ops.length && ops[next]![2] < end) {
      const [fileId, op] = ops[next++]!;
      const before = state.get(fileId);
      if (before !== op) {
        if (op === '+') protectedCount++;
        else if (before === '+') protectedCount--;
        state.set(fileId, op);
      }
    }
    b.protected_files = protectedCount;
    b.active_users = b.users.size;
  }
  return buckets.map(({ users: _users, ...b }) => b);
}

/** File operations in the order they happened; ties broken by event key so every fold agrees. */
export function compareFileOps(a: FileOp, b: FileOp): number {
  return a[2] - b[2] || (a[3] < b[3] ? -1 : a[3] > b[3] ? 1 : 0);
}

/** Exact distinct users across fragments (e.g. a day or a calendar month). */
export function distinctUsers(fragments: readonly UsageFragment[]): Set<string> {
  const all = new Set<string>();
  for (const f of fragments) for (const ids of Object.values(f.users)) for (const u of ids) all.add(u);
  return all;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** The UTC days `[from, to)` touches, oldest first. */
export function daysBetween(from: number, to: number): string[] {
  const out: string[] = [];
  for (let t = Date.parse(`${utcDay(from)}T00:00:00Z`); t < to; t += DAY_MS) out.push(utcDay(t));
  return out;
}
