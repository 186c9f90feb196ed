import { describe, expect, it } from 'vitest';
import { redeliveryDelaySeconds, transientRideOutSeconds } from '../../../../functions/core/count/redelivery.js';
import { CONSUMER, EVENT_QUEUE } from '../../../../functions/resources.js';

describe('redelivery of transiently failed records', () => {
  const delays = EVENT_QUEUE.transientRedeliveryDelaysSeconds;

  it('the event queue rides out at least 12 hours of unbroken throttling before the DLQ (the bare visibility timeout gave 15 minutes)', () => {
    // Act
    const seconds = transientRideOutSeconds(EVENT_QUEUE.maxReceiveCount, delays);
    // Assess
    expect(EVENT_QUEUE.visibilityTimeoutSeconds * EVENT_QUEUE.maxReceiveCount).toBe(900);
    expect(seconds).toBe(71_760);
    expect(seconds).toBeGreaterThanOrEqual(12 * 3600);
  });

  it('each delay stays within SQS limits: at least the consumer timeout, and under 12 h from the receive', () => {
    for (const d of delays) {
      expect(d).toBeGreaterThanOrEqual(CONSUMER.timeoutSeconds);
      expect(d + CONSUMER.timeoutSeconds).toBeLessThanOrEqual(12 * 3600);
    }
    expect([...delays].sort((a, b) => a - b)).toEqual([...delays]);
  });

  it('grows with the receive count and holds at the last step', () => {
    expect([1, 2, 3, 4, 5, 6, 50].map((n) => redeliveryDelaySeconds(n, delays))).toEqual([60, 900, 7200, 21_600, 42_000, 42_000, 42_000]);
    expect(redeliveryDelaySeconds(0, delays)).toBe(60);
  });
});
