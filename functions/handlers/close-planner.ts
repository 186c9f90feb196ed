import { DAY_MS, utcDay } from '../../contract/clock.js';
import { dayToClose, peerCandidates, peerStats, planChunks } from '../core/close/close-plan.js';
import { auditEntry } from '../core/shared/audit-entries.js';
import { mapLimit } from '../core/shared/concurrency.js';
import { CLOSE_QUEUE } from '../resources.js';
import { type CloseServices, closeServices } from '../runtime/close-services.js';
import { logger } from '../runtime/logger.js';

export interface PlanResult {
  runId: string;
  day: string;
  customers: number;
  chunks: number;
}

/**
 * The nightly close's planner (EventBridge, 00:30 UTC): lists customers and late days, and fans the
 * work out in chunks over the close queue, so the workers share it however many customers there are.
 */
export function makePlanner(s: CloseServices) {
  return async (input: { day?: string } = {}): Promise<PlanResult> => {
    const day = input.day ?? dayToClose(s.clock.now());
    const runId = s.newId();
    const [customers, late] = await Promise.all([s.registry.listCustomers(), s.rollups.lateDays()]);
    const candidates = peerCandidates(customers, day);
    const peerDays = await mapLimit(candidates, 8, async (c) => ({
      customer: c,
      days: await s.rollups.getDays(c.id, c.createdAt.slice(0, 10), addDays(c.createdAt.slice(0, 10), 13)),
    }));
    const chunks = planChunks(runId, day, customers, late, CLOSE_QUEUE.customersPerChunk, peerStats(peerDays, day));
    await s.rollups.startRun({
      runId,
      day,
      chunks: chunks.length,
      customers: customers.length,
      startedAt: new Date(s.clock.now()).toISOString(),
    });
    const { failed } = await s.closeQueue.send(chunks.map((c) => JSON.stringify(c)));
    if (failed.length)
      throw new Error(`${failed.length} of ${chunks.length} close chunks could not be enqueued; rerun the close (it is idempotent)`);
    await s.audit.record(
      auditEntry(s.newId(), s.clock.now(), {
        action: 'nightly.plan',
        actor: 'scheduler',
        counts: { customers: customers.length, chunks: chunks.length, lateDays: late.length },
        details: { runId, day },
      }),
    );
    logger.info('nightly close planned', { runId, day, customers: customers.length, chunks: chunks.length });
    return { runId, day, customers: customers.length, chunks: chunks.length };
  };
}

let cached: ReturnType<typeof makePlanner> | undefined;
/** Lambda entry point (EventBridge scheduled event; `{ day }` may be given to close another day). */
export const handler = (event: { day?: string } = {}) =>
  (cached ??= makePlanner(closeServices()))({ day: typeof event.day === 'string' ? event.day : undefined });

const addDays = (day: string, n: number) => utcDay(Date.parse(`${day}T00:00:00Z`) + n * DAY_MS);
