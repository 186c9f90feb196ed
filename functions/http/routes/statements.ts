import { NotFoundError } from '../../../contract/errors.js';
import { loadStatement } from '../../core/billing/statement.js';
import { holdsFromFlags } from '../../core/fraud/holds.js';
import type { Services } from '../../runtime/services.js';
import { authorize } from '../auth.js';
import { decodeSegment } from '../request.js';
import { json } from '../responses.js';
import type { Route } from '../router.js';

/**
 * GET /v1/statements/{customer}?period=YYYY-MM: the customer's billing statement for a period (metered,
 * reported to Stripe and when, corrections, pending and failed reports). For a customer with an anchor
 * day, `YYYY-MM` names the period starting in that month; `YYYY-MM-DD` (the period's first day) works too.
 */
export const getStatement: Route<Services> = async ({ event, params }, s) => {
  await authorize(event, s, ['finance', 'analyst', 'admin']);
  const id = decodeSegment(params.customer ?? '', 'customer');
  const customer = (await s.registry.customers([id])).get(id);
  if (!customer) throw new NotFoundError(`customer "${id}" is not registered`);
  const holds = holdsFromFlags(await s.flags.forCustomer(id), { holdSeverities: s.config.holdSeverities });
  return json(200, await loadStatement(customer, event.queryStringParameters?.period, s, holds));
};
