import { DAY_MS } from '../../../contract/clock.js';
import type { CloseRunListing, StoredRun } from '../shared/ports.js';

/** A close run as the console shows it: its progress and whether every chunk finished. */
export interface RunView {
  day: string;
  runId: string;
  startedAt: string;
  chunks: number;
  chunksDone: number;
  customers: number;
  counts: Record<string, number>;
  missedDays?: string[];
  missedBeyondWindow?: string[];
  /** Meter records of the run that failed to send (its counts' `failed`), when any did. */
  failures?: number;
  complete: boolean;
}

/** Days read side by side: each is one small Query. */
const DAYS_AT_ONCE = 7;
/** Days looked back beyond the runs asked for: a night with no run (a failed planner) costs one day of the bound. */
const SPARE_DAYS = 7;

/**
 * The newest `limit` close runs, newest first. Runs are stored per closed day (pk RUN#<day>) without an index
 * over days, so this reads day partitions backwards from `today`, a week at a time, and stops once it holds
 * `limit` runs or has looked `limit + 7` days back: a bounded number of one-partition Queries, never a Scan.
 */
export async function recentRuns(listing: CloseRunListing, today: string, limit: number): Promise<RunView[]> {
  const out: StoredRun[] = [];
  const lookback = limit + SPARE_DAYS;
  const start = Date.parse(`${today}T00:00:00Z`);
  for (let offset = 0; offset < lookback && out.length < limit; offset += DAYS_AT_ONCE) {
    const days = Array.from({ length: Math.min(DAYS_AT_ONCE, lookback - offset) }, (_, i) =>
      new Date(start - (offset + i) * DAY_MS).toISOString().slice(0, 10),
    );
    const found = await Promise.all(days.map((d) => listing.runsOf(d)));
    // Within a day, the latest start first (a re-close after the nightly run).
    for (const runs of found) out.push(...runs.sort((a, b) => (a.startedAt < b.startedAt ? 1 : -1)));
  }
  return out.slice(0, limit).map(viewOf);
}

function viewOf(r: StoredRun): RunView {
  const chunksDone = r.chunksDone ?? 0;
  const failed = r.counts?.failed ?? 0;
  return {
    day: r.day,
    runId: r.runId,
    startedAt: r.startedAt,
    chunks: r.chunks,
    chunksDone,
    customers: r.customers,
    counts: r.counts ?? {},
    ...(r.missedDays?.length ? { missedDays: r.missedDays } : {}),
    ...(r.missedBeyondWindow?.length ? { missedBeyondWindow: r.missedBeyondWindow } : {}),
    ...(failed > 0 ? { failures: failed } : {}),
    complete: chunksDone >= r.chunks,
  };
}
