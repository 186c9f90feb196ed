// One idea in one file, though over 300 lines: the one adapter that sends meter events to Stripe, its two
// modes (v1 per event, v2 stream) sharing validation, pacing, retries and the outcome of every event.
import Stripe from 'stripe';
import { z } from 'zod';
import { type Clock, systemClock } from '../../../contract/clock.js';
import { ValidationError } from '../../../contract/errors.js';
import type { Meter } from '../../../contract/meters.js';
import { guardMeterEvent } from '../../core/billing/meter-event-guard.js';
import { DEFAULT_RETRY_POLICY, type PermanentReason, type RetryPolicy } from '../../core/billing/stripe-failures.js';
import {
  type CountedQuery,
  CUSTOMER_PAYLOAD_KEY,
  type MeterEventOutcome,
  type MeterEventReporter,
  type MeterEventToSend,
  meterEventIdempotencyKey,
  streamRequestIdempotencyKey,
  VALUE_PAYLOAD_KEY,
} from '../../core/billing/stripe-reporting.js';
import { type CallCounters, type CallResult, StripeCallRunner } from './stripe-call-runner.js';
import { ensureMeters, listEventSummaries, type MeterCheck } from './stripe-meter-setup.js';
import { MeterEventSessions } from './stripe-meter-stream.js';
import { type RateLimiterStats, realSleep, type Sleep, TokenBucket } from './stripe-rate-limiter.js';

const fn = <T>() => z.custom<T>((v) => typeof v === 'function');
const backoffSchema = z.strictObject({ baseMs: z.number().min(0), capMs: z.number().min(0) });
const optionsSchema = z.strictObject({
  stripe: z.custom<Stripe>((v) => v instanceof Stripe, { error: 'must be a Stripe client' }),
  mode: z.enum(['v1', 'v2-stream']).default('v1'),
  ratePerSecond: z.number().positive().default(25),
  burst: z.int().min(1).default(1),
  concurrency: z.int().min(1).max(256).default(4),
  retry: z
    .strictObject({ maxAttempts: z.int().min(1).optional(), transient: backoffSchema.optional(), rateLimited: backoffSchema.optional() })
    .optional(),
  timeoutMs: z.int().min(1).default(20_000),
  streamBatchSize: z.int().min(1).max(100).default(100),
  sessionRefreshMarginMs: z
    .int()
    .min(0)
    .max(10 * 60_000)
    .default(60_000),
  clock: z.custom<Clock>((v) => typeof (v as Clock | undefined)?.now === 'function').optional(),
  sleep: fn<Sleep>().optional(),
  random: fn<() => number>().optional(),
});

/** Options of `StripeMeterReporter`; unknown keys are rejected to catch typos. */
export interface StripeMeterReporterOptions {
  /** A client built with `createStripeClient` (SDK retries off). */
  stripe: Stripe;
  /**
   * `v1` (default): one `POST /v1/billing/meter_events` per event, validated while we wait, so every
   * event ends `delivered`, `permanent` or `failed_transient`.
   * `v2-stream`: up to 100 events per `POST /v2/billing/meter_event_stream`. Much higher throughput, but
   * Stripe validates the events after answering `{}`, so the outcome is only `accepted_async`: an event
   * with an unknown customer, an inactive meter or a duplicate identifier is dropped later and reported
   * through `v1.billing.meter.error_report_triggered`. The caller must reconcile (e.g. `listEventSummaries`)
   * before treating the usage as billed.
   */
  mode?: 'v1' | 'v2-stream';
  /** Global calls per second over every call this reporter makes; default 25 (Stripe's test-mode basic limit). */
  ratePerSecond?: number;
  /** Calls allowed at once after a quiet spell; default 1. */
  burst?: number;
  /** Customer-and-meter lanes (v1) or stream requests (v2) in flight at once; default 4. */
  concurrency?: number;
  retry?: Partial<RetryPolicy>;
  /** Per-request timeout; a timed-out request is retried with the same Idempotency-Key. Default 20 s. */
  timeoutMs?: number;
  /** Events per stream request, at most Stripe's 100. */
  streamBatchSize?: number;
  /** Open a new stream session this long before the current one expires; default 60 s. */
  sessionRefreshMarginMs?: number;
  /** Time for the rate limiter and session expiry; default the wall clock. */
  clock?: Clock;
  sleep?: Sleep;
  random?: () => number;
}

/** Counters for benchmarks and tests. */
export interface StripeReporterStats extends CallCounters {
  outcomes: Record<MeterEventOutcome['outcome'], number>;
  limiter: RateLimiterStats;
  /** Most meter event calls in flight at once. */
  maxInFlight: number;
  /** Most meter event calls in flight at once for one customer and meter (Stripe allows 1). */
  maxInFlightPerLane: number;
  sessionsOpened: number;
}

/**
 * Reports meter events to Stripe exactly once per identifier (an implementation of the core
 * `MeterEventReporter` port). Per event it never throws: each gets one outcome.
 * - one call at a time per customer and meter, as Stripe requires, and a global token bucket;
 * - every event is sent with an Idempotency-Key derived from its identifier, so a retry after a lost
 *   answer replays it, and a 400 "An event already exists with identifier" counts as delivered;
 * - 429, 409, 5xx, timeouts and resets are retried with full-jitter backoff unless Stripe says
 *   `Stripe-Should-Retry: false`.
 * @example const reporter = new StripeMeterReporter({ stripe: createStripeClient({ secretKey, apiBase }) }); await reporter.report(events);
 */
export class StripeMeterReporter implements MeterEventReporter {
  private readonly stripe: Stripe;
  private readonly opts: z.output<typeof optionsSchema>;
  private readonly clock: Clock;
  private readonly limiter: TokenBucket;
  private readonly runner: StripeCallRunner;
  private readonly sessions: MeterEventSessions;
  private readonly laneTails = new Map<string, Promise<void>>();
  private meterIds: Promise<Record<Meter, MeterCheck & { id: string }>> | undefined;
  private readonly inFlightByLane = new Map<string, number>();
  private inFlight = 0;
  private maxInFlight = 0;
  private maxInFlightPerLane = 0;
  private readonly outcomes: Record<MeterEventOutcome['outcome'], number> = {
    delivered: 0,
    accepted_async: 0,
    permanent: 0,
    failed_transient: 0,
  };

  constructor(options: StripeMeterReporterOptions) {
    const parsed = optionsSchema.safeParse(options);
    if (!parsed.success) {
      throw new ValidationError(parsed.error.issues.map((i) => ({ field: i.path.join('.') || 'options', message: i.message })));
    }
    this.opts = parsed.data;
    this.stripe = parsed.data.stripe;
    this.clock = parsed.data.clock ?? systemClock;
    const sleep = parsed.data.sleep ?? realSleep;
    const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...parsed.data.retry };
    this.limiter = new TokenBucket({ ratePerSecond: parsed.data.ratePerSecond, burst: parsed.data.burst, clock: this.clock, sleep });
    this.runner = new StripeCallRunner(this.limiter, policy, sleep, parsed.data.random ?? Math.random);
    this.sessions = new MeterEventSessions(this.stripe, this.clock, this.limiter, this.runner, parsed.data.sessionRefreshMarginMs);
  }

  /** Sends the events; one outcome per event, in input order. */
  async report(events: readonly MeterEventToSend[]): Promise<MeterEventOutcome[]> {
    if (!Array.isArray(events)) throw new ValidationError([{ field: 'events', message: 'must be an array' }]);
    const outcomes: Array<MeterEventOutcome | undefined> = new Array(events.length);
    const toSend = this.screen(events, outcomes);
    if (this.opts.mode === 'v1') await this.sendV1(toSend, outcomes);
    else await this.sendStream(toSend, outcomes);
    // An identifier sent twice with identical content shares the first copy's outcome.
    const byIdentifier = new Map(toSend.map(({ index, event }) => [event.identifier, outcomes[index]]));
    const result = events.map((e, i) => outcomes[i] ?? byIdentifier.get(e.identifier));
    for (const o of result) if (o) this.outcomes[o.outcome] += 1;
    if (result.some((o) => o === undefined)) throw new Error('internal: an event was left without an outcome');
    return result as MeterEventOutcome[];
  }

  /** Creates or verifies our three meters; see `ensureMeters`. */
  ensureMeters(): Promise<Record<Meter, MeterCheck & { id: string }>> {
    return ensureMeters(this.stripe, this.runner);
  }

  /** Finds our three meters without changing anything on Stripe; throws `MeterConfigurationError` when one is missing, inactive or different. */
  findMeters(): Promise<Record<Meter, MeterCheck & { id: string }>> {
    return ensureMeters(this.stripe, this.runner, undefined, { readOnly: true });
  }

  /** What Stripe's summary holds for one of our meters (found once, by its event name) and a customer; see `MeterEventReporter.counted`. */
  async counted(q: CountedQuery): Promise<number> {
    this.meterIds ??= this.findMeters().catch((err: unknown) => {
      this.meterIds = undefined; // a failed lookup is tried again on the next call
      throw err;
    });
    const meters = await this.meterIds;
    return this.listEventSummaries(meters[q.meter].id, q.stripeCustomerId, q.startSec, q.endSec);
  }

  /** Stripe's aggregated value for a customer and meter over `[startSec, endSec)` (minute-aligned). */
  listEventSummaries(meterId: string, stripeCustomerId: string, startSec: number, endSec: number): Promise<number> {
    return listEventSummaries(this.stripe, this.runner, meterId, stripeCustomerId, startSec, endSec);
  }

  /** Counters since construction. */
  stats(): StripeReporterStats {
    return {
      ...this.runner.stats(),
      outcomes: { ...this.outcomes },
      limiter: this.limiter.stats(),
      maxInFlight: this.maxInFlight,
      maxInFlightPerLane: this.maxInFlightPerLane,
      sessionsOpened: this.sessions.count(),
    };
  }

  /** Settles invalid events and in-batch identifier clashes locally; returns what is left to send. */
  private screen(
    events: readonly MeterEventToSend[],
    outcomes: Array<MeterEventOutcome | undefined>,
  ): Array<{ index: number; event: MeterEventToSend }> {
    const first = new Map<string, MeterEventToSend>();
    const toSend: Array<{ index: number; event: MeterEventToSend }> = [];
    events.forEach((event, index) => {
      const identifier = String(event?.identifier);
      const fail = (reason: PermanentReason, message: string) => {
        outcomes[index] = { identifier, outcome: 'permanent', reason, message, attempts: 0 };
      };
      // The shape, digits and lengths; the timestamp window is the core's to check (`sendRecords`, by the business
      // clock, on every path): this reporter's clock paces calls and may not be the business clock (tests, benches).
      const refused = guardMeterEvent(event, undefined);
      if (refused) {
        fail(refused.reason, refused.message);
        return;
      }
      const earlier = first.get(event.identifier);
      if (earlier) {
        if (!sameEvent(earlier, event))
          fail('identifier_conflict', 'another event in this batch has the same identifier and different content');
        return;
      }
      first.set(event.identifier, event);
      toSend.push({ index, event });
    });
    return toSend;
  }

  /** One lane per customer and meter; lanes run concurrently, the events of a lane one after another. */
  private async sendV1(
    items: Array<{ index: number; event: MeterEventToSend }>,
    outcomes: Array<MeterEventOutcome | undefined>,
  ): Promise<void> {
    const lanes = new Map<string, Array<{ index: number; event: MeterEventToSend }>>();
    for (const item of items) {
      const key = `${item.event.eventName}\u0000${item.event.stripeCustomerId}`;
      const lane = lanes.get(key);
      if (lane) lane.push(item);
      else lanes.set(key, [item]);
    }
    await runPool([...lanes.entries()], this.opts.concurrency, ([key, lane]) =>
      this.withLane(key, async () => {
        for (const { index, event } of lane) outcomes[index] = await this.sendOne(key, event);
      }),
    );
  }

  private async sendOne(lane: string, e: MeterEventToSend): Promise<MeterEventOutcome> {
    const params: Stripe.Billing.MeterEventCreateParams = {
      event_name: e.eventName,
      identifier: e.identifier,
      timestamp: e.timestamp,
      payload: { [CUSTOMER_PAYLOAD_KEY]: e.stripeCustomerId, [VALUE_PAYLOAD_KEY]: String(e.value) },
    };
    const request = { idempotencyKey: meterEventIdempotencyKey(e.identifier), timeout: this.opts.timeoutMs, maxNetworkRetries: 0 };
    const result = await this.runner.run(() => this.tracked(lane, () => this.stripe.billing.meterEvents.create(params, request)));
    if (result.ok) {
      const replayed = result.value.lastResponse?.headers?.['idempotent-replayed'] === 'true';
      return { identifier: e.identifier, outcome: 'delivered', attempts: result.attempts, via: replayed ? 'replayed' : 'created' };
    }
    return failedOutcome(e.identifier, result);
  }

  /** Stream mode: chunks of up to 100 events, several chunks in flight, one session shared by all. */
  private async sendStream(
    items: Array<{ index: number; event: MeterEventToSend }>,
    outcomes: Array<MeterEventOutcome | undefined>,
  ): Promise<void> {
    const chunks: Array<typeof items> = [];
    for (let i = 0; i < items.length; i += this.opts.streamBatchSize) chunks.push(items.slice(i, i + this.opts.streamBatchSize));
    await runPool(chunks, this.opts.concurrency, async (chunk) => {
      const events = chunk.map(({ event: e }) => ({
        event_name: e.eventName,
        identifier: e.identifier,
        timestamp: new Date(e.timestamp * 1000).toISOString(),
        payload: { [CUSTOMER_PAYLOAD_KEY]: e.stripeCustomerId, [VALUE_PAYLOAD_KEY]: String(e.value) },
      }));
      const idempotencyKey = streamRequestIdempotencyKey(events.map((e) => e.identifier));
      const result = await this.runner.run(
        async () => {
          const apiKey = await this.sessions.token();
          return this.tracked('stream', () =>
            this.stripe.v2.billing.meterEventStream.create(
              { events },
              { apiKey, idempotencyKey, timeout: this.opts.timeoutMs, maxNetworkRetries: 0 },
            ),
          );
        },
        { onSessionExpired: () => this.sessions.invalidate() },
      );
      for (const { index, event } of chunk) {
        outcomes[index] = result.ok
          ? { identifier: event.identifier, outcome: 'accepted_async', attempts: result.attempts }
          : failedOutcome(event.identifier, result);
      }
    });
  }

  /** Serialises work on one customer-and-meter lane across concurrent `report` calls. */
  private async withLane(key: string, work: () => Promise<void>): Promise<void> {
    const before = this.laneTails.get(key) ?? Promise.resolve();
    const mine = before.then(work, work);
    const tail = mine.catch(() => undefined);
    this.laneTails.set(key, tail);
    try {
      await mine;
    } finally {
      if (this.laneTails.get(key) === tail) this.laneTails.delete(key);
    }
  }

  /** Counts calls in flight overall and per lane, around one HTTP call. */
  private async tracked<T>(lane: string, call: () => Promise<T>): Promise<T> {
    const inLane = (this.inFlightByLane.get(lane) ?? 0) + 1;
    this.inFlightByLane.set(lane, inLane);
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    if (lane !== 'stream') this.maxInFlightPerLane = Math.max(this.maxInFlightPerLane, inLane);
    try {
      return await call();
    } finally {
      this.inFlight -= 1;
      const left = (this.inFlightByLane.get(lane) ?? 1) - 1;
      if (left === 0) this.inFlightByLane.delete(lane);
      else this.inFlightByLane.set(lane, left);
    }
  }
}

/** The outcome of an event whose call did not simply succeed. */
function failedOutcome(identifier: string, result: Exclude<CallResult<unknown>, { ok: true }>): MeterEventOutcome {
  const { result: cls, attempts } = result;
  switch (cls.kind) {
    case 'delivered':
      return { identifier, outcome: 'delivered', attempts, via: 'already_held' };
    case 'permanent':
      return {
        identifier,
        outcome: 'permanent',
        reason: cls.reason,
        message: cls.message,
        attempts,
        ...(cls.status !== undefined ? { status: cls.status } : {}),
      };
    case 'retry_rate_limited':
      return { identifier, outcome: 'failed_transient', reason: 'rate_limited', message: cls.message, attempts };
    case 'retry_transient':
      return { identifier, outcome: 'failed_transient', reason: cls.reason, message: cls.message, attempts };
    default: {
      const unreachable: never = cls;
      throw new Error(`unknown call class ${JSON.stringify(unreachable)}`);
    }
  }
}

function sameEvent(a: MeterEventToSend, b: MeterEventToSend): boolean {
  return a.eventName === b.eventName && a.stripeCustomerId === b.stripeCustomerId && a.value === b.value && a.timestamp === b.timestamp;
}

/** Runs `work` over `items` with at most `size` running at once. */
async function runPool<T>(items: readonly T[], size: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next] as T;
      next += 1;
      await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(size, items.length) }, worker));
}
