import type { Services } from '../../runtime/services.js';
import { authorize } from '../auth.js';
import { json } from '../responses.js';
import type { Route } from '../router.js';

/**
 * GET /v1/health: without a key, liveness only (`{status: 'ok'}`, nothing read). With an admin key, the
 * queue, in-flight and DLQ depths (SQS's approximate counters) and the quarantine depth (one counter
 * item): a fixed handful of reads however much is queued or quarantined. A key that is not admin is a 403.
 */
export const getHealth: Route<Services> = async ({ event }, s) => {
  if (!event.headers?.authorization) return json(200, { status: 'ok' });
  await authorize(event, s, ['admin']);
  const [depth, quarantined] = await Promise.all([s.queue.depth(), s.quarantine.count()]);
  const status = depth.dlq > 0 || quarantined > 0 ? 'attention' : 'ok';
  return json(200, { status, queue: depth.queue, inFlight: depth.inFlight, dlq: depth.dlq, quarantine: quarantined });
};
