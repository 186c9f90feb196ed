import { SQSClient } from '@aws-sdk/client-sqs';
import { assertNever } from '../contract/meters.js';
import { createHttpTransport } from './http-transport.js';
import { createSqsTransport } from './sqs-transport.js';
import type { Transport, UsageEmitter, UsageEmitterOptions } from './types.js';
import { UsageEmitterImpl } from './usage-emitter.js';
import { type ResolvedOptions, resolveOptions } from './validate-options.js';

/**
 * Creates the usage emitter that Serenity's API infrastructure embeds. Throws ConfigError on bad
 * options (the only time it throws); recording methods never throw, block or return anything.
 * @example
 * const usage = createUsageEmitter({ endpoint: 'https://metering.example.com', apiKey: process.env.METERING_KEY!, source: 'api-gateway' });
 * usage.apiCall('cus_123', { operation: 'files.encrypt', clientIp: req.ip, country: 'DE' });
 * process.on('SIGTERM', () => void usage.shutdown());
 */
export function createUsageEmitter(options: UsageEmitterOptions): UsageEmitter {
  const resolved = resolveOptions(options);
  return new UsageEmitterImpl(resolved, transportFor(resolved));
}

function transportFor(o: ResolvedOptions): Transport {
  const t = o.target;
  switch (t.kind) {
    case 'http':
      return createHttpTransport(t);
    case 'sqs':
      return createSqsTransport({ queueUrl: t.queueUrl, sqs: t.sqs ?? new SQSClient({}), clock: o.clock });
    case 'custom':
      return t.transport;
    default:
      return assertNever(t);
  }
}

export { DEFAULTS, INGEST_REQUEST_LIMITS } from './constants.js';
export { EmitterError, type EmitterErrorContext, type EmitterErrorReason, TransportError } from './errors.js';
export { createHttpTransport, type HttpTransportOptions } from './http-transport.js';
export { createSqsTransport, type SqsTransportOptions } from './sqs-transport.js';
export type {
  ApiCallOptions,
  CloudEvent,
  DropReason,
  EmitterStats,
  RetryOptions,
  Transport,
  TransportRejection,
  TransportResult,
  UsageEmitter,
  UsageEmitterOptions,
} from './types.js';
