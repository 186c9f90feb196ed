import { authenticate } from '../../core/shared/api-keys.js';
import type { Services } from '../../runtime/services.js';
import { json } from '../responses.js';
import type { Route } from '../router.js';

/** GET /v1/health: queue, DLQ and quarantine depths. Any valid key: counting the quarantine is not free. */
export const getHealth: Route<Services> = async ({ event }, s) => {
  await authenticate(event.headers?.authorization, s.keyByHash, ['ingest', 'analyst', 'admin']);
  const [depth, quarantined] = await Promise.all([s.queue.depth(), s.quarantine.count()]);
  const status = depth.dlq > 0 || quarantined > 0 ? 'attention' : 'ok';
  return json(200, { status, queue: depth.queue, inFlight: depth.inFlight, dlq: depth.dlq, quarantine: quarantined });
};
