import { type Clock, DAY_MS, utcDay } from '../../../contract/clock.js';
import { TransientError } from '../../../contract/errors.js';
import { auditEntry } from '../shared/audit-entries.js';
import { mapLimit } from '../shared/concurrency.js';
import { accountStart } from '../shared/customers.js';
import type { AuditLog, EventQueue, Log, Registry, RollupStore } from '../shared/ports.js';
import { catchUpDays, dayToClose, peerCandidates, peerStats, planChunks } from './close-plan.js';

/** What planning a night reads and writes. */
export interface PlanCloseDeps {
  registry: Pick<Registry, 'listCustomers'>;
  rollups: Pick<RollupStore, 'lateDays' | 'getDays' | 'startRun' | 'closedThrough' | 'markClosedThrough'>;
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
  /** Days before `day` no completed run had closed, closed by this run. */
  missedDays: string[];
  /** Missed days too old for Stripe's window, surfaced rather than closed. */
  missedBeyondWindow: string[];
}

/** The stable code of the log line that says missed days are too old to catch up. */
export const MISSED_BEYOND_WINDOW_CODE = 'CLOSE_MISSED_DAYS_BEYOND_STRIPE_WINDOW';

/**
 * Plans a nightly close: lists customers and late days, takes the peers' first two weeks for the
 * new-account rule, and fans the work out in chunks over the close queue, so the workers share it
 * however many customers there are. `day` defaults to the day `dayToClose` names (yesterday, UTC).
 * Every day since the close watermark (the last run whose chunks all finished) is closed with it, so a
 * failed or skipped night is caught up by the next (bounded by Stripe's window: see `catchUpDays`); the
 * workers move the watermark to `day` when the run's last chunk is done.
 */
export async function planClose(input: { day?: string }, deps: PlanCloseDeps): Promise<PlanResult> {
  const day = input.day ?? dayToClose(deps.clock.now());
  const runId = deps.newId();
  const [customers, late, watermark] = await Promise.all([
    deps.registry.listCustomers(),
    deps.rollups.lateDays(),
    deps.rollups.closedThrough(),
  ]);
  const { missed, beyondWindow } = catchUpDays(watermark, day);
  if (beyondWindow.length)
    deps.log.error("missed close days are older than Stripe's 35-day window: they are not reported; bill them by hand", {
      code: MISSED_BEYOND_WINDOW_CODE,
      runId,
      day,
      watermark,
      from: beyondWindow[0],
      to: beyondWindow.at(-1),
      days: beyondWindow.length,
    });
  const peerDays = await mapLimit(peerCandidates(customers, day), 8, async (c) => {
    const first = utcDay(accountStart(c));
    return { customer: c, days: await deps.rollups.getDays(c.id, first, addDays(first, 13)) };
  });
  const chunks = planChunks(runId, day, customers, late, deps.customersPerChunk, peerStats(peerDays, day), missed);
  const startedAt = new Date(deps.clock.now()).toISOString();
  const catchUp = { missedDays: missed, missedBeyondWindow: beyondWindow };
  await deps.rollups.startRun({ runId, day, chunks: chunks.length, customers: customers.length, startedAt, ...catchUp });
  // No chunk will finish to move the watermark: with no customers, the run is complete as planned.
  if (chunks.length === 0) await deps.rollups.markClosedThrough(day);
  const { failed } = await deps.closeQueue.send(chunks.map((c) => JSON.stringify(c)));
  if (failed.length)
    throw new TransientError(
      `${failed.length} of ${chunks.length} close chunks could not be enqueued; rerun the close (it is idempotent)`,
      { runId, day },
    );
  const counts = {
    customers: customers.length,
    chunks: chunks.length,
    lateDays: late.length,
    missedDays: missed.length,
    missedBeyondWindow: beyondWindow.length,
  };
  await deps.audit.record(
    auditEntry(deps.newId(), deps.clock.now(), { action: 'nightly.plan', actor: 'scheduler', counts, details: { runId, day, ...catchUp } }),
  );
  deps.log.info('nightly close planned', { runId, day, customers: customers.length, chunks: chunks.length, ...catchUp });
  return { runId, day, customers: customers.length, chunks: chunks.length, ...catchUp };
}

const addDays = (day: string, n: number) => utcDay(Date.parse(`${day}T00:00:00Z`) + n * DAY_MS);
