import { describe, expect, it } from 'vitest';
import {
  closeParts,
  type Deployment,
  type Measured,
  PRICES,
  perMillionApiCallsViaEmitter,
  perMillionEvents,
  shares,
  total,
} from '../../../bench/cost-model.js';

const deployment: Deployment = {
  ingestMemoryGb: 0.5,
  consumerMemoryGb: 1,
  closeWorkerMemoryGb: 1,
  consumerBatchSize: 10,
  customersPerChunk: 50,
  logBytesPerInvocation: 1000,
};

const measured: Measured = {
  ingest: { eventsPerRequest: 1000, bodyBytes: 240_000, requestMs: 100, wcuPerRequest: 1, rcuPerRequest: 0 },
  messageBytes: [200_000],
  consumer: { wcuPerEvent: 1, rcuPerEvent: 0.1, eventsPerSecond: 500, concurrency: 2 },
  emitter: { calls: 1_000_000, events: 10_000, wcu: 10_000 },
  close: { customers: 100, events: 10_000, wallSeconds: 10, workers: 4, wcu: 300, rcu: 200 },
};

const usdOf = (parts: { part: string; usd: number }[], name: string) => parts.find((p) => p.part === name)?.usd;

describe('the cost model', () => {
  it('prices one write unit per event at $0.625 per million events', () => {
    // Act
    const parts = perMillionEvents(measured, deployment);
    // Assess
    expect(usdOf(parts, 'consumer DynamoDB writes')).toBeCloseTo(0.625, 6);
  });

  it("bills the consumer's reads at the units measured per event", () => {
    // Act
    const measuredReads = usdOf(perMillionEvents(measured, deployment), 'consumer DynamoDB reads');
    const doubled = usdOf(
      perMillionEvents({ ...measured, consumer: { ...measured.consumer, rcuPerEvent: 0.2 } }, deployment),
      'consumer DynamoDB reads',
    );
    // Assess: 0.1 units an event is 100,000 units a million events.
    expect(measuredReads).toBeCloseTo(100_000 * PRICES.dynamoReadRequestUnit.usd, 9);
    expect(doubled).toBeCloseTo(2 * measuredReads!, 9);
  });

  it('counts API Gateway per 512 KB increment and Lambda GB-s from the measured duration', () => {
    // Act
    const parts = perMillionEvents({ ...measured, ingest: { ...measured.ingest, bodyBytes: 600_000 } }, deployment);
    // Assess: 1,000 requests, each two 512 KB increments; 1,000 x 0.1 s x 0.5 GB.
    expect(usdOf(parts, 'API Gateway HTTP API')).toBeCloseTo(2000 * PRICES.httpApiRequest.usd, 9);
    expect(usdOf(parts, 'ingest Lambda GB-s')).toBeCloseTo(50 * PRICES.lambdaArmGbSecond.usd, 9);
  });

  it('bills SQS by 64 KB chunks: a 200,000-byte message is four chunks sent, four received, one delete', () => {
    // Act
    const parts = perMillionEvents(measured, deployment);
    // Assess
    expect(usdOf(parts, 'SQS requests (64 KB chunks)')).toBeCloseTo(1000 * 9 * PRICES.sqsRequest.usd, 9);
  });

  it('costs the emitter path by the events its calls became, with its own write units', () => {
    // Act
    const parts = perMillionApiCallsViaEmitter(measured, deployment);
    // Assess: 10,000 events and 10,000 write units per million calls; no API Gateway or ingest function.
    expect(usdOf(parts, 'consumer DynamoDB writes')).toBeCloseTo(10_000 * PRICES.dynamoWriteRequestUnit.usd, 9);
    expect(usdOf(parts, 'API Gateway HTTP API')).toBeUndefined();
    expect(total(parts)).toBeLessThan(total(perMillionEvents(measured, deployment)) / 50);
  });

  it('charges the close by its units, its workers busy for the wall time, and three SQS requests a chunk', () => {
    // Act
    const parts = closeParts(measured.close, deployment);
    // Assess
    expect(usdOf(parts, 'close: DynamoDB writes')).toBeCloseTo(300 * PRICES.dynamoWriteRequestUnit.usd, 12);
    expect(usdOf(parts, 'close: Lambda GB-s (workers)')).toBeCloseTo(40 * PRICES.lambdaArmGbSecond.usd, 12);
    expect(usdOf(parts, 'close: SQS (send, receive, delete per chunk)')).toBeCloseTo(2 * 3 * PRICES.sqsRequest.usd, 12);
  });

  it("prices the close's units by the period's mean customer-night when the period was measured", () => {
    // Prepare: the first night wrote 3 units a customer, the period's mean night 1.5, serving 50 events instead of 100.
    const withPeriod = {
      ...measured,
      close: { ...measured.close, period: { wcuPerCustomerNight: 1.5, rcuPerCustomerNight: 1, eventsPerCustomerNight: 50 } },
    };
    // Act
    const parts = closeParts(withPeriod.close, deployment);
    const share = (m: typeof measured) => usdOf(perMillionEvents(m, deployment), 'nightly close (share per event)')!;
    // Assess
    expect(usdOf(parts, 'close: DynamoDB writes')).toBeCloseTo(150 * PRICES.dynamoWriteRequestUnit.usd, 12);
    expect(usdOf(parts, 'close: DynamoDB reads')).toBeCloseTo(100 * PRICES.dynamoReadRequestUnit.usd, 12);
    const closeUsd = (m: typeof measured) => total(closeParts(m.close, deployment));
    expect(share(withPeriod)).toBeCloseTo((closeUsd(withPeriod) / 5_000) * 1e6, 9);
    expect(share(measured)).toBeCloseTo((closeUsd(measured) / 10_000) * 1e6, 9);
  });

  it('gives shares that sum to one, largest first', () => {
    // Act
    const s = shares(perMillionEvents(measured, deployment));
    // Assess
    expect(s.reduce((a, p) => a + p.share, 0)).toBeCloseTo(1, 9);
    expect(s.map((p) => p.usd)).toEqual([...s.map((p) => p.usd)].sort((a, b) => b - a));
  });
});
