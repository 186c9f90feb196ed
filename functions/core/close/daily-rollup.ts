import { DAY_MS, HOUR_MS, utcDay } from '../../../contract/clock.js';
import { type FieldError, ValidationError } from '../../../contract/errors.js';
import { eventKey, type UsageEvent } from '../../../contract/event-contract.js';
import { assertNever, METERS, type Meter } from '../../../contract/meters.js';
import type { FileOp } from '../count/usage-fragment.js';
import type { KeyDayActivity } from '../fraud/types.js';
import type { BillingPeriod } from './billing-period.js';
import { applyFileOps, type FileDayCounts, type FileTimelineState, utcDayStart } from './file-timeline.js';

/**
 * One customer's closed UTC day, counted from its raw events (stored once each), and the period-to-date
 * values built from consecutive days. Protected-file semantics are those of `file-timeline.ts`.
 */

/** What one customer did in one UTC day. */
export interface DayRollup {
  /** `YYYY-MM-DD`. */
  day: string;
  /** Raw events of the day, every type. */
  eventCount: number;
  /** Sum of API call quantities. */
  apiCalls: number;
  /** API call quantities per UTC hour, 24 entries. */
  apiCallsByHour: number[];
  /** Distinct users active in the day. */
  activeUsers: number;
  /** Distinct users active in each UTC hour, 24 entries. */
  activeUsersByHour: number[];
  /** API calls per key, with the /24 prefixes and countries they came from (for the fraud rules). */
  keys: KeyDayActivity[];
  /** The distinct user ids, sorted: the period's union is built from them (`unionActiveUsers`). */
  activeUserIds: string[];
  files: FileDayCounts;
  /** Files protected at the day's end: the next day's `fileStart`. */
  fileEnd: FileTimelineState;
}

/**
 * Counts one customer's day from its raw events (any order). `fileStart` is the state at the day's
 * 00:00 (the previous day's `fileEnd`, or `fileStateAt(history, …)` when repairing).
 * @example rollupDay(events, '2026-03-09', previous.fileEnd).apiCalls
 */
export function rollupDay(events: readonly UsageEvent[], day: string, fileStart: FileTimelineState): DayRollup {
  const start = utcDayStart(day);
  if (start === undefined) throw new ValidationError([{ field: 'day', message: `must be a UTC day, YYYY-MM-DD, got '${day}'` }]);
  const dayStartIso = new Date(start).toISOString();
  const errors: FieldError[] = [];
  if (Date.parse(fileStart.asOf) !== start)
    errors.push({ field: 'fileStart.asOf', message: `must be the day's start ${dayStartIso}, got '${fileStart.asOf}'` });

  const apiCallsByHour = new Array<number>(24).fill(0);
  const users = new Set<string>();
  const usersByHour = Array.from({ length: 24 }, () => new Set<string>());
  const keyStats = new Map<
    string,
    { calls: number; ipPrefixes: Record<string, number>; countries: Record<string, number>; countriesByHour: Set<string>[] }
  >();
  const ops: FileOp[] = [];
  const keys = new Set<string>();
  const customerId = events[0]?.customerId;
  events.forEach((e, i) => {
    const at = (field: string, message: string): void => {
      errors.push({ field: `events[${i}].${field}`, message });
    };
    const ms = Date.parse(e.time);
    if (!(ms >= start && ms < start + DAY_MS)) {
      at('time', `must lie in ${day} (UTC), got '${e.time}'`);
      return;
    }
    if (e.customerId !== customerId) {
      at('customerId', `a rollup is one customer's: expected '${customerId}', got '${e.customerId}'`);
      return;
    }
    const key = eventKey(e);
    if (keys.has(key)) {
      at('id', `event ${key} appears twice; raw events are stored once each, so the reader is at fault`);
      return;
    }
    keys.add(key);
    switch (e.type) {
      case 'com.serenity.api.call': {
        const hour = Math.floor((ms - start) / HOUR_MS);
        apiCallsByHour[hour]! += e.quantity;
        if (e.apiKeyId !== undefined) {
          let k = keyStats.get(e.apiKeyId);
          if (!k) {
            k = { calls: 0, ipPrefixes: {}, countries: {}, countriesByHour: Array.from({ length: 24 }, () => new Set()) };
            keyStats.set(e.apiKeyId, k);
          }
          k.calls += e.quantity;
          if (e.ipPrefix !== undefined) k.ipPrefixes[e.ipPrefix] = (k.ipPrefixes[e.ipPrefix] ?? 0) + e.quantity;
          if (e.country !== undefined) {
            k.countries[e.country] = (k.countries[e.country] ?? 0) + e.quantity;
            k.countriesByHour[hour]!.add(e.country);
          }
        }
        break;
      }
      case 'com.serenity.user.active':
        if (e.userId === undefined) {
          at('userId', 'is required for com.serenity.user.active');
          return;
        }
        users.add(e.userId);
        usersByHour[Math.floor((ms - start) / HOUR_MS)]!.add(e.userId);
        break;
      case 'com.serenity.file.protected':
      case 'com.serenity.file.unprotected':
        if (e.fileId === undefined) {
          at('fileId', `is required for ${e.type}`);
          return;
        }
        ops.push([e.fileId, e.type === 'com.serenity.file.protected' ? '+' : '-', ms, key]);
        break;
      default:
        assertNever(e.type);
    }
  });
  if (errors.length) throw new ValidationError(errors, { day });

  const files = applyFileOps(fileStart, ops, new Date(start + DAY_MS).toISOString());
  const activeUserIds = [...users].sort();
  return {
    day,
    eventCount: events.length,
    apiCalls: apiCallsByHour.reduce((a, b) => a + b, 0),
    apiCallsByHour,
    activeUsers: activeUserIds.length,
    activeUsersByHour: usersByHour.map((u) => u.size),
    keys: [...keyStats]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([apiKeyId, k]) => ({
        apiKeyId,
        calls: k.calls,
        ipPrefixes: k.ipPrefixes,
        countries: k.countries,
        countriesByHour: k.countriesByHour.map((c) => [...c].sort()),
      })),
    activeUserIds,
    files: files.counts,
    fileEnd: files.state,
  };
}

/** Which of a day's users are new to the period, and the period's distinct count with them. */
export interface ActiveUsersUnion {
  /** Sorted; the caller adds them to the ids it stores for the period. */
  newIds: string[];
  /** Exact distinct users in the period through the day. */
  count: number;
}

/**
 * Exact period-to-date active users: the ids already seen in the period plus the day's new ones.
 * A day in a new period starts from an empty set.
 * @example unionActiveUsers(new Set(['a', 'b']), ['b', 'c']) // { newIds: ['c'], count: 3 }
 */
export function unionActiveUsers(seenInPeriod: ReadonlySet<string>, dayIds: readonly string[]): ActiveUsersUnion {
  const newIds = [...new Set(dayIds.filter((id) => !seenInPeriod.has(id)))].sort();
  return { newIds, count: seenInPeriod.size + newIds.length };
}

/** The values of a billing period through one of its days. */
export interface PeriodToDate {
  periodKey: string;
  anchorDay: number;
  /** The last day folded in. */
  throughDay: string;
  /** Sum of the days' API calls. */
  apiCalls: number;
  /** Distinct users over the period's days. */
  activeUsers: number;
  /** Highest protected-file count at any instant of the period so far. */
  filesPeak: number;
  /** Protected files at the end of `throughDay`. */
  filesEnd: number;
}

/**
 * Folds one more day into a period's values. `previous` must be through the day before in the same
 * period; a day of another period (or no `previous`) starts afresh. `users` is `unionActiveUsers` of the
 * period's stored ids and the day's, and is checked against the counts it must lie between.
 */
export function periodToDate(
  previous: PeriodToDate | undefined,
  day: DayRollup,
  users: ActiveUsersUnion,
  period: BillingPeriod,
): PeriodToDate {
  const errors: FieldError[] = [];
  const dayStart = utcDayStart(day.day);
  if (dayStart === undefined || dayStart < Date.parse(period.start) || dayStart >= Date.parse(period.end)) {
    errors.push({ field: 'day.day', message: `must lie in period ${period.key} [${period.start}, ${period.end})` });
  }
  const continues = previous !== undefined && previous.periodKey === period.key && previous.anchorDay === period.anchorDay;
  if (previous !== undefined && dayStart !== undefined) {
    if (continues && previous.throughDay !== utcDay(dayStart - DAY_MS)) {
      errors.push({ field: 'previous.throughDay', message: `must be the day before ${day.day}, got ${previous.throughDay}` });
    }
    if (!continues && previous.throughDay >= day.day) {
      errors.push({ field: 'previous.throughDay', message: `a previous period must end before ${day.day}, got ${previous.throughDay}` });
    }
  }
  const before = continues ? previous.activeUsers : 0;
  if (users.count < Math.max(before, day.activeUsers) || users.count > before + day.activeUsers) {
    errors.push({
      field: 'users.count',
      message: `must lie in [${Math.max(before, day.activeUsers)}, ${before + day.activeUsers}] (period ids through the day before plus the day's), got ${users.count}`,
    });
  }
  if (errors.length) throw new ValidationError(errors, { day: day.day, period: period.key });
  return {
    periodKey: period.key,
    anchorDay: period.anchorDay,
    throughDay: day.day,
    apiCalls: (continues ? previous.apiCalls : 0) + day.apiCalls,
    activeUsers: users.count,
    filesPeak: Math.max(continues ? previous.filesPeak : 0, day.files.peak),
    filesEnd: day.files.end,
  };
}

/** What a `last` meter of protected files bills: the period's peak, or the count at its end. */
export type FilesBasis = 'peak' | 'end';

/** Per-meter billing settings. */
export interface MeterSettings {
  protected_files: { basis: FilesBasis };
}

export const DEFAULT_METER_SETTINGS: MeterSettings = { protected_files: { basis: 'peak' } };

/**
 * The value each meter reports for a closed day: the day's own total for `api_calls` (a `sum` meter),
 * the period-to-date value through the day for the `last` meters.
 * @example valuesToReport(day, ptd, { protected_files: { basis: 'end' } }).protected_files === ptd.filesEnd
 */
export function valuesToReport(day: DayRollup, ptd: PeriodToDate, settings: MeterSettings = DEFAULT_METER_SETTINGS): Record<Meter, number> {
  if (ptd.throughDay !== day.day)
    throw new ValidationError([{ field: 'ptd.throughDay', message: `must be ${day.day}, got ${ptd.throughDay}` }]);
  const reportedValue = (meter: Meter): number => {
    switch (meter) {
      case 'api_calls':
        return day.apiCalls;
      case 'active_users':
        return ptd.activeUsers;
      case 'protected_files':
        return filesValue(ptd, settings.protected_files.basis);
      default:
        return assertNever(meter);
    }
  };
  return Object.fromEntries(METERS.map((m) => [m, reportedValue(m)])) as Record<Meter, number>;
}

function filesValue(ptd: PeriodToDate, basis: FilesBasis): number {
  switch (basis) {
    case 'peak':
      return ptd.filesPeak;
    case 'end':
      return ptd.filesEnd;
    default:
      return assertNever(basis);
  }
}
