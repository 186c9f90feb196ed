import { describe, expect, it } from 'vitest';
import { fixedClock } from '../../../../contract/clock.js';
import { type CloseChunk, catchUpDays, MAX_CATCH_UP_DAYS } from '../../../../functions/core/close/close-plan.js';
import { MISSED_BEYOND_WINDOW_CODE, planClose } from '../../../../functions/core/close/plan-close.js';
import type { AuditEntry, Customer } from '../../../../functions/core/shared/ports.js';
import { MemoryQueue, MemoryRollupStore } from '../../../fakes/memory-ports.js';

const customer = (id: string): Customer => ({ id, createdAt: '2026-01-01T00:00:00Z', updatedAt: '2026-01-01T00:00:00Z' });

function planner(watermark: string | undefined) {
  const rollups = new MemoryRollupStore();
  rollups.watermark = watermark;
  const queue = new MemoryQueue();
  const errors: { message: string; fields?: Record<string, unknown> }[] = [];
  const audit: AuditEntry[] = [];
  let n = 0;
  const deps = {
    registry: { listCustomers: async () => [customer('a'), customer('b')] },
    rollups,
    closeQueue: queue,
    audit: { record: async (e: AuditEntry) => void audit.push(e), list: async () => [] },
    clock: fixedClock('2026-04-02T00:30:00Z'),
    newId: () => `id-${n++}`,
    log: {
      info: () => {},
      warn: () => {},
      error: (message: string, fields?: Record<string, unknown>) => void errors.push({ message, fields }),
    },
    customersPerChunk: 1,
  };
  return { deps, rollups, queue, errors, audit };
}

describe('catchUpDays: what a run closes besides its day', () => {
  it('closes nothing more on the first run (no watermark), after the night before, or when re-closing an old day', () => {
    // Act / Assess
    expect(catchUpDays(undefined, '2026-04-01')).toEqual({ missed: [], beyondWindow: [] });
    expect(catchUpDays('2026-03-31', '2026-04-01')).toEqual({ missed: [], beyondWindow: [] });
    expect(catchUpDays('2026-04-05', '2026-04-01')).toEqual({ missed: [], beyondWindow: [] });
  });

  it('closes every day since the watermark, up to Stripe’s window; older days are listed apart, never dropped', () => {
    // Act: 50 days missed before 2026-04-01
    const { missed, beyondWindow } = catchUpDays('2026-02-09', '2026-04-01');
    // Assess
    expect(missed).toHaveLength(MAX_CATCH_UP_DAYS);
    expect([missed[0], missed.at(-1)]).toEqual(['2026-02-26', '2026-03-31']);
    expect([beyondWindow[0], beyondWindow.at(-1), beyondWindow.length]).toEqual(['2026-02-10', '2026-02-25', 16]);
  });
});

describe('planClose: catching up on missed nights', () => {
  it('sends the missed days with every chunk and records them on the run', async () => {
    // Prepare: the last completed run closed 30 March
    const p = planner('2026-03-30');
    // Act
    const plan = await planClose({}, p.deps);
    // Assess
    expect([plan.day, plan.missedDays, plan.missedBeyondWindow]).toEqual(['2026-04-01', ['2026-03-31'], []]);
    const chunks = p.queue.bodies.map((b) => JSON.parse(b) as CloseChunk);
    expect(chunks.map((c) => c.missedDays)).toEqual([['2026-03-31'], ['2026-03-31']]);
    expect(await p.rollups.getRun('2026-04-01', plan.runId)).toMatchObject({ missedDays: ['2026-03-31'], missedBeyondWindow: [] });
    expect(p.errors).toEqual([]);
  });

  it('after a long outage, surfaces the days too old for Stripe with a stable code, in the log, the run and the audit', async () => {
    // Prepare: nothing completed since 1 February
    const p = planner('2026-02-01');
    // Act
    const plan = await planClose({}, p.deps);
    // Assess
    expect(plan.missedDays).toHaveLength(MAX_CATCH_UP_DAYS);
    expect([plan.missedBeyondWindow[0], plan.missedBeyondWindow.at(-1)]).toEqual(['2026-02-02', '2026-02-25']);
    expect(p.errors).toMatchObject([{ fields: { code: MISSED_BEYOND_WINDOW_CODE, from: '2026-02-02', to: '2026-02-25', days: 24 } }]);
    expect((await p.rollups.getRun('2026-04-01', plan.runId))?.missedBeyondWindow).toHaveLength(24);
    expect(p.audit.find((e) => e.action === 'nightly.plan')?.counts).toMatchObject({
      missedDays: MAX_CATCH_UP_DAYS,
      missedBeyondWindow: 24,
    });
  });

  it('leaves the watermark to the workers while chunks are out, and moves it itself when there is nothing to fan out', async () => {
    // Prepare
    const p = planner('2026-03-30');
    const empty = planner('2026-03-30');
    empty.deps.registry.listCustomers = async () => [];
    // Act
    await planClose({}, p.deps);
    await planClose({}, empty.deps);
    // Assess
    expect(p.rollups.watermark).toBe('2026-03-30');
    expect(empty.rollups.watermark).toBe('2026-04-01');
  });
});
