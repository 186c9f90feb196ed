import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { parseMessage } from '../../contract/queue-message.js';
import { delayRedelivery, isTransientFailure } from '../adapters/aws/sqs-redelivery.js';
import { type ConsumeResult, consumeMessage } from '../core/count/consume.js';
import { redeliveryDelaySeconds } from '../core/count/redelivery.js';
import { auditConsumed, reportBatch } from '../core/count/report-batch.js';
import { EVENT_QUEUE } from '../resources.js';
import { lazy } from '../runtime/lazy.js';
import { log, logger } from '../runtime/logger.js';
import { consumeCounts, count, withMetrics } from '../runtime/metrics.js';
import { type Services, services } from '../runtime/services.js';

/**
 * The consume function (SQS events queue): counts and audits each record exactly once and reports failed records
 * individually, so SQS redelivers only those; one that failed transiently is hidden longer on each receive (EVENT_QUEUE).
 */
export function makeConsumeHandler(s: Services) {
  const deps = {
    ...s,
    customers: (ids: readonly string[]) => s.registry.customers(ids),
    erasedCustomers: (ids: readonly string[]) => s.customerData.erased(ids),
    markLate: (m: readonly { customerId: string; day: string }[]) => s.rollups.markLate(m, s.clock.now()),
  };
  return async (event: SQSEvent, context?: Context): Promise<SQSBatchResponse> => {
    const parsed = new Map(event.Records.map((r) => [r.messageId, parseMessage(r.body)]));
    const results: ConsumeResult[] = [];
    const delays: { messageId: string; receiptHandle: string; seconds: number }[] = [];
    const record = async (r: SQSRecord) => {
      const receiveCount = Number(r.attributes?.ApproximateReceiveCount ?? 1);
      try {
        const result = await consumeMessage(r.body, parsed.get(r.messageId)!, deps);
        const first = Number(r.attributes?.ApproximateFirstReceiveTimestamp);
        await auditConsumed(result, { messageId: r.messageId, ...(first > 0 ? { firstReceivedAt: first } : {}) }, s);
        results.push(result);
      } catch (err) {
        const seconds = redeliveryDelaySeconds(receiveCount, EVENT_QUEUE.transientRedeliveryDelaysSeconds);
        if (isTransientFailure(err)) delays.push({ messageId: r.messageId, receiptHandle: r.receiptHandle, seconds });
        logger.warn('record failed; SQS will redeliver it', { messageId: r.messageId, receiveCount, error: err as Error });
        throw err;
      }
    };
    // A new processor per invocation: the local stack may run invocations side by side.
    const response = await processPartialResponse(event, record, new BatchProcessor(EventType.SQS), {
      context,
      processInParallel: true,
      throwOnFullBatchFailure: false,
    });
    await delayRedelivery(s.clients.sqs, s.config.queueUrl, delays, log);
    reportBatch(event.Records.length, response.batchItemFailures.length, results, log);
    count(consumeCounts(results, response.batchItemFailures.length));
    return response;
  };
}

const consume = lazy(() => makeConsumeHandler(services()));
/** Lambda entry point. */
export const handler = withMetrics((event: SQSEvent, context?: Context) => consume()(event, context));
