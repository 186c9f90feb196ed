import { makePlanner } from '../../functions/handlers/close-planner.js';
import { makeCloseServices } from '../../functions/runtime/close-services.js';
import type { Connection } from '../connect.js';

/**
 * `meter nightly [--date YYYY-MM-DD]`: runs the nightly close through the stack's close queue and
 * workers (the same code as the scheduled run), showing progress, and returns non-zero if anything
 * was left undelivered.
 */
export async function nightly(c: Connection, o: { date?: string; json?: boolean }): Promise<number> {
  if (o.date !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(o.date)) throw new Error('--date must be YYYY-MM-DD');
  const s = makeCloseServices(c.services, c.env);
  const plan = await makePlanner(s)({ day: o.date });
  const tty = process.stdout.isTTY && !o.json;
  let run = await s.rollups.getRun(plan.day, plan.runId);
  const deadline = Date.now() + 30 * 60_000;
  while ((run?.chunksDone ?? 0) < plan.chunks) {
    if (Date.now() > deadline) throw new Error(`run ${plan.runId} did not finish in 30 minutes; see 'meter health' and the close DLQ`);
    if (tty)
      process.stdout.write(`\r${bar((run?.chunksDone ?? 0) / Math.max(plan.chunks, 1))} ${run?.chunksDone ?? 0}/${plan.chunks} chunks`);
    await new Promise((r) => setTimeout(r, 250));
    run = await s.rollups.getRun(plan.day, plan.runId);
  }
  if (tty) process.stdout.write(`\r${bar(1)} ${plan.chunks}/${plan.chunks} chunks\n`);
  const counts = run?.counts ?? {};
  const catchUp = { missedDays: plan.missedDays, missedBeyondWindow: plan.missedBeyondWindow };
  const summary = { runId: plan.runId, day: plan.day, customers: plan.customers, chunks: plan.chunks, ...catchUp, ...counts };
  console.log(o.json ? JSON.stringify(summary) : `closed ${plan.day}: ${JSON.stringify(summary)}`);
  const unbilled = (counts.failed ?? 0) + (counts.unreportable ?? 0) + (counts.escalations ?? 0) + plan.missedBeyondWindow.length;
  return unbilled > 0 ? 1 : 0;
}

/** `meter stripe setup`: creates our three meters where missing and verifies them where present. */
export async function stripeSetup(c: Connection): Promise<void> {
  const s = makeCloseServices(c.services, c.env);
  const meters = await (await s.reporter()).ensureMeters();
  for (const [meter, m] of Object.entries(meters)) console.log(`${meter}: ${JSON.stringify(m)}`);
}

function bar(fraction: number): string {
  const width = 30;
  const full = Math.round(fraction * width);
  return `[${'#'.repeat(full)}${'.'.repeat(width - full)}]`;
}
