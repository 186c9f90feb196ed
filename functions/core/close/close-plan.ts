import { DAY_MS, utcDay } from '../../../contract/clock.js';
import { NEW_ACCOUNT_DAYS } from '../fraud/constants.js';
import { type PeerAccount, peerStatsFrom } from '../fraud/peer-stats.js';
import type { PeerStats } from '../fraud/types.js';
import { accountStart } from '../shared/customers.js';
import type { Customer, StoredDay } from '../shared/ports.js';

/** One unit of the nightly close's fan-out: a chunk of customers for one day. */
export interface CloseChunk {
  v: 1;
  runId: string;
  day: string;
  customers: { id: string; lateDays: string[] }[];
  /** Days before `day` that no completed run closed, closed for every customer of the chunk (see `catchUpDays`). */
  missedDays?: string[];
  /** Other customers' first two weeks, for the new-account rule; absent when there are too few peers. */
  peers?: PeerStats;
}

/**
 * Splits every customer into chunks for the reporting workers; each customer carries the late days
 * (days whose events arrived after they were closed) found for it.
 */
export function planChunks(
  runId: string,
  day: string,
  customers: readonly Customer[],
  late: readonly { customerId: string; day: string }[],
  perChunk: number,
  peers?: PeerStats,
  missedDays: readonly string[] = [],
): CloseChunk[] {
  const lateBy = new Map<string, string[]>();
  for (const l of late) if (l.day < day) lateBy.set(l.customerId, [...(lateBy.get(l.customerId) ?? []), l.day]);
  const chunks: CloseChunk[] = [];
  for (let i = 0; i < customers.length; i += perChunk) {
    chunks.push({
      v: 1,
      runId,
      day,
      customers: customers.slice(i, i + perChunk).map((c) => ({ id: c.id, lateDays: [...new Set(lateBy.get(c.id) ?? [])].sort() })),
      ...(missedDays.length ? { missedDays: [...missedDays] } : {}),
      ...(peers ? { peers } : {}),
    });
  }
  return chunks;
}

/** The UTC day before the instant: what a run at 00:30 closes. */
export function dayToClose(nowMs: number): string {
  return utcDay(nowMs - DAY_MS);
}

/**
 * How many missed days a run catches up at most: the oldest whose first meter event (23:00 UTC that day)
 * Stripe still takes, within its 35-day window less the reporter's one-hour margin, when the run starts
 * at 00:30 after `day`. An outage longer than that leaves older days to be billed by hand.
 */
export const MAX_CATCH_UP_DAYS = 34;

/**
 * The days between the close watermark (the latest day every earlier run closed) and `day`, exclusive of
 * both: the days a failed or missed run left unclosed. The newest `MAX_CATCH_UP_DAYS` of them are
 * `missed` (closed with `day`); older ones are `beyondWindow` (Stripe would refuse them). Without a
 * watermark (the first run) nothing is caught up.
 */
export function catchUpDays(watermark: string | undefined, day: string): { missed: string[]; beyondWindow: string[] } {
  if (watermark === undefined || watermark >= day) return { missed: [], beyondWindow: [] };
  const missed: string[] = [];
  const beyondWindow: string[] = [];
  const end = Date.parse(`${day}T00:00:00Z`);
  for (let t = Date.parse(`${watermark}T00:00:00Z`) + DAY_MS; t < end; t += DAY_MS) {
    (end - t <= MAX_CATCH_UP_DAYS * DAY_MS ? missed : beyondWindow).push(utcDay(t));
  }
  return { missed, beyondWindow };
}

/** How far back peers are drawn from, and how many at most: recent cohorts, bounded planner reads. */
export const PEER_WINDOW_DAYS = 120;
export const MAX_PEERS = 2000;

/**
 * The customers whose first two weeks make the peer statistics for a night: the most recent cohorts whose
 * first two weeks are over. An account still in them is the one the rule judges, and must not be its own
 * peer: with few peers, its surge would lift the very quantile it is compared with.
 */
export function peerCandidates(customers: readonly Customer[], day: string): Customer[] {
  const end = Date.parse(`${day}T00:00:00Z`) + DAY_MS;
  return (
    customers
      // Confirmed fraud is not what new accounts usually do: it would lift the peers' high quantiles.
      // A cohort is the accounts that began together: the start given at registration counts, not the registration.
      .filter(
        (c) => !c.financeReview && accountStart(c) >= end - PEER_WINDOW_DAYS * DAY_MS && accountStart(c) < end - NEW_ACCOUNT_DAYS * DAY_MS,
      )
      .sort((a, b) => accountStart(b) - accountStart(a))
      .slice(0, MAX_PEERS)
  );
}

/** Peer statistics from stored rollups: each day's own values (calls summed, users distinct, files at the end). */
export function peerStats(peers: readonly { customer: Customer; days: readonly StoredDay[] }[], day: string): PeerStats | undefined {
  if (peers.length === 0) return undefined;
  const accounts: PeerAccount[] = peers.map(({ customer, days }) => ({
    customerId: customer.id,
    createdAt: new Date(accountStart(customer)).toISOString(),
    days: days.map((d) => ({ day: d.day, values: { api_calls: d.apiCalls, active_users: d.activeUsers, protected_files: d.files.end } })),
  }));
  return peerStatsFrom(accounts, { throughDay: day });
}
