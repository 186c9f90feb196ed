import { NotFoundError } from '../../../contract/errors.js';
import { parseUsageQuery, usageReport } from '../../core/count/usage-query.js';
import type { Services } from '../../runtime/services.js';
import { authorize } from '../auth.js';
import { json } from '../responses.js';
import type { Route } from '../router.js';

/** GET /v1/usage?customer=C&from=ISO&to=ISO&granularity=hour|day: near-real-time usage per meter and bucket. */
export const getUsage: Route<Services> = async ({ event }, s) => {
  await authorize(event, s, ['finance', 'analyst', 'admin']);
  const q = parseUsageQuery(event.queryStringParameters ?? {});
  const customer = (await s.registry.customers([q.customerId])).get(q.customerId);
  if (!customer) throw new NotFoundError(`customer "${q.customerId}" is not registered`);
  return json(200, await usageReport(q, customer, s.usage, s.clock.now(), s.rollups));
};
