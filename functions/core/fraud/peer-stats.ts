import { type FieldError, ValidationError } from '../../../contract/errors.js';
import { METERS, type Meter } from '../../../contract/meters.js';
import { utcDayStart } from '../close/file-timeline.js';
import { NEW_ACCOUNT_DAYS } from './constants.js';
import { accountAgeDays, comparableValue } from './rules/new-account-surge.js';
import { quantile } from './stats.js';
import type { AgeQuantiles, PeerStats } from './types.js';

/** One closed day of a peer account: each meter's daily value (calls summed, users distinct, files at the day's end). */
export interface PeerDay {
  day: string;
  values: Readonly<Record<Meter, number>>;
}

/** A peer: when it was created and (at least) its first days. */
export interface PeerAccount {
  customerId: string;
  createdAt: string;
  days: readonly PeerDay[];
}

/** Options of {@link peerStatsFrom}. */
export interface PeerStatsOptions {
  /** Only days up to and including this one count (what was closed by the night being run). */
  throughDay?: string;
  /** Leave these accounts out (the customer being judged). */
  exclude?: readonly string[];
}

/**
 * The peer statistics `new_account_surge` compares with: for each meter and each day of age 0-13, the
 * median, 90th and 99th percentiles of peers' daily values at that age (the creation day's calls and
 * users scaled to a full day, see `comparableValue`). Days of a peer at age 14 or
 * more, after `throughDay`, or before its creation are ignored.
 *
 * @example peerStatsFrom(accounts, { throughDay: '2026-03-09', exclude: ['cus-42'] }).byAge.api_calls[3].q99
 */
export function peerStatsFrom(accounts: readonly PeerAccount[], options: PeerStatsOptions = {}): PeerStats {
  const errors: FieldError[] = [];
  const through = options.throughDay === undefined ? Number.POSITIVE_INFINITY : utcDayStart(options.throughDay);
  if (through === undefined) errors.push({ field: 'throughDay', message: `must be a UTC day, YYYY-MM-DD, got '${options.throughDay}'` });
  const exclude = new Set(options.exclude ?? []);
  const values: Record<Meter, number[][]> = { api_calls: [], active_users: [], protected_files: [] };
  for (const m of METERS) for (let a = 0; a < NEW_ACCOUNT_DAYS; a++) values[m].push([]);
  accounts.forEach((acc, i) => {
    const created = Date.parse(acc.createdAt);
    if (!Number.isFinite(created))
      errors.push({ field: `accounts[${i}].createdAt`, message: `must be an ISO-8601 instant, got '${acc.createdAt}'` });
    if (exclude.has(acc.customerId) || !Number.isFinite(created)) return;
    for (const d of acc.days) {
      const start = utcDayStart(d.day);
      if (start === undefined) {
        errors.push({ field: `accounts[${i}].days`, message: `'${d.day}' is not a UTC day` });
        continue;
      }
      const age = accountAgeDays(start, created);
      if (age < 0 || age >= NEW_ACCOUNT_DAYS || start > (through ?? 0)) continue;
      for (const m of METERS) values[m][age]!.push(comparableValue(d.values[m], m, start, created));
    }
  });
  if (errors.length > 0) throw new ValidationError(errors);
  const summarize = (xs: number[]): AgeQuantiles => ({
    n: xs.length,
    q50: quantile(xs, 0.5),
    q90: quantile(xs, 0.9),
    q99: quantile(xs, 0.99),
  });
  const byAge = Object.fromEntries(METERS.map((m) => [m, values[m].map(summarize)])) as Record<Meter, AgeQuantiles[]>;
  return { accounts: byAge.api_calls[0]!.n, byAge };
}
