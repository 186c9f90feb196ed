import { type PlanResult, planClose } from '../core/close/plan-close.js';
import { CLOSE_QUEUE } from '../resources.js';
import { type CloseServices, closeServices } from '../runtime/close-services.js';
import { lazy } from '../runtime/lazy.js';
import { log } from '../runtime/logger.js';

export type { PlanResult };

/** The close-planner function (EventBridge, 00:30 UTC): `planClose` over the close queue. */
export function makePlanner(s: CloseServices) {
  const deps = { ...s, log, customersPerChunk: CLOSE_QUEUE.customersPerChunk };
  return (input: { day?: string } = {}): Promise<PlanResult> => planClose(input, deps);
}

const planner = lazy(() => makePlanner(closeServices()));
/** Lambda entry point (EventBridge scheduled event; `{ day }` may be given to close another day). */
export const handler = (event: { day?: string } = {}) => planner()({ day: typeof event.day === 'string' ? event.day : undefined });
