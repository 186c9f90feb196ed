import { TransportError } from '../../emitter/errors.js';
import type { CloudEvent, Transport, TransportRejection, TransportResult } from '../../emitter/types.js';

/** What the fake does with one send, in order of sends; once the script runs out every send succeeds. */
export type Step =
  | 'ok'
  /** The network fails before the server sees anything. */
  | 'fail'
  /** The server stores the events, then the response is lost: the client sees a retryable failure. */
  | 'lose-response'
  /** A permanent whole-batch failure (like a 401). */
  | 'refuse';

/**
 * A fake of POST /v1/events behind the Transport port. It stores events once per (source, id), like the
 * pipeline's dedupe, so counting what it stored shows whether a retry could double count.
 */
export class FakeIngest implements Transport {
  /** Every batch received, in order. */
  readonly batches: CloudEvent[][] = [];
  /** Every batch received, serialised as it would travel. */
  readonly payloads: string[] = [];
  /** Stored events by `${source}#${id}`: the first copy wins. */
  readonly stored = new Map<string, CloudEvent>();
  script: Step[] = [];
  /** Per-event verdict; undefined accepts the event. `attempt` counts this event's sends, from 1. */
  verdict?: (event: CloudEvent, attempt: number) => Omit<TransportRejection, 'id' | 'errors'> | undefined;
  private readonly attempts = new Map<string, number>();

  async send(events: readonly CloudEvent[]): Promise<TransportResult> {
    const batch = structuredClone([...events]);
    this.batches.push(batch);
    this.payloads.push(JSON.stringify(events));
    const step = this.script.shift() ?? 'ok';
    if (step === 'fail') throw new TransportError('network', 'connection reset', true);
    if (step === 'refuse') throw new TransportError('http_401', 'ingest answered 401', false, { status: 401 });
    const result: TransportResult = { accepted: [], rejected: [] };
    for (const e of batch) {
      const key = `${e.source}#${e.id}`;
      const attempt = (this.attempts.get(key) ?? 0) + 1;
      this.attempts.set(key, attempt);
      const v = this.verdict?.(e, attempt);
      if (v !== undefined) {
        result.rejected.push({ id: e.id, ...v, errors: [{ field: 'data', message: 'rejected by the fake' }] });
        continue;
      }
      if (!this.stored.has(key)) this.stored.set(key, e);
      result.accepted.push(e.id);
    }
    if (step === 'lose-response') throw new TransportError('timeout', 'response lost', true);
    return result;
  }

  /** Every event received, every attempt included. */
  get received(): CloudEvent[] {
    return this.batches.flat();
  }

  /** Sum of data.quantity over stored api.call events, optionally of one customer. */
  apiCalls(customerId?: string): number {
    let sum = 0;
    for (const e of this.stored.values()) {
      if (e.type === 'com.serenity.api.call' && (customerId === undefined || e.subject === customerId)) sum += e.data.quantity as number;
    }
    return sum;
  }

  /** Stored events of one type. */
  storedOf(type: CloudEvent['type']): CloudEvent[] {
    return [...this.stored.values()].filter((e) => e.type === type);
  }
}

/** Quick retries for tests: real timers, a few milliseconds at most. */
export const FAST_RETRY = { maxAttempts: 5, baseDelayMs: 1, maxDelayMs: 4 };
