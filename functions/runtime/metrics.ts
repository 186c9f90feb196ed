import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { CallCounters } from '../adapters/stripe/stripe-call-runner.js';
import type { ChunkCounts } from '../core/close/close-chunk.js';
import type { CustomerCloseResult } from '../core/close/close-customer.js';
import type { NightClosed } from '../core/close/night-closed.js';
import type { ConsumeResult } from '../core/count/consume.js';
import { SERVICE_NAME } from '../resources.js';
import { METRIC, METRICS_NAMESPACE, type MetricName } from './metric-names.js';

export { METRIC, METRICS_NAMESPACE };

/** Counts to publish, by metric name. */
export type Counts = Partial<Record<MetricName, number>>;

/**
 * Whether metrics are published: on Lambda only (`AWS_LAMBDA_FUNCTION_NAME`), so tests, `npm start` and the
 * CLI print no EMF. `POWERTOOLS_METRICS_DISABLED` wins when set (Powertools' own switch, either way), and
 * `POWERTOOLS_DEV` turns them off as Powertools does.
 */
export function metricsEnabled(env: NodeJS.ProcessEnv): boolean {
  const flag = env.POWERTOOLS_METRICS_DISABLED?.trim().toLowerCase();
  if (flag) return !['true', '1', 'yes', 'on'].includes(flag);
  if (['true', '1', 'yes', 'on'].includes(env.POWERTOOLS_DEV?.trim().toLowerCase() ?? '')) return false;
  return Boolean(env.AWS_LAMBDA_FUNCTION_NAME);
}

/** A Metrics instance behind the enabled switch: what is counted while disabled is never stored. */
export interface MetricsSink {
  readonly enabled: boolean;
  count(counts: Counts): void;
  /** Writes what was counted as one EMF line, if anything was (Powertools' `publishStoredMetrics`). */
  flush(): void;
}

/** A sink for the namespace, with the dimension `service` set to the function's one name. */
export function makeMetricsSink(env: NodeJS.ProcessEnv = process.env): MetricsSink {
  const enabled = metricsEnabled(env);
  const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: env.METER_FUNCTION || SERVICE_NAME });
  return {
    enabled,
    count(counts) {
      if (!enabled) return;
      for (const [name, value] of Object.entries(counts)) if (value !== undefined) metrics.addMetric(name, MetricUnit.Count, value);
    },
    flush() {
      // Powertools warns on an empty flush; a request that counted nothing has nothing to say.
      if (enabled && metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
    },
  };
}

/** The process-wide sink: one per Lambda (the local stack runs every handler in one process, with metrics off). */
export const metrics: MetricsSink = makeMetricsSink();

/** Counts the given values into the process-wide sink. */
export const count = (counts: Counts): void => metrics.count(counts);

/** Wraps a Lambda entry point so what it counted is flushed when it returns or throws (what `logMetrics` does for middy). */
export function withMetrics<A extends unknown[], R>(handler: (...args: A) => Promise<R>, sink: MetricsSink = metrics) {
  return async (...args: A): Promise<R> => {
    try {
      return await handler(...args);
    } finally {
      sink.flush();
    }
  };
}

/** What one ingest request counts, from its audit counts. */
export function ingestCounts(counts: Readonly<Record<string, number>>): Counts {
  return {
    [METRIC.eventsAccepted]: counts.accepted ?? 0,
    [METRIC.eventsRejected]: counts.rejected ?? 0,
    [METRIC.eventsQuarantined]: counts.quarantined ?? 0,
  };
}

/** What one consumed batch counts: events counted, duplicates skipped, quarantined, and records SQS will redeliver. */
export function consumeCounts(results: readonly ConsumeResult[], failed: number): Counts {
  const sum = (f: (r: ConsumeResult) => number) => results.reduce((s, r) => s + f(r), 0);
  return {
    [METRIC.eventsCounted]: sum((r) => r.counted),
    [METRIC.eventsDuplicate]: sum((r) => r.duplicates),
    [METRIC.eventsQuarantined]: sum((r) => r.quarantined.length),
    [METRIC.recordsFailed]: failed,
  };
}

/** What a closed chunk counts, from the counts the close adds to its run. */
export function closeChunkCounts(c: ChunkCounts): Counts {
  return {
    [METRIC.closeCustomers]: c.customers,
    [METRIC.closeRecordsPlanned]: c.planned,
    [METRIC.closeRecordsSent]: c.sent,
    [METRIC.closeRecordsFailed]: c.failed,
    [METRIC.closeRecordsUnreportable]: c.unreportable,
    [METRIC.closeHeldReports]: c.held,
    [METRIC.flagsOpened]: c.flagsOpened,
  };
}

/** What the operators' alarms read of customers' closes: holds near escalation, records pending too long. */
export function customerWatchCounts(results: readonly Pick<CustomerCloseResult, 'escalations' | 'stalePending'>[]): Counts {
  return {
    [METRIC.holdsNearEscalation]: results.reduce((s, r) => s + r.escalations.length, 0),
    [METRIC.ledgerPendingOver12h]: results.reduce((s, r) => s + r.stalePending, 0),
  };
}

/** The Stripe reporter's call counters (`StripeMeterReporter.stats()`): cumulative since it was built. */
export type StripeCallCounters = CallCounters;

const STRIPE_METRICS: Record<keyof StripeCallCounters, MetricName> = {
  calls: METRIC.stripeCalls,
  retries: METRIC.stripeRetries,
  ok: METRIC.stripeCallsOk,
  duplicate: METRIC.stripeCallsDuplicate,
  rateLimited: METRIC.stripeCallsRateLimited,
  transient: METRIC.stripeCallsTransient,
  sessionExpired: METRIC.stripeCallsSessionExpired,
  permanent: METRIC.stripeCallsPermanent,
};

/** Stripe calls by outcome between two readings of the reporter's counters (a warm worker keeps its reporter). */
export function stripeCallCounts(before: StripeCallCounters, after: StripeCallCounters): Counts {
  return Object.fromEntries(
    (Object.keys(STRIPE_METRICS) as (keyof StripeCallCounters)[]).map((k) => [STRIPE_METRICS[k], Math.max(0, after[k] - before[k])]),
  );
}

/** The 03:00 UTC check's answer as the `NightClosed` metric: 1 closed, 0 not. */
export const nightClosedCounts = (n: Pick<NightClosed, 'closed'>): Counts => ({ [METRIC.nightClosed]: n.closed ? 1 : 0 });

/**
 * Runs one chunk's close and counts it: the chunk's counts when it succeeds; the customers' holds near escalation
 * and stale pending records, and the Stripe calls it made, whether it succeeds or fails (a failing chunk is
 * exactly when these matter). `run` is handed the hook the close calls with each customer's result.
 */
export async function countedClose(
  /** The Stripe reporter; one without counters (a test's stand-in) counts no calls. */
  reporter: { stats?: () => StripeCallCounters } | undefined,
  run: (onCustomerClosed: (res: CustomerCloseResult) => void) => Promise<ChunkCounts>,
  sink: Pick<MetricsSink, 'count'> = metrics,
): Promise<ChunkCounts> {
  const stats = typeof reporter?.stats === 'function' ? reporter.stats.bind(reporter) : undefined;
  const before = stats?.();
  const closed: CustomerCloseResult[] = [];
  try {
    const counts = await run((res) => closed.push(res));
    sink.count(closeChunkCounts(counts));
    return counts;
  } finally {
    sink.count(customerWatchCounts(closed));
    if (before && stats) sink.count(stripeCallCounts(before, stats()));
  }
}
