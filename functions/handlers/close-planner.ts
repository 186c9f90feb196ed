import { checkNightClosed, type NightClosed } from '../core/close/night-closed.js';
import { type PlanResult, planClose } from '../core/close/plan-close.js';
import { CLOSE_QUEUE } from '../resources.js';
import { type CloseServices, closeServices } from '../runtime/close-services.js';
import { lazy } from '../runtime/lazy.js';
import { log } from '../runtime/logger.js';
import { count, METRIC, nightClosedCounts, withMetrics } from '../runtime/metrics.js';

export type { NightClosed, PlanResult };

/** The event of the 03:00 UTC schedule that checks the night's close completed (`checkNightClosed`). */
export const NIGHT_CLOSED_CHECK = { check: 'night-closed' } as const;

/** The close-planner function (EventBridge, 00:30 UTC): `planClose` over the close queue. */
export function makePlanner(s: CloseServices) {
  const deps = { ...s, log, customersPerChunk: CLOSE_QUEUE.customersPerChunk };
  return (input: { day?: string } = {}): Promise<PlanResult> => planClose(input, deps);
}

/** The same function at 03:00 UTC: whether last night's close completed, published as the `NightClosed` metric. */
export function makeNightCheck(s: CloseServices) {
  return async (): Promise<NightClosed> => {
    const night = await checkNightClosed({ rollups: s.rollups, clock: s.clock, log });
    count(nightClosedCounts(night));
    return night;
  };
}

const planner = lazy(() => makePlanner(closeServices()));
const nightCheck = lazy(() => makeNightCheck(closeServices()));
/** Lambda entry point (EventBridge scheduled event; `{ day }` may be given to close another day, `NIGHT_CLOSED_CHECK` checks). */
export const handler = withMetrics(async (event: { day?: string; check?: string } = {}): Promise<PlanResult | NightClosed> => {
  if (event.check === NIGHT_CLOSED_CHECK.check) return nightCheck()();
  const plan = await planner()({ day: typeof event.day === 'string' ? event.day : undefined });
  count({ [METRIC.closePlannedCustomers]: plan.customers });
  return plan;
});
