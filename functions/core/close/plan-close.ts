import { type Clock, DAY_MS, utcDay } from '../../../contract/clock.js';
import { TransientError } from '../../../contract/errors.js';
import { auditEntry } from '../shared/audit-entries.js';
import { mapLimit } from '../shared/concurrency.js';
import type { AuditLog, EventQueue, Log, Registry, RollupStore } from '../shared/ports.js';
import { dayToClose, peerCandidates, peerStats, planChunks } from './close-plan.js';

/** What planning a night reads and writes. */
export interface PlanCloseDeps {
  registry: Pick<Registry, 'listCustomers'>;
  rollups: Pick<RollupStore, 'lateDays' | 'getDays' | 'startRun'>;
  /** The close queue the workers read. */
  closeQueue: Pick<EventQueue, 'send'>;
  audit: AuditLog;
  clock: Clock;
  newId: () => string;
  log: Log;
  customersPerChunk: number;
}

/** A planned night. */
export interface PlanResult {
  runId: string;
  day: string;
  customers: number;
  chunks: number;
}

/**
 * Plans a nightly close: lists customers and late days, takes the peers' first two weeks for the
 * new-account rule, and fans the work out in chunks over the close queue, so the workers share it
 * however many customers there are. `day` defaults to the day `dayToClose` names (yesterday, UTC).
 */
export async function planClose(input: { day?: string }, deps: PlanCloseDeps): Promise<PlanResult> {
  const day = input.day ?? dayToClose(deps.clock.now());
  const runId = deps.newId();
  const [customers, late] = await Promise.all([deps.registry.listCustomers(), deps.rollups.lateDays()]);
  const peerDays = await mapLimit(peerCandidates(customers, day), 8, async (c) => {
    const first = c.createdAt.slice(0, 10);
    return { customer: c, days: await deps.rollups.getDays(c.id, first, addDays(first, 13)) };
  });
  const chunks = planChunks(runId, day, customers, late, deps.customersPerChunk, peerStats(peerDays, day));
  const startedAt = new Date(deps.clock.now()).toISOString();
  await deps.rollups.startRun({ runId, day, chunks: chunks.length, customers: customers.length, startedAt });
  const { failed } = await deps.closeQueue.send(chunks.map((c) => JSON.stringify(c)));
  if (failed.length)
    throw new TransientError(
      `${failed.length} of ${chunks.length} close chunks could not be enqueued; rerun the close (it is idempotent)`,
      { runId, day },
    );
  const counts = { customers: customers.length, chunks: chunks.length, lateDays: late.length };
  await deps.audit.record(
    auditEntry(deps.newId(), deps.clock.now(), { action: 'nightly.plan', actor: 'scheduler', counts, details: { runId, day } }),
  );
  deps.log.info('nightly close planned', { runId, day, customers: customers.length, chunks: chunks.length });
  return { runId, day, customers: customers.length, chunks: chunks.length };
}

const addDays = (day: string, n: number) => utcDay(Date.parse(`${day}T00:00:00Z`) + n * DAY_MS);
