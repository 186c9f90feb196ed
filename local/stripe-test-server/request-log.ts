import type { EndpointStats, RequestLogEntry } from './types.js';

/** The log keeps this many recent calls so a long-running local stack cannot grow without bound. */
export const MAX_LOG_ENTRIES = 10_000;

/** Records every API call (control calls excluded) for assertions and the CLI. */
export class RequestRecorder {
  private entries: RequestLogEntry[] = [];
  private counts = new Map<string, EndpointStats>();
  private seq = 0;

  /** Adds one finished call. */
  record(entry: Omit<RequestLogEntry, 'seq'>): void {
    this.entries.push({ ...entry, seq: ++this.seq });
    // Trimmed in batches: a splice per call past the cap made a 100,000-call run quadratic.
    if (this.entries.length >= 2 * MAX_LOG_ENTRIES) this.entries = this.entries.slice(-MAX_LOG_ENTRIES);
    const stats = this.counts.get(entry.endpoint) ?? { total: 0, byStatus: {} };
    stats.total += 1;
    const status = String(entry.status);
    stats.byStatus[status] = (stats.byStatus[status] ?? 0) + 1;
    this.counts.set(entry.endpoint, stats);
  }

  /** Recent calls, oldest first. */
  log(): RequestLogEntry[] {
    return this.entries.slice(-MAX_LOG_ENTRIES).map((e) => ({ ...e }));
  }

  /** Calls per endpoint template (`POST /v1/billing/meter_events`), with counts per status. */
  stats(): Record<string, EndpointStats> {
    const out: Record<string, EndpointStats> = {};
    for (const [endpoint, s] of this.counts) out[endpoint] = { total: s.total, byStatus: { ...s.byStatus } };
    return out;
  }

  /** Forgets all calls. */
  clear(): void {
    this.entries = [];
    this.counts = new Map();
  }
}
