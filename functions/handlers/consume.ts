import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { parseMessage } from '../../contract/queue-message.js';
import { batchSkips, type ConsumeResult, consumeMessage } from '../core/count/consume.js';
import { auditEntry } from '../core/shared/audit-entries.js';
import { logger } from '../runtime/logger.js';
import { type Services, services } from '../runtime/services.js';

/**
 * SQS consumer: counts each record's events exactly once and reports failed records individually,
 * so SQS redelivers only those (and moves them to the DLQ after 5 receives).
 */
export function makeConsumeHandler(s: Services) {
  const deps = {
    ...s,
    customers: (ids: readonly string[]) => s.registry.customers(ids),
    markLate: (m: readonly { customerId: string; day: string }[]) => s.rollups.markLate(m, s.clock.now()),
  };
  return async (event: SQSEvent, context?: Context): Promise<SQSBatchResponse> => {
    const parsed = new Map(event.Records.map((r) => [r.messageId, parseMessage(r.body)]));
    const skips = batchSkips(event.Records.map((r) => ({ id: r.messageId, events: parsed.get(r.messageId)!.events })));
    const results: ConsumeResult[] = [];
    const record = async (r: SQSRecord) => {
      try {
        results.push(await consumeMessage(r.body, parsed.get(r.messageId)!, deps, skips.get(r.messageId)));
      } catch (err) {
        logger.warn('record failed; SQS will redeliver it', {
          messageId: r.messageId,
          receiveCount: r.attributes?.ApproximateReceiveCount,
          error: err as Error,
        });
        throw err;
      }
    };
    // A new processor per invocation: the local stack may run invocations side by side.
    const response = await processPartialResponse(event, record, new BatchProcessor(EventType.SQS), {
      context,
      processInParallel: true,
      throwOnFullBatchFailure: false,
    });
    const counts = {
      records: event.Records.length,
      failed: response.batchItemFailures.length,
      events: sum(results, (r) => r.events),
      counted: sum(results, (r) => r.counted),
      duplicates: sum(results, (r) => r.duplicates),
      quarantined: sum(results, (r) => r.quarantined.length),
    };
    for (const q of results.flatMap((r) => r.quarantined)) {
      logger.warn('event quarantined', { customerId: q.customerId, key: q.key, reason: q.reason, fields: q.errors.map((e) => e.field) });
    }
    const customers = [...new Set(results.flatMap((r) => r.quarantined.map((q) => q.customerId)))];
    // Audit failure fails the whole batch: every step above is idempotent, so the redelivery is safe.
    await s.audit.record(auditEntry(s.newId(), s.clock.now(), { action: 'consume', actor: 'consumer', counts }));
    if (counts.quarantined > 0) {
      await s.audit.record(
        auditEntry(s.newId(), s.clock.now(), {
          action: 'quarantine',
          actor: 'consumer',
          counts: { events: counts.quarantined },
          details: { customers },
        }),
      );
    }
    logger.info('consume batch', counts);
    return response;
  };
}

const sum = <T>(xs: readonly T[], f: (x: T) => number) => xs.reduce((s, x) => s + f(x), 0);

let cached: ReturnType<typeof makeConsumeHandler> | undefined;
/** Lambda entry point. */
export const handler = (event: SQSEvent, context?: Context) => (cached ??= makeConsumeHandler(services()))(event, context);
