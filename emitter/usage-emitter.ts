// One idea in one file, though over 300 lines: the emitter's lifecycle (record, seal, flush on size or timer,
// retry with backoff, shut down) is one state machine over shared buffers; its parts with no state of their
// own (aggregator, dispatcher, drops, transports, options) are files of their own.
import type { KeyObject } from 'node:crypto';
import { type Clock, HOUR_MS } from '../contract/clock.js';
import { toCloudEvent, validateEvent } from '../contract/event-contract.js';
import type { EventType } from '../contract/meters.js';
import { ActiveUsers } from './active-users.js';
import { ApiCallAggregator } from './aggregator.js';
import { backoffDelay, sleep } from './backoff.js';
import { MAX_OPEN_AGGREGATES } from './constants.js';
import { type DeliveryCounters, Dispatcher } from './dispatcher.js';
import { BACKPRESSURE, type Drop, INVALID_CLOCK, invalidInput } from './drops.js';
import { EmitterError, type EmitterErrorContext } from './errors.js';
import { fileEventId, newInstanceId, newUserIdKey, userActiveId } from './ids.js';
import { PendingBudget } from './pending-budget.js';
import type { ApiCallOptions, CloudEvent, DropReason, EmitterStats, Transport, UsageEmitter } from './types.js';
import type { ResolvedOptions } from './validate-options.js';

type Method = NonNullable<EmitterErrorContext['method']>;

const AFTER_SHUTDOWN: Drop = { reason: 'after_shutdown' };
const noop = () => {};

/**
 * The emitter: records usage synchronously into memory, and delivers it in the background on a
 * size trigger, an unref'd interval, flush() and shutdown(). See emitter/README.md for the semantics.
 */
export class UsageEmitterImpl implements UsageEmitter {
  private readonly clock: Clock;
  private readonly source: string;
  private readonly budget: PendingBudget;
  private readonly aggregator: ApiCallAggregator;
  private readonly dispatcher: Dispatcher;
  private readonly activeUsers: ActiveUsers;
  private readonly userIdKey: KeyObject;
  private readonly delivery: DeliveryCounters = { sent: 0, accepted: 0, retries: 0, rejected: { total: 0, byReason: {} } };
  private readonly dropped = { total: 0, byReason: {} as Partial<Record<DropReason, number>> };
  private recorded = 0;
  private deduplicated = 0;
  private closed = false;
  private backpressureReported = false;
  private kickScheduled = false;
  private running: Promise<void> | undefined;
  private queued: Promise<void> | undefined;
  private shutdownPromise: Promise<void> | undefined;
  private readonly stop = new AbortController();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly o: ResolvedOptions,
    transport: Transport,
  ) {
    this.clock = o.clock;
    this.source = o.source;
    this.budget = new PendingBudget(o.maxPendingEvents);
    this.activeUsers = new ActiveUsers(o.maxPendingEvents);
    // Drawn once per instance: retries keep their ids, and nobody else can recompute them.
    this.userIdKey = o.userIdKey ?? newUserIdKey();
    this.dispatcher = new Dispatcher({
      transport,
      budget: this.budget,
      retry: o.retry,
      maxBatchEvents: o.maxBatchEvents,
      counters: this.delivery,
      report: (e) => this.report(e),
    });
    this.aggregator = new ApiCallAggregator({
      source: o.source,
      instanceId: newInstanceId(),
      budget: this.budget,
      maxOpen: MAX_OPEN_AGGREGATES,
      onSeal: (events) => this.enqueue(events),
    });
    this.timer = setInterval(() => this.tick(), o.flushIntervalMs);
    this.timer.unref();
  }

  /** Counts one API call (or `call.quantity` calls). The hot path: no allocation when the aggregate exists. */
  apiCall(customerId: string, call?: ApiCallOptions): void {
    this.recorded++;
    try {
      if (this.closed) {
        this.drop(AFTER_SHUTDOWN, 'apiCall');
        return;
      }
      const drop = this.aggregator.record(customerId, call, this.clock.now());
      if (drop !== undefined) this.drop(drop, 'apiCall');
    } catch (err) {
      this.internalError(err, 'apiCall');
    }
  }

  /** Marks a user active; one event per (customer, user, UTC hour), repeats collapse in memory and by id. */
  userActive(customerId: string, userId: string): void {
    this.recorded++;
    try {
      if (this.closed) {
        this.drop(AFTER_SHUTDOWN, 'userActive');
        return;
      }
      const now = this.clock.now();
      const hour = Math.floor(now / HOUR_MS);
      if (!Number.isFinite(hour)) {
        this.drop(INVALID_CLOCK, 'userActive');
        return;
      }
      if (this.activeUsers.has(hour, customerId, userId)) {
        this.deduplicated++;
        return;
      }
      const time = new Date(hour * HOUR_MS).toISOString();
      const drop = this.admit('com.serenity.user.active', customerId, time, { userId }, now, () =>
        userActiveId(this.userIdKey, customerId, userId, hour),
      );
      if (drop !== undefined) {
        this.drop(drop, 'userActive');
        return;
      }
      this.activeUsers.add(customerId, userId);
    } catch (err) {
      this.internalError(err, 'userActive');
    }
  }

  /** Records that a file came under protection; its id (a ULID) is fixed now. */
  fileProtected(customerId: string, fileId: string): void {
    this.fileEvent('com.serenity.file.protected', 'fileProtected', customerId, fileId);
  }

  /** Records that a file left protection; its id (a ULID) is fixed now. */
  fileUnprotected(customerId: string, fileId: string): void {
    this.fileEvent('com.serenity.file.unprotected', 'fileUnprotected', customerId, fileId);
  }

  flush(): Promise<void> {
    try {
      this.aggregator.sealAll();
      return keepAlive(this.scheduleRound());
    } catch (err) {
      this.internalError(err);
      return Promise.resolve();
    }
  }

  shutdown(): Promise<void> {
    this.shutdownPromise ??= keepAlive(this.close());
    return this.shutdownPromise;
  }

  stats(): EmitterStats {
    const d = this.delivery;
    return {
      recorded: this.recorded,
      deduplicated: this.deduplicated,
      sent: d.sent,
      accepted: d.accepted,
      retries: d.retries,
      rejected: { total: d.rejected.total, byReason: { ...d.rejected.byReason } },
      dropped: { total: this.dropped.total, byReason: { ...this.dropped.byReason } },
      pending: this.budget.count,
    };
  }

  private fileEvent(type: EventType, method: Method, customerId: string, fileId: string): void {
    this.recorded++;
    try {
      if (this.closed) {
        this.drop(AFTER_SHUTDOWN, method);
        return;
      }
      const now = this.clock.now();
      if (!Number.isFinite(now)) {
        this.drop(INVALID_CLOCK, method);
        return;
      }
      const drop = this.admit(type, customerId, new Date(now).toISOString(), { fileId }, now, () => fileEventId(now));
      if (drop !== undefined) this.drop(drop, method);
    } catch (err) {
      this.internalError(err, method);
    }
  }

  /** Validates one non-aggregated event exactly as ingest will, and queues it if the bound allows. */
  private admit(
    type: EventType,
    subject: string,
    time: string,
    data: Record<string, unknown>,
    now: number,
    newId: () => string,
  ): Drop | undefined {
    if (!this.budget.tryTake()) return BACKPRESSURE;
    const v = validateEvent({ specversion: '1.0', source: this.source, type, subject, time, data }, { now, newId });
    if (!v.ok) {
      this.budget.release();
      return invalidInput(v.errors, v.containsCardNumber);
    }
    this.enqueue([toCloudEvent(v.event) as unknown as CloudEvent]);
    return undefined;
  }

  private enqueue(events: CloudEvent[]): void {
    this.dispatcher.enqueue(events);
    // Size trigger: a full batch is sent soon, but never inside the caller's synchronous call; and not
    // while earlier events wait to be retried (the transport is failing: the flush interval paces rounds).
    const retrying = this.dispatcher.readyCount > this.dispatcher.freshCount;
    if (this.dispatcher.freshCount >= this.o.maxBatchEvents && !retrying && !this.kickScheduled && !this.closed) {
      this.kickScheduled = true;
      setImmediate(() => {
        this.kickScheduled = false;
        void this.scheduleRound();
      });
    }
  }

  private tick(): void {
    try {
      // API calls aggregate for their whole minute: the interval sends finished minutes only.
      this.aggregator.sealEndedMinute(this.clock.now());
      this.backpressureReported = false;
      if (this.dispatcher.readyCount > 0) void this.scheduleRound();
    } catch (err) {
      this.internalError(err);
    }
  }

  /** At most one round runs and one waits; a request while one waits joins it. */
  private scheduleRound(): Promise<void> {
    if (this.queued) return this.queued;
    if (!this.running) {
      this.running = this.startRound();
      return this.running;
    }
    this.queued = this.running.then(() => {
      this.queued = undefined;
      this.running = this.startRound();
      return this.running;
    });
    return this.queued;
  }

  private startRound(): Promise<void> {
    return this.dispatcher
      .round(this.stop.signal)
      .catch((err: unknown) => this.internalError(err))
      .finally(() => {
        this.running = undefined;
      });
  }

  private async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    const signal = this.stop.signal;
    const deadline = setTimeout(() => this.stop.abort(), this.o.shutdownTimeoutMs);
    const aborted = new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    try {
      this.aggregator.sealAll();
      // Rounds until everything is settled; a transport that ignores the abort cannot hold us past the deadline.
      for (let round = 1; this.dispatcher.outstandingCount > 0 && !signal.aborted; round++) {
        await Promise.race([this.scheduleRound(), aborted]);
        if (this.dispatcher.outstandingCount > 0) await sleep(backoffDelay(this.o.retry.maxAttempts + round, this.o.retry), signal);
      }
    } catch (err) {
      this.internalError(err);
    } finally {
      clearTimeout(deadline);
      if (!signal.aborted) this.stop.abort(); // ends anything still in flight
    }
    const abandoned = this.dispatcher.abandon();
    if (abandoned.length > 0) {
      this.count('shutdown_timeout', abandoned.length);
      const message = `${abandoned.length} events undelivered at the shutdown deadline (${this.o.shutdownTimeoutMs} ms); an in-flight one may still have arrived`;
      this.report(new EmitterError('shutdown_timeout', message, false, { events: abandoned }));
    }
  }

  private drop(d: Drop, method: Method): void {
    this.count(d.reason, 1);
    if (d.reason === 'backpressure') {
      // Once per flush interval: a flood of identical reports would only add load while shedding it.
      if (this.backpressureReported) return;
      this.backpressureReported = true;
      const message = `${this.budget.count} events pending (maxPendingEvents ${this.budget.max}): new events are dropped until deliveries catch up`;
      this.report(new EmitterError('backpressure', message, false, { method }));
      return;
    }
    const detail = d.errors?.map((e) => `${e.field}: ${e.message}`).join('; ') ?? d.reason;
    this.report(new EmitterError(d.reason, `${method} dropped (${d.reason}): ${detail}`, false, { method, errors: d.errors }));
  }

  private count(reason: DropReason, n: number): void {
    this.dropped.total += n;
    this.dropped.byReason[reason] = (this.dropped.byReason[reason] ?? 0) + n;
  }

  private internalError(err: unknown, method?: Method): void {
    try {
      if (method !== undefined) this.count('internal_error', 1); // a recording call was lost; background failures lose nothing
      const message = `${method ?? 'emitter'} failed internally: ${err instanceof Error ? err.message : String(err)}`;
      this.report(new EmitterError('internal_error', message, false, method ? { method } : {}, { cause: err }));
    } catch {
      // Reporting itself failed (e.g. an exotic thrown value); the caller must still not see it.
    }
  }

  private report(error: EmitterError): void {
    try {
      this.o.onError?.(error);
    } catch {
      // onError is the host's code; its failure must not reach the caller of a recording method.
    }
  }
}

/** Holds the event loop open while the host awaits `p` (everything else the emitter runs is unref'd). */
function keepAlive(p: Promise<void>): Promise<void> {
  const keeper = setInterval(noop, 2 ** 30);
  return p.finally(() => clearInterval(keeper));
}
