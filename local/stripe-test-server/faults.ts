import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import type { FaultSpec } from './types.js';

/** Validates fault specs from tests and from the HTTP control surface; strict so a typo fails loudly. */
export const faultSpecSchema = z
  .strictObject({
    status: z.union([z.literal(429), z.literal(500), z.literal(503)]).optional(),
    reset: z.boolean().optional(),
    count: z.number().int().min(1).optional(),
    path: z.string().startsWith('/').optional(),
    method: z.string().min(1).optional(),
    delayMs: z.number().min(0).max(120_000).optional(),
    processed: z.boolean().optional(),
    shouldRetry: z.boolean().optional(),
  })
  .refine((f) => f.status !== undefined || f.reset === true || (f.delayMs ?? 0) > 0, {
    message: 'a fault needs a status, reset: true, or a delayMs',
  })
  .refine((f) => !(f.status !== undefined && f.reset === true), { message: 'choose either status or reset' });

/** Knobs a test (or the CLI, over HTTP) turns to make the server misbehave. */
export interface FaultControls {
  /** Queues one or more faults; each answers its next matching requests, then is gone. */
  inject(spec: FaultSpec | FaultSpec[]): void;
  /** Faults still waiting, with their remaining counts. */
  pending(): FaultSpec[];
  /** Drops every queued fault and switches latency, rate limit and concurrency check off. */
  clear(): void;
  /** Adds this much delay to every API request. */
  setLatency(ms: number): void;
  /** Answers 429 beyond this many API requests per second; null turns the limiter off. */
  setRateLimit(perSecond: number | null): void;
  /** Enforces Stripe's live rule of one concurrent meter event call per customer per meter. */
  setConcurrencyCheck(on: boolean): void;
  /** Current latency, rate limit and concurrency settings. */
  settings(): FaultSettings;
}

/** Snapshot of the always-on misbehaviours. */
export interface FaultSettings {
  latencyMs: number;
  rateLimitPerSecond: number | null;
  concurrencyCheck: boolean;
}

interface QueuedFault extends FaultSpec {
  remaining: number;
}

/** Holds the fault queue and the optional limiters. */
export class FaultController implements FaultControls {
  private queue: QueuedFault[] = [];
  private latencyMs = 0;
  private rateLimitPerSecond: number | null = null;
  private concurrencyCheck = false;
  private recent: number[] = [];
  private readonly inFlight = new Set<string>();

  inject(spec: FaultSpec | FaultSpec[]): void {
    const specs = (Array.isArray(spec) ? spec : [spec]).map((s) => faultSpecSchema.parse(s));
    for (const s of specs) this.queue.push({ ...s, remaining: s.count ?? 1 });
  }

  pending(): FaultSpec[] {
    return this.queue.map(({ remaining, ...spec }) => ({ ...spec, count: remaining }));
  }

  clear(): void {
    this.queue = [];
    this.latencyMs = 0;
    this.rateLimitPerSecond = null;
    this.concurrencyCheck = false;
    this.recent = [];
  }

  setLatency(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`latency must be >= 0 ms, got ${ms}`);
    this.latencyMs = ms;
  }

  setRateLimit(perSecond: number | null): void {
    if (perSecond !== null && (!Number.isInteger(perSecond) || perSecond < 1)) {
      throw new RangeError(`rate limit must be a positive integer or null, got ${perSecond}`);
    }
    this.rateLimitPerSecond = perSecond;
    this.recent = [];
  }

  setConcurrencyCheck(on: boolean): void {
    this.concurrencyCheck = on;
  }

  settings(): FaultSettings {
    return { latencyMs: this.latencyMs, rateLimitPerSecond: this.rateLimitPerSecond, concurrencyCheck: this.concurrencyCheck };
  }

  /** Consumes one use of the first fault matching this request, if any. */
  take(method: string, path: string): FaultSpec | undefined {
    const index = this.queue.findIndex((f) => (!f.path || path.startsWith(f.path)) && (!f.method || f.method.toUpperCase() === method));
    const fault = this.queue[index];
    if (!fault) return undefined;
    fault.remaining -= 1;
    if (fault.remaining <= 0) this.queue.splice(index, 1);
    const { remaining: _remaining, ...spec } = fault;
    return spec;
  }

  /** Delay every API request gets before it is handled. */
  baseLatency(): number {
    return this.latencyMs;
  }

  /**
   * Counts this request against the per-second limit. Real elapsed time is used rather than the
   * injected clock, because tests usually freeze that clock and a frozen second never ends.
   */
  admit(): boolean {
    if (this.rateLimitPerSecond === null) return true;
    const now = performance.now();
    this.recent = this.recent.filter((t) => now - t < 1000);
    if (this.recent.length >= this.rateLimitPerSecond) return false;
    this.recent.push(now);
    return true;
  }

  /** Marks a customer-and-meter call as running; false when the live-mode rule forbids it. */
  enter(key: string): boolean {
    if (!this.concurrencyCheck) return true;
    if (this.inFlight.has(key)) return false;
    this.inFlight.add(key);
    return true;
  }

  /** Ends a call started with `enter`. */
  leave(key: string): void {
    this.inFlight.delete(key);
  }
}
