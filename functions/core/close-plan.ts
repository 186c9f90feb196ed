import type { Customer } from './ports.js';

/** One unit of the nightly close's fan-out: a chunk of customers for one day. */
export interface CloseChunk {
  v: 1;
  runId: string;
  day: string;
  customers: { id: string; lateDays: string[] }[];
}

/**
 * Splits every customer into chunks for the reporting workers; each customer carries the late days
 * (days whose events arrived after they were closed) found for it.
 */
export function planChunks(runId: string, day: string, customers: readonly Customer[], late: readonly { customerId: string; day: string }[], perChunk: number): CloseChunk[] {
  const lateBy = new Map<string, string[]>();
  for (const l of late) if (l.day < day) lateBy.set(l.customerId, [...(lateBy.get(l.customerId) ?? []), l.day]);
  const chunks: CloseChunk[] = [];
  for (let i = 0; i < customers.length; i += perChunk) {
    chunks.push({
      v: 1,
      runId,
      day,
      customers: customers.slice(i, i + perChunk).map((c) => ({ id: c.id, lateDays: [...new Set(lateBy.get(c.id) ?? [])].sort() })),
    });
  }
  return chunks;
}

/** The UTC day before the instant: what a run at 00:30 closes. */
export function dayToClose(nowMs: number): string {
  return new Date(nowMs - 86_400_000).toISOString().slice(0, 10);
}
