import type { Clock } from '../../../contract/clock.js';
import type { Log, RollupStore } from '../shared/ports.js';
import { dayToClose } from './close-plan.js';

/** What checking the night's close reads. */
export interface NightClosedDeps {
  rollups: Pick<RollupStore, 'closedThrough'>;
  clock: Clock;
  log: Log;
}

/** Whether the night's close has completed: the day it closes, the close watermark, and whether the watermark reached it. */
export interface NightClosed {
  day: string;
  closedThrough?: string;
  closed: boolean;
}

/** The stable code of the log line that says the night's close has not completed by the check. */
export const NIGHT_NOT_CLOSED_CODE = 'CLOSE_NOT_COMPLETED';

/**
 * Checks that last night's close completed (run at 03:00 UTC, EventBridge): the watermark the workers move
 * when a run's last chunk is done has reached the day the 00:30 close closes (`dayToClose`). A night not
 * closed is logged as an error; the caller publishes the answer as a metric the `NightClosed` alarm reads.
 */
export async function checkNightClosed(deps: NightClosedDeps): Promise<NightClosed> {
  const day = dayToClose(deps.clock.now());
  const closedThrough = await deps.rollups.closedThrough();
  // Days are YYYY-MM-DD, so their string order is their order in time.
  const closed = closedThrough !== undefined && closedThrough >= day;
  if (!closed)
    deps.log.error('the nightly close has not completed: rerun it (meter nightly) or read the close-worker logs', {
      code: NIGHT_NOT_CLOSED_CODE,
      day,
      closedThrough,
    });
  return { day, ...(closedThrough !== undefined ? { closedThrough } : {}), closed };
}
