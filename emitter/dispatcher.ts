import type { FieldError } from '../contract/errors.js';
import { backoffDelay, sleep } from './backoff.js';
import { SEND_CONCURRENCY } from './constants.js';
import { EmitterError, isRetryable, reasonOf } from './errors.js';
import type { PendingBudget } from './pending-budget.js';
import type { CloudEvent, RetryOptions, Transport, TransportRejection } from './types.js';

/** A sealed event on its way: its id and content never change, whatever happens to the sends. */
interface Outgoing {
  event: CloudEvent;
  attempts: number;
  settled: boolean;
}

/** The dispatcher's share of the emitter's counters. */
export interface DeliveryCounters {
  sent: number;
  accepted: number;
  retries: number;
  rejected: { total: number; byReason: Record<string, number> };
}

/** What the dispatcher needs from the emitter. */
export interface DispatcherOptions {
  transport: Transport;
  budget: PendingBudget;
  retry: RetryOptions;
  maxBatchEvents: number;
  counters: DeliveryCounters;
  report: (error: EmitterError) => void;
  random?: () => number;
}

/**
 * Sends sealed events in batches and retries what may succeed later, always with the same ids,
 * so that the pipeline's (source, id) dedupe makes a retry harmless. An event leaves only when it is
 * accepted, rejected for good, or abandoned at the shutdown deadline.
 */
export class Dispatcher {
  private ready: Outgoing[] = [];
  /** How many of `ready` were never tried (every round takes all of them). */
  private fresh = 0;
  private readonly outstanding = new Set<Outgoing>();

  constructor(private readonly o: DispatcherOptions) {}

  /** Events waiting for the next round (sent ones that failed included). */
  get readyCount(): number {
    return this.ready.length;
  }

  /** Events waiting that were never tried: only these make a batch full (retries wait for the interval). */
  get freshCount(): number {
    return this.fresh;
  }

  /** Events not yet settled, in flight or waiting. */
  get outstandingCount(): number {
    return this.outstanding.size;
  }

  /** Takes sealed events; their room in the budget was reserved when they were recorded. */
  enqueue(events: readonly CloudEvent[]): void {
    this.fresh += events.length;
    for (const event of events) {
      const out: Outgoing = { event, attempts: 0, settled: false };
      this.ready.push(out);
      this.outstanding.add(out);
    }
  }

  /**
   * Sends everything ready, in batches, each retried up to maxAttempts with backoff; what still
   * fails waits for the next round. Never rejects.
   */
  async round(signal: AbortSignal): Promise<void> {
    const work = this.ready;
    this.ready = [];
    this.fresh = 0;
    const batches: Outgoing[][] = [];
    for (let i = 0; i < work.length; i += this.o.maxBatchEvents) batches.push(work.slice(i, i + this.o.maxBatchEvents));
    let next = 0;
    const worker = async () => {
      while (next < batches.length) await this.deliver(batches[next++]!, signal);
    };
    await Promise.all(Array.from({ length: Math.min(SEND_CONCURRENCY, batches.length) }, worker));
  }

  /** Settles every outstanding event as abandoned and returns them (at the shutdown deadline). */
  abandon(): CloudEvent[] {
    const events: CloudEvent[] = [];
    for (const out of this.outstanding) {
      out.settled = true;
      events.push(out.event);
    }
    this.outstanding.clear();
    this.ready = [];
    this.fresh = 0;
    this.o.budget.release(events.length);
    return events;
  }

  private async deliver(batch: Outgoing[], signal: AbortSignal): Promise<void> {
    let remaining = batch.filter((out) => !out.settled);
    for (let attempt = 1; remaining.length > 0 && !signal.aborted; attempt++) {
      const pace: { retryAfterMs?: number } = {};
      remaining = await this.attempt(remaining, signal, pace);
      if (remaining.length === 0 || attempt >= this.o.retry.maxAttempts) break;
      // The delay grows with the events' own tries across rounds, not with this round's: an outage backs
      // off; and never shorter than the server's Retry-After.
      await sleep(
        Math.max(
          pace.retryAfterMs ?? 0,
          backoffDelay(Math.max(attempt, ...remaining.map((out) => out.attempts)), this.o.retry, this.o.random),
        ),
        signal,
      );
      remaining = remaining.filter((out) => !out.settled);
    }
    for (const out of remaining) if (!out.settled) this.ready.push(out);
  }

  /** One send of one batch; returns the events to send again. */
  private async attempt(batch: Outgoing[], signal: AbortSignal, pace: { retryAfterMs?: number }): Promise<Outgoing[]> {
    const c = this.o.counters;
    for (const out of batch) if (out.attempts++ > 0) c.retries++;
    c.sent += batch.length;
    let accepted: Set<string>;
    let rejected: Map<string, TransportRejection>;
    try {
      const result = await this.o.transport.send(
        batch.map((out) => out.event),
        { signal },
      );
      accepted = new Set(result.accepted);
      rejected = new Map(result.rejected.map((r) => [r.id, r]));
    } catch (err) {
      const live = batch.filter((out) => !out.settled);
      const retryAfterMs = (err as { context?: { retryAfterMs?: unknown } }).context?.retryAfterMs;
      if (typeof retryAfterMs === 'number') pace.retryAfterMs = retryAfterMs;
      if (isRetryable(err)) {
        if (!signal.aborted) {
          const message = `sending ${live.length} events failed; retrying with the same ids`;
          this.o.report(
            new EmitterError(
              'send_failed',
              message,
              true,
              {
                count: live.length,
                detail: reasonOf(err),
                ...(pace.retryAfterMs !== undefined ? { retryAfterMs: pace.retryAfterMs } : {}),
              },
              { cause: err },
            ),
          );
        }
        return live;
      }
      const errors = [{ field: '', message: err instanceof Error ? err.message : String(err) }];
      this.reject(
        live.map((out) => [out, reasonOf(err), errors]),
        err,
      );
      return [];
    }

    const retry: Outgoing[] = [];
    const refused: [Outgoing, string, FieldError[]][] = [];
    for (const out of batch) {
      if (out.settled) continue; // abandoned at the deadline while the request was out
      if (accepted.has(out.event.id)) {
        this.settle(out);
        c.accepted++;
        continue;
      }
      const verdict = rejected.get(out.event.id);
      if (verdict !== undefined && !verdict.retryable) refused.push([out, verdict.reason, verdict.errors]);
      else retry.push(out); // retryable, or no verdict at all: the same id makes a resend safe
    }
    if (refused.length > 0) this.reject(refused);
    return retry;
  }

  private reject(refused: [Outgoing, string, FieldError[]][], cause?: unknown): void {
    const r = this.o.counters.rejected;
    const byReason = new Map<string, { events: CloudEvent[]; errors: FieldError[] }>();
    for (const [out, reason, errors] of refused) {
      this.settle(out);
      r.total++;
      r.byReason[reason] = (r.byReason[reason] ?? 0) + 1;
      const group = byReason.get(reason) ?? { events: [], errors };
      group.events.push(out.event);
      byReason.set(reason, group);
    }
    for (const [reason, { events, errors }] of byReason) {
      const message = `${events.length} events rejected (${reason}); not retried`;
      this.o.report(
        new EmitterError('rejected', message, false, { events, errors, detail: reason }, cause === undefined ? undefined : { cause }),
      );
    }
  }

  private settle(out: Outgoing): void {
    out.settled = true;
    this.outstanding.delete(out);
    this.o.budget.release();
  }
}
