import { DAY_MS, HOUR_MS, startOfUtcDay } from '../../../contract/clock.js';
import type { FieldError } from '../../../contract/errors.js';
import { ValidationError } from '../../../contract/errors.js';
import { LIMITS } from '../../../contract/event-contract.js';
import { fileStateAt } from '../close/file-timeline.js';
import { mapLimit } from '../shared/concurrency.js';
import type { Customer, RollupStore, UsageStore } from '../shared/ports.js';
import {
  daysBetween,
  distinctUsers,
  type FileOp,
  foldUsage,
  type Granularity,
  type UsageBucket,
  type UsageFragment,
} from './usage-fragment.js';

export interface UsageQuery {
  customerId: string;
  from: number;
  to: number;
  granularity: Granularity;
}

export interface UsageReport {
  customer: string;
  from: string;
  to: string;
  granularity: Granularity;
  buckets: UsageBucket[];
  totals: { api_calls: number; active_users: number; protected_files: number };
}

/**
 * The widest range one request may ask, per granularity: a month of hours (744 buckets), or 93 days (a
 * quarter: the longest billing period, 31 days, three times over, enough to set periods side by side).
 * What a request reads follows from it: the range's days plus `FILE_LOOKBACK_DAYS`, never the customer's age.
 */
export const MAX_RANGE_DAYS: Record<Granularity, number> = { hour: 31, day: 93 };
/**
 * Days before the range whose fragments are folded for protected files, on top of the file history the
 * nightly close keeps: they carry the changes of days the close has not taken in yet (it runs nightly and
 * catches up from its watermark). A close more than this far behind can leave protected files short.
 */
export const FILE_LOOKBACK_DAYS = 7;
const INSTANT = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/;

/** Parses and checks the query string of GET /v1/usage; reports every problem at once. */
export function parseUsageQuery(q: Record<string, string | undefined>): UsageQuery {
  const errors: FieldError[] = [];
  const customerId = q.customer ?? '';
  if (!customerId) errors.push({ field: 'customer', message: 'is required' });
  else if (customerId.length > 256) errors.push({ field: 'customer', message: 'must be at most 256 characters' });
  const time = (field: 'from' | 'to') => {
    const v = q[field];
    if (!v) {
      errors.push({ field, message: 'is required (ISO-8601)' });
      return NaN;
    }
    // With its offset: Date.parse reads "1" as 2001 and a time without an offset in local time.
    const ms = INSTANT.test(v) ? Date.parse(v) : NaN;
    if (Number.isNaN(ms)) errors.push({ field, message: 'must be an ISO-8601 timestamp with its offset, e.g. 2026-03-09T00:00:00Z' });
    return ms;
  };
  const from = time('from');
  const to = time('to');
  const granularity = (q.granularity ?? 'day') as Granularity;
  if (granularity !== 'hour' && granularity !== 'day') errors.push({ field: 'granularity', message: 'must be "hour" or "day"' });
  if (!Number.isNaN(from) && !Number.isNaN(to) && from >= to) errors.push({ field: 'to', message: 'must be after from' });
  const step = granularity === 'hour' ? HOUR_MS : DAY_MS;
  // Buckets are whole hours or days: the range widens to them.
  const start = Math.floor(from / step) * step;
  const end = Math.ceil(to / step) * step;
  const maxDays = MAX_RANGE_DAYS[granularity];
  if (errors.length === 0 && end - start > maxDays * DAY_MS) {
    errors.push({ field: 'to', message: `must be at most ${maxDays} days after from with granularity=${granularity}` });
  }
  if (errors.length) throw new ValidationError(errors);
  return { customerId, from: start, to: end, granularity };
}

/**
 * Near-real-time usage of one customer, folded from fragments. Only the range's days are read, and the
 * `FILE_LOOKBACK_DAYS` before it; protected files start from the state the nightly close's file history
 * holds at the first day read (`files`). Days before 35 days ahead of the registration (the oldest an
 * event may be) or after `nowMs` plus five minutes (the newest) are not read at all.
 */
export async function usageReport(
  q: UsageQuery,
  customer: Customer,
  usage: UsageStore,
  nowMs: number,
  files: Pick<RollupStore, 'fileHistory'>,
): Promise<UsageReport> {
  const earliest = startOfUtcDay(Date.parse(customer.createdAt) - LIMITS.maxPastMs);
  const latest = nowMs + LIMITS.maxFutureMs;
  const first = Math.max(earliest, startOfUtcDay(q.from) - FILE_LOOKBACK_DAYS * DAY_MS);
  const days = q.to <= earliest || q.from > latest ? [] : daysBetween(first, Math.min(q.to, latest + 1));
  const fragments: UsageFragment[] = [];
  const chunks = await mapLimit(days, 8, (day) => usage.fragments(q.customerId, day));
  for (const c of chunks) fragments.push(...c);
  const history = days.length > 0 ? await files.fileHistory(q.customerId) : new Map<string, FileOp[]>();
  const baseline = new Map<string, '+' | '-'>();
  for (const fileId of fileStateAt(history, new Date(first).toISOString()).protectedFiles) baseline.set(fileId, '+');
  const buckets = foldUsage(fragments, q, baseline);
  const inRange = fragments.filter((f) => {
    const t = Date.parse(`${f.day}T00:00:00Z`);
    return t + DAY_MS > q.from && t < q.to;
  });
  return {
    customer: q.customerId,
    from: new Date(q.from).toISOString(),
    to: new Date(q.to).toISOString(),
    granularity: q.granularity,
    buckets,
    totals: {
      api_calls: buckets.reduce((s, b) => s + b.api_calls, 0),
      active_users: distinctUsersInRange(inRange, q.from, q.to),
      protected_files: buckets.at(-1)?.protected_files ?? 0,
    },
  };
}

function distinctUsersInRange(fragments: UsageFragment[], from: number, to: number): number {
  // Hours outside the range are dropped before the union, so a partial first or last day is exact.
  const clipped = fragments.map((f) => {
    const dayStart = Date.parse(`${f.day}T00:00:00Z`);
    const users = Object.fromEntries(
      Object.entries(f.users).filter(([hh]) => {
        const t = dayStart + Number(hh) * HOUR_MS;
        return t >= from && t < to;
      }),
    );
    return { ...f, users };
  });
  return distinctUsers(clipped).size;
}
