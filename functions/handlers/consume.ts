import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { parseMessage } from '../../contract/queue-message.js';
import { batchSkips, type ConsumeResult, consumeMessage } from '../core/count/consume.js';
import { reportBatch } from '../core/count/report-batch.js';
import { lazy } from '../runtime/lazy.js';
import { log, logger } from '../runtime/logger.js';
import { type Services, services } from '../runtime/services.js';

/**
 * The consume function (SQS events queue): counts each record's events exactly once and reports failed
 * records individually, so SQS redelivers only those (and moves them to the DLQ after 5 receives).
 */
export function makeConsumeHandler(s: Services) {
  const markLate = (m: readonly { customerId: string; day: string }[]) => s.rollups.markLate(m, s.clock.now());
  const deps = { ...s, customers: (ids: readonly string[]) => s.registry.customers(ids), markLate };
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
    await reportBatch(event.Records.length, response.batchItemFailures.length, results, { ...s, log });
    return response;
  };
}

const consume = lazy(() => makeConsumeHandler(services()));
/** Lambda entry point. */
export const handler = (event: SQSEvent, context?: Context) => consume()(event, context);
