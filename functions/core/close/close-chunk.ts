import type { Clock } from '../../../contract/clock.js';
import { TransientError } from '../../../contract/errors.js';
import { PENDING_BEYOND_WINDOW } from '../billing/report-usage.js';
import type { ExpectedDetection } from '../fraud/expected-activity.js';
import type { HoldPolicy } from '../fraud/holds.js';
import type { Flag } from '../fraud/types.js';
import { auditEntry } from '../shared/audit-entries.js';
import { inParallel } from '../shared/concurrency.js';
import type { AuditLog, Customer, FlagPublisher, FlagStore, Log, Registry, RollupStore } from '../shared/ports.js';
import { type CloseDeps, type CustomerCloseResult, closeCustomer } from './close-customer.js';
import type { CloseChunk } from './close-plan.js';

/** What closing a chunk needs beyond closing each customer. */
export interface CloseChunkDeps {
  /** How each customer is closed (without `fraud`: the chunk adds it, with its peers). */
  close: Omit<CloseDeps, 'fraud'>;
  registry: Pick<Registry, 'customers'>;
  rollups: Pick<RollupStore, 'clearLate' | 'chunkDone' | 'getRun' | 'markClosedThrough'>;
  flags: FlagStore;
  audit: AuditLog;
  /** Where new flags are announced (SNS on AWS); absent, the log only. */
  flagPublisher?: FlagPublisher;
  holdPolicy: HoldPolicy;
  /** Customers closed at once. */
  concurrency: number;
  clock: Clock;
  newId: () => string;
  log: Log;
  /** Told of each customer's close as soon as it ran, also when the chunk then fails (the worker's metrics). */
  onCustomerClosed?: (res: CustomerCloseResult) => void;
}

/** The stable code of the log line for a meter event still unsent when Stripe's 35-day window closed on it. */
export const PENDING_BEYOND_WINDOW_CODE = 'LEDGER_PENDING_BEYOND_STRIPE_WINDOW';

/** A chunk's counts, added to its run. */
export type ChunkCounts = Record<
  | 'customers'
  | 'days'
  | 'daysWritten'
  | 'planned'
  | 'sent'
  | 'failed'
  | 'unreportable'
  | 'expiredPending'
  | 'held'
  | 'flagsOpened'
  | 'expected'
  | 'escalations',
  number
>;

/**
 * Closes the customers of a chunk (`concurrency` at a time; a customer's own meter events are sent one at
 * a time per meter), then adds the chunk's counts to its run. Customers of a chunk run side by side; one
 * customer's failure does not cut the others short (returning early would freeze them mid-send): the
 * chunk fails after all of them ran, and its retry (SQS redelivers it) closes again only what is left,
 * since closing is idempotent. A customer with meter events still pending fails the chunk too, so it is
 * retried after the visibility timeout, well inside the 24 hours Stripe keeps an identifier: left for the
 * next night, a send Stripe stored but never confirmed could be taken as new and billed twice.
 * The chunk that finishes its run moves the close watermark to the run's day (see `planClose`).
 */
export async function closeChunk(c: CloseChunk, deps: CloseChunkDeps): Promise<ChunkCounts> {
  const customers = await deps.registry.customers(c.customers.map((x) => x.id));
  const opened: Flag[] = [];
  const expected: ExpectedDetection[] = [];
  const counts: ChunkCounts = {
    customers: 0,
    days: 0,
    daysWritten: 0,
    planned: 0,
    sent: 0,
    failed: 0,
    unreportable: 0,
    expiredPending: 0,
    held: 0,
    flagsOpened: 0,
    expected: 0,
    escalations: 0,
  };
  const announce = (flags: readonly Flag[]) => {
    opened.push(...flags);
    for (const f of flags) {
      const { id: flagId, customerId, rule, meter, severity, score, window } = f;
      deps.log.warn('fraud flag opened', { flagId, customerId, rule, meter, severity, score, window, summary: f.evidence.summary });
    }
  };
  const closeOne = async (customer: Customer, lateDays: readonly string[]): Promise<void> => {
    // Marks made from here on (late events, a dismissal while this customer closes) stay for the next close.
    const startedAt = deps.clock.now();
    const fraud = { flags: deps.flags, policy: deps.holdPolicy, onOpened: announce, ...(c.peers ? { peers: c.peers } : {}) };
    // Missed days (a failed night's) are closed like late days; only real late marks are cleared after.
    const days = [...new Set([...lateDays, ...(c.missedDays ?? [])])].sort();
    const res = await closeCustomer(customer, c.day, days, c.runId, { ...deps.close, fraud });
    deps.onCustomerClosed?.(res);
    if (lateDays.length)
      await deps.rollups.clearLate(
        lateDays.map((day) => ({ customerId: customer.id, day })),
        startedAt,
      );
    addCounts(counts, res);
    expected.push(...res.flags.expected);
    logResult(res, deps.log);
    const pending = res.failed.filter((f) => f.state === 'pending').length;
    if (pending > 0) throw new TransientError(`${pending} meter event(s) of ${customer.id} not delivered yet`, { customerId: customer.id });
  };
  const failures: unknown[] = [];
  await inParallel(c.customers, deps.concurrency, async ({ id, lateDays }) => {
    const customer = customers.get(id);
    // Removed since planning, or being erased: a close would write again what the erasure deletes.
    if (!customer || customer.erasingSince !== undefined) return;
    try {
      await closeOne(customer, lateDays);
    } catch (err) {
      failures.push(err);
      deps.log.error('customer close failed; the chunk will be retried', { customerId: id, error: err as Error });
    }
  });
  // Flags opened are announced now, also those of a customer whose close then failed: a retry finds them stored and opens nothing.
  if (opened.length) {
    await deps.flagPublisher?.publish(opened);
    const flags = opened.map((f) => ({ id: f.id, customerId: f.customerId, rule: f.rule, severity: f.severity }));
    await deps.audit.record(
      auditEntry(deps.newId(), deps.clock.now(), {
        action: 'flag.open',
        actor: 'close-worker',
        counts: { flags: opened.length },
        details: { flags },
      }),
    );
  }
  if (failures.length)
    throw new AggregateError(failures, `${failures.length} of ${c.customers.length} customer(s) of the chunk failed to close`);
  if (expected.length) {
    const details = {
      expected: expected.map((e) => ({
        customerId: e.detection.customerId,
        expectedActivityId: e.expectedActivityId,
        rule: e.detection.rule,
        meter: e.detection.meter,
        window: e.detection.window,
      })),
    };
    await deps.audit.record(
      auditEntry(deps.newId(), deps.clock.now(), {
        action: 'flag.expected',
        actor: 'close-worker',
        counts: { expected: expected.length },
        details,
      }),
    );
  }
  // When every other chunk is done, this one's work finishes the run: the watermark moves before the count does,
  // so whoever sees the run finished (`meter nightly`, the next planner) also sees the day closed.
  const before = await deps.rollups.getRun(c.day, c.runId);
  if (before && (before.chunksDone ?? 0) + 1 >= before.chunks) await deps.rollups.markClosedThrough(c.day);
  await deps.rollups.chunkDone(c.day, c.runId, counts);
  // Read after our own count too: of two last chunks finishing at once, neither saw the other done before.
  const run = await deps.rollups.getRun(c.day, c.runId);
  if (run && (run.chunksDone ?? 0) >= run.chunks) await deps.rollups.markClosedThrough(c.day);
  await deps.audit.record(
    auditEntry(deps.newId(), deps.clock.now(), {
      action: 'nightly.report',
      actor: 'close-worker',
      counts,
      details: { runId: c.runId, day: c.day },
    }),
  );
  return counts;
}

function addCounts(counts: ChunkCounts, res: CustomerCloseResult): void {
  counts.customers++;
  counts.days += res.days.length;
  counts.daysWritten += res.written.length;
  counts.planned += res.planned;
  counts.sent += res.sent;
  counts.failed += res.failed.length;
  counts.unreportable += res.unreportable.length;
  counts.expiredPending += res.unreportable.filter((u) => u.reason === PENDING_BEYOND_WINDOW).length;
  counts.held += res.deferred.length;
  counts.flagsOpened += res.flags.created.length;
  counts.expected += res.flags.expected.length;
  counts.escalations += res.escalations.length;
}

/** What a customer's close tells the operators, besides the counts. */
function logResult(res: CustomerCloseResult, log: Log): void {
  const customerId = res.customerId;
  for (const e of res.flags.expected) {
    const { rule, meter, window } = e.detection;
    log.info('fraud rule matched inside expected activity: not flagged', {
      customerId,
      expectedActivityId: e.expectedActivityId,
      rule,
      meter,
      window,
      summary: e.detection.evidence.summary,
    });
  }
  for (const e of res.escalations) log.error("held usage nears Stripe's 35-day backdating limit: review its flag now", { ...e });
  for (const f of res.failed)
    log.warn('meter event not delivered', { customerId, identifier: f.identifier, state: f.state, reason: f.reason });
  for (const u of res.unreportable)
    if (u.reason === PENDING_BEYOND_WINDOW)
      log.error("meter event still unsent after Stripe's 35-day window: bill it by hand", { code: PENDING_BEYOND_WINDOW_CODE, ...u });
    else log.error('correction outside what Stripe accepts', { ...u });
}
