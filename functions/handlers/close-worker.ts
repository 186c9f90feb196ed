import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { HOUR_MS } from '../../contract/clock.js';
import { isPrivacyJob } from '../adapters/aws/privacy-jobs.js';
import { type CloseChunkDeps, closeChunk } from '../core/close/close-chunk.js';
import type { CloseChunk } from '../core/close/close-plan.js';
import { privacyDepsOf, runPrivacyRequest } from '../core/privacy/run-request.js';
import { type CloseServices, closeServices } from '../runtime/close-services.js';
import { lazy } from '../runtime/lazy.js';
import { log } from '../runtime/logger.js';
import { countedClose, withMetrics } from '../runtime/metrics.js';

/**
 * The close-worker function (SQS close queue): each record is one chunk of the night's customers,
 * closed by `closeChunk`. A chunk that fails is redelivered; closing is idempotent.
 */
export function makeCloseWorker(s: CloseServices) {
  let deps: CloseChunkDeps | undefined;
  const chunk = async (r: SQSRecord) => {
    const body = JSON.parse(r.body) as unknown;
    // A privacy export shares the close's queue and worker: long reads, no Stripe.
    if (isPrivacyJob(body)) return void (await runPrivacyRequest(body.requestId, privacyDepsOf(s)));
    // The Stripe reporter is built on the first chunk, not at cold start: the key may come from Secrets Manager.
    deps ??= {
      ...s,
      close: {
        events: s.events,
        rollups: s.rollups,
        ledger: s.ledger,
        reporter: await s.reporter(),
        clock: s.clock,
        invoiceGraceMs: s.config.invoiceGraceHours * HOUR_MS,
      },
      holdPolicy: { holdSeverities: s.config.holdSeverities },
      concurrency: s.close.concurrency,
      log,
    };
    const ready = deps;
    await countedClose(await s.reporter(), (onCustomerClosed) => closeChunk(body as CloseChunk, { ...ready, onCustomerClosed }));
  };
  return (event: SQSEvent, context?: Context): Promise<SQSBatchResponse> =>
    processPartialResponse(event, chunk, new BatchProcessor(EventType.SQS), {
      context,
      processInParallel: false,
      throwOnFullBatchFailure: false,
    });
}

const worker = lazy(() => makeCloseWorker(closeServices()));
/** Lambda entry point. */
export const handler = withMetrics((event: SQSEvent, context?: Context) => worker()(event, context));
