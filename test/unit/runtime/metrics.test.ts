import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ChunkCounts } from '../../../functions/core/close/close-chunk.js';
import type { CustomerCloseResult } from '../../../functions/core/close/close-customer.js';
import {
  type Counts,
  consumeCounts,
  countedClose,
  ingestCounts,
  METRIC,
  METRICS_NAMESPACE,
  makeMetricsSink,
  metricsEnabled,
  type StripeCallCounters,
  withMetrics,
} from '../../../functions/runtime/metrics.js';

/** What the sink wrote to stdout, one EMF document per line. */
function captureStdout(): { lines: () => Record<string, unknown>[] } {
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  return {
    lines: () =>
      spy.mock.calls
        .map((c) => String(c[0]))
        .join('')
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

afterEach(() => vi.restoreAllMocks());

const chunk: ChunkCounts = {
  customers: 3,
  days: 3,
  daysWritten: 2,
  planned: 7,
  sent: 6,
  failed: 1,
  unreportable: 0,
  expiredPending: 0,
  held: 2,
  flagsOpened: 1,
  expected: 0,
  escalations: 1,
};
const stripe = (calls: number, ok: number, rateLimited: number): StripeCallCounters => ({
  calls,
  retries: calls - ok,
  ok,
  duplicate: 0,
  rateLimited,
  transient: 0,
  sessionExpired: 0,
  permanent: 0,
});
const closed = (escalations: number, stalePending: number) =>
  ({ escalations: Array.from({ length: escalations }, () => ({})), stalePending }) as unknown as CustomerCloseResult;

describe('metricsEnabled', () => {
  it.each([
    [{}, false],
    [{ AWS_LAMBDA_FUNCTION_NAME: 'SerenityMetering-Ingest' }, true],
    [{ AWS_LAMBDA_FUNCTION_NAME: 'f', POWERTOOLS_METRICS_DISABLED: 'true' }, false],
    [{ POWERTOOLS_METRICS_DISABLED: 'false' }, true],
    [{ AWS_LAMBDA_FUNCTION_NAME: 'f', POWERTOOLS_DEV: 'true' }, false],
    [{ AWS_LAMBDA_FUNCTION_NAME: 'f', POWERTOOLS_DEV: 'true', POWERTOOLS_METRICS_DISABLED: 'false' }, true],
  ] as [NodeJS.ProcessEnv, boolean][])('%j -> %s', (env, enabled) => {
    expect(metricsEnabled(env)).toBe(enabled);
  });
});

describe('the metrics sink', () => {
  it('writes one EMF line in Serenity/Metering with the function as the service dimension', () => {
    // Prepare
    const out = captureStdout();
    const sink = makeMetricsSink({ AWS_LAMBDA_FUNCTION_NAME: 'x', METER_FUNCTION: 'ingest' });
    // Act
    sink.count(ingestCounts({ received: 5, accepted: 3, rejected: 2, quarantined: 2, messages: 1 }));
    sink.flush();
    // Assess
    const [emf, ...rest] = out.lines();
    expect(rest).toEqual([]);
    const aws = emf?._aws as {
      CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[];
    };
    expect(aws.CloudWatchMetrics[0]?.Namespace).toBe(METRICS_NAMESPACE);
    expect(aws.CloudWatchMetrics[0]?.Dimensions).toEqual([['service']]);
    expect(aws.CloudWatchMetrics[0]?.Metrics.map((m) => [m.Name, m.Unit]).sort()).toEqual(
      [
        [METRIC.eventsAccepted, 'Count'],
        [METRIC.eventsQuarantined, 'Count'],
        [METRIC.eventsRejected, 'Count'],
      ].sort(),
    );
    expect(emf).toMatchObject({ service: 'ingest', EventsAccepted: 3, EventsRejected: 2, EventsQuarantined: 2 });
  });

  it('writes nothing off Lambda (tests, npm start), and nothing when nothing was counted', () => {
    // Prepare
    const out = captureStdout();
    const local = makeMetricsSink({ METER_FUNCTION: 'ingest' });
    const idle = makeMetricsSink({ AWS_LAMBDA_FUNCTION_NAME: 'x' });
    // Act
    local.count({ [METRIC.eventsAccepted]: 1 });
    local.flush();
    idle.flush();
    // Assess
    expect(local.enabled).toBe(false);
    expect(out.lines()).toEqual([]);
  });

  it('flushes what a handler counted when it throws', async () => {
    // Prepare
    const out = captureStdout();
    const sink = makeMetricsSink({ AWS_LAMBDA_FUNCTION_NAME: 'x', METER_FUNCTION: 'consume' });
    const handler = withMetrics(async () => {
      sink.count({ [METRIC.recordsFailed]: 4 });
      throw new Error('boom');
    }, sink);
    // Act
    await expect(handler()).rejects.toThrow('boom');
    // Assess
    expect(out.lines()).toEqual([expect.objectContaining({ service: 'consume', RecordsFailed: 4 })]);
  });
});

describe('what the handlers count', () => {
  it('a consumed batch: counted, duplicates, quarantined, failed records', () => {
    const results = [
      { messageKey: 'a', events: 4, counted: 3, duplicates: 1, quarantined: [] },
      { messageKey: 'b', events: 2, counted: 0, duplicates: 0, quarantined: [{}, {}] },
    ] as unknown as Parameters<typeof consumeCounts>[0];
    expect(consumeCounts(results, 1)).toEqual({ EventsCounted: 3, EventsDuplicate: 1, EventsQuarantined: 2, RecordsFailed: 1 });
  });

  it("a closed chunk: its counts, its customers' holds near escalation and stale records, and Stripe calls since it began", async () => {
    // Prepare
    const counted: Counts[] = [];
    let stats = stripe(10, 9, 1);
    const reporter = { stats: () => stats };
    // Act
    await countedClose(
      reporter,
      async (onClosed) => {
        onClosed(closed(1, 0));
        onClosed(closed(0, 2));
        stats = stripe(25, 21, 3);
        return chunk;
      },
      { count: (c) => counted.push(c) },
    );
    const all = Object.assign({}, ...counted) as Counts;
    // Assess
    expect(all).toMatchObject({
      CloseCustomers: 3,
      CloseRecordsPlanned: 7,
      CloseRecordsSent: 6,
      CloseRecordsFailed: 1,
      CloseHeldReports: 2,
      FlagsOpened: 1,
      HoldsNearEscalation: 1,
      LedgerPendingOver12h: 2,
      StripeCalls: 15,
      StripeCallsOk: 12,
      StripeCallsRateLimited: 2,
      StripeRetries: 3,
    });
  });

  it('a chunk that fails still counts its stale records, holds and Stripe calls, and fails', async () => {
    // Prepare
    const counted: Counts[] = [];
    let stats = stripe(0, 0, 0);
    // Act
    const run = countedClose(
      { stats: () => stats },
      async (onClosed) => {
        onClosed(closed(0, 5));
        stats = stripe(8, 0, 0);
        throw new Error('pending');
      },
      { count: (c) => counted.push(c) },
    );
    // Assess
    await expect(run).rejects.toThrow('pending');
    const all = Object.assign({}, ...counted) as Counts;
    expect(all).toMatchObject({ LedgerPendingOver12h: 5, HoldsNearEscalation: 0, StripeCalls: 8 });
    expect(all.CloseCustomers).toBeUndefined();
  });

  it("counts no Stripe calls for a reporter without counters (a test's stand-in), and still closes", async () => {
    const counted: Counts[] = [];
    await countedClose({}, async () => chunk, { count: (c) => counted.push(c) });
    const all = Object.assign({}, ...counted) as Counts;
    expect(all.CloseCustomers).toBe(3);
    expect(all.StripeCalls).toBeUndefined();
  });
});
