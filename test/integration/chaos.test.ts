import { describe, expect, it } from 'vitest';
import { CHAOS_DEFAULTS, runChaos } from '../../bench/chaos/run.js';

/**
 * The small chaos run of `npm test` (`npm run chaos` is the large one): every fault at once, on the local stack,
 * and the pipeline's promises checked against the traffic sent. The kill, redelivery and Stripe fault rates are raised
 * so that a run this short still injects each fault. At about a thousand API calls a day, customers silent until the
 * run look like dormant accounts waking: the closes flag and hold them, and the run's analyst dismisses every flag.
 */
describe('the pipeline under every fault at once', () => {
  it('loses nothing, counts nothing twice, bills Stripe the metered truth exactly and reconciles clean', async () => {
    // Act
    const f = await runChaos({
      ...CHAOS_DEFAULTS,
      customers: 12,
      days: 3,
      events: 4_800,
      seed: 11,
      killRate: 0.3,
      redeliveryRate: 0.2,
      stripeFaultRate: 0.2,
    });

    // Assess: every event sent was accepted once, stored once and counted once; Stripe holds the truth.
    expect(f.rejected).toBe(0);
    expect({ lost: f.lost, doubleCounted: f.doubleCounted, stripeMismatches: f.stripeMismatches }).toEqual({
      lost: 0,
      doubleCounted: 0,
      stripeMismatches: 0,
    });
    expect(f.reconcileDifferences).toBe(0);
    expect(f.reconcileRows).toBe(12 * 3);
    // Usage was held by open flags, released by their dismissal, and billed once: the figures above include it.
    expect(f.flagsDismissed).toBeGreaterThan(0);
    expect(f.flags['volume_spike/high']).toBeGreaterThan(0);
    // Each fault was injected at least once, so the figures above were earned under all of them.
    for (const [fault, count] of Object.entries(f.faults)) expect({ fault, injected: count > 0 }).toEqual({ fault, injected: true });
  }, 300_000);
});
