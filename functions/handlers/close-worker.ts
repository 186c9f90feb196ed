import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { HOUR_MS } from '../../contract/clock.js';
import { TransientError } from '../../contract/errors.js';
import { type CloseDeps, closeCustomer } from '../core/close/close-customer.js';
import type { CloseChunk } from '../core/close/close-plan.js';
import type { ExpectedDetection } from '../core/fraud/expected-activity.js';
import type { Flag } from '../core/fraud/types.js';
import { auditEntry } from '../core/shared/audit-entries.js';
import { inParallel } from '../core/shared/concurrency.js';
import type { Customer } from '../core/shared/ports.js';
import { type CloseServices, closeServices } from '../runtime/close-services.js';
import { logger } from '../runtime/logger.js';

/**
 * Nightly close worker: closes the customers of a chunk (CLOSE_CONCURRENCY at a time; a customer's own
 * meter events are sent one at a time per meter), then adds the chunk's counts to its run.
 * A chunk that fails is redelivered; closing is idempotent, so customers already done are not re-reported.
 */
export function makeCloseWorker(s: CloseServices) {
  let deps: CloseDeps | undefined;
  const holdSeverities = s.config.holdSeverities;
  const chunk = async (r: SQSRecord) => {
    deps ??= {
      events: s.events,
      rollups: s.rollups,
      ledger: s.ledger,
      reporter: await s.reporter(),
      clock: s.clock,
      fraud: { flags: s.flags },
      invoiceGraceMs: s.config.invoiceGraceHours * HOUR_MS,
    };
    const close = deps;
    const c = JSON.parse(r.body) as CloseChunk;
    const customers = await s.registry.customers(c.customers.map((x) => x.id));
    const opened: Flag[] = [];
    const expected: ExpectedDetection[] = [];
    const counts = {
      customers: 0,
      days: 0,
      planned: 0,
      sent: 0,
      failed: 0,
      unreportable: 0,
      held: 0,
      flagsOpened: 0,
      expected: 0,
      escalations: 0,
    };
    const announce = (flags: readonly Flag[]) => {
      opened.push(...flags);
      for (const f of flags)
        logger.warn('fraud flag opened', {
          flagId: f.id,
          customerId: f.customerId,
          rule: f.rule,
          meter: f.meter,
          severity: f.severity,
          score: f.score,
          window: f.window,
          summary: f.evidence.summary,
        });
    };
    const closeOne = async (customer: Customer, lateDays: readonly string[]): Promise<void> => {
      const id = customer.id;
      // Marks made from here on (late events, a dismissal while this customer closes) stay for the next close.
      const startedAt = s.clock.now();
      const res = await closeCustomer(customer, c.day, lateDays, c.runId, {
        ...close,
        fraud: { flags: s.flags, policy: { holdSeverities }, onOpened: announce, ...(c.peers ? { peers: c.peers } : {}) },
      });
      if (lateDays.length)
        await s.rollups.clearLate(
          lateDays.map((day) => ({ customerId: id, day })),
          startedAt,
        );
      counts.customers++;
      counts.days += res.days.length;
      counts.planned += res.planned;
      counts.sent += res.sent;
      counts.failed += res.failed.length;
      counts.unreportable += res.unreportable.length;
      counts.held += res.deferred.length;
      counts.flagsOpened += res.flags.created.length;
      counts.expected += res.flags.expected.length;
      expected.push(...res.flags.expected);
      counts.escalations += res.escalations.length;
      for (const e of res.flags.expected)
        logger.info('fraud rule matched inside expected activity: not flagged', {
          customerId: id,
          expectedActivityId: e.expectedActivityId,
          rule: e.detection.rule,
          meter: e.detection.meter,
          window: e.detection.window,
          summary: e.detection.evidence.summary,
        });
      for (const e of res.escalations) logger.error("held usage nears Stripe's 35-day backdating limit: review its flag now", { ...e });
      for (const f of res.failed)
        logger.warn('meter event not delivered', { customerId: id, identifier: f.identifier, state: f.state, reason: f.reason });
      for (const u of res.unreportable) logger.error('correction outside what Stripe accepts', { ...u });
      // Retried by SQS after the visibility timeout, well inside the 24 hours Stripe keeps an identifier:
      // left for the next night, a send Stripe stored but never confirmed could be taken as new and billed twice.
      const pending = res.failed.filter((f) => f.state === 'pending').length;
      if (pending > 0) throw new TransientError(`${pending} meter event(s) of ${id} not delivered yet`, { customerId: id });
    };
    // Customers of a chunk run side by side; each customer's own events go one at a time, as Stripe requires.
    // One customer's failure does not cut the others short (a handler that returns early freezes them
    // mid-send); the chunk fails after all of them ran, and its retry closes again only what is left.
    const failures: unknown[] = [];
    await inParallel(c.customers, s.close.concurrency, async ({ id, lateDays }) => {
      const customer = customers.get(id);
      if (!customer) return; // removed since planning
      try {
        await closeOne(customer, lateDays);
      } catch (err) {
        failures.push(err);
        logger.error('customer close failed; the chunk will be retried', { customerId: id, error: err as Error });
      }
    });
    // Flags opened are announced now, also those of a customer whose close then failed: a retry finds them stored and opens nothing.
    if (opened.length) {
      await s.flagPublisher?.publish(opened);
      await s.audit.record(
        auditEntry(s.newId(), s.clock.now(), {
          action: 'flag.open',
          actor: 'close-worker',
          counts: { flags: opened.length },
          details: { flags: opened.map((f) => ({ id: f.id, customerId: f.customerId, rule: f.rule, severity: f.severity })) },
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
      await s.audit.record(
        auditEntry(s.newId(), s.clock.now(), {
          action: 'flag.expected',
          actor: 'close-worker',
          counts: { expected: expected.length },
          details,
        }),
      );
    }
    await s.rollups.chunkDone(c.day, c.runId, counts);
    await s.audit.record(
      auditEntry(s.newId(), s.clock.now(), {
        action: 'nightly.report',
        actor: 'close-worker',
        counts,
        details: { runId: c.runId, day: c.day },
      }),
    );
  };
  return (event: SQSEvent, context?: Context): Promise<SQSBatchResponse> =>
    processPartialResponse(event, chunk, new BatchProcessor(EventType.SQS), {
      context,
      processInParallel: false,
      throwOnFullBatchFailure: false,
    });
}

let cached: ReturnType<typeof makeCloseWorker> | undefined;
/** Lambda entry point (SQS close queue). */
export const handler = (event: SQSEvent, context?: Context) => (cached ??= makeCloseWorker(closeServices()))(event, context);
