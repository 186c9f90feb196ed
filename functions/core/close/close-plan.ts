import { DAY_MS, utcDay } from '../../../contract/clock.js';
import { NEW_ACCOUNT_DAYS } from '../fraud/constants.js';
import { type PeerAccount, peerStatsFrom } from '../fraud/peer-stats.js';
import type { PeerStats } from '../fraud/types.js';
import type { Customer, StoredDay } from '../shared/ports.js';

/** One unit of the nightly close's fan-out: a chunk of customers for one day. */
export interface CloseChunk {
  v: 1;
  runId: string;
  day: string;
  customers: { id: string; lateDays: string[] }[];
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
      ...(peers ? { peers } : {}),
    });
  }
  return chunks;
}

/** The UTC day before the instant: what a run at 00:30 closes. */
export function dayToClose(nowMs: number): string {
  return utcDay(nowMs - DAY_MS);
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
      .filter(
        (c) =>
          !c.financeReview &&
          Date.parse(c.createdAt) >= end - PEER_WINDOW_DAYS * DAY_MS &&
          Date.parse(c.createdAt) < end - NEW_ACCOUNT_DAYS * DAY_MS,
      )
      .sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1))
      .slice(0, MAX_PEERS)
  );
}

/** Peer statistics from stored rollups: each day's own values (calls summed, users distinct, files at the end). */
export function peerStats(peers: readonly { customer: Customer; days: readonly StoredDay[] }[], day: string): PeerStats | undefined {
  if (peers.length === 0) return undefined;
  const accounts: PeerAccount[] = peers.map(({ customer, days }) => ({
    customerId: customer.id,
    createdAt: customer.createdAt,
    days: days.map((d) => ({ day: d.day, values: { api_calls: d.apiCalls, active_users: d.activeUsers, protected_files: d.files.end } })),
  }));
  return peerStatsFrom(accounts, { throughDay: day });
}
