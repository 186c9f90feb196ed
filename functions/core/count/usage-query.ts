import { DAY_MS, HOUR_MS, startOfUtcDay } from '../../../contract/clock.js';
import type { FieldError } from '../../../contract/errors.js';
import { ValidationError } from '../../../contract/errors.js';
import { LIMITS } from '../../../contract/event-contract.js';
import { mapLimit } from '../shared/concurrency.js';
import type { Customer, UsageStore } from '../shared/ports.js';
import { daysBetween, distinctUsers, foldUsage, type Granularity, type UsageBucket, type UsageFragment } from './usage-fragment.js';

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

const MAX_BUCKETS = 24 * 31;
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
  if (errors.length === 0 && (end - start) / step > MAX_BUCKETS) {
    errors.push({ field: 'to', message: `the range spans more than ${MAX_BUCKETS} ${granularity} buckets` });
  }
  if (errors.length) throw new ValidationError(errors);
  return { customerId, from: start, to: end, granularity };
}

/**
 * Near-real-time usage of one customer, folded from fragments. Protected files need every earlier
 * day, so fragments are read from 35 days before the customer was registered (the oldest an event may be),
 * and never beyond `nowMs` plus five minutes (the newest an event may be): a range far in the past or the
 * future reads no more days than the customer can have.
 */
export async function usageReport(q: UsageQuery, customer: Customer, usage: UsageStore, nowMs: number): Promise<UsageReport> {
  const earliest = startOfUtcDay(Date.parse(customer.createdAt) - LIMITS.maxPastMs);
  const latest = nowMs + LIMITS.maxFutureMs;
  const days = q.to <= earliest || q.from > latest ? [] : daysBetween(earliest, Math.min(q.to, latest + 1));
  const fragments: UsageFragment[] = [];
  const chunks = await mapLimit(days, 8, (day) => usage.fragments(q.customerId, day));
  for (const c of chunks) fragments.push(...c);
  const buckets = foldUsage(fragments, q);
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
