import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { authenticate } from '../core/shared/api-keys.js';
import { loadStatement } from '../core/billing/statement.js';
import { holdsFromFlags } from '../core/fraud/holds.js';
import { parseUsageQuery, usageReport } from '../core/count/usage-query.js';
import { decodeSegment, errorResponse, json, type HttpResult } from '../http/responses.js';
import { services, type Services } from '../runtime/services.js';
import type { ApiRouteKey } from '../resources.js';
import { deleteExpectedActivity, getFlag, listExpectedActivity, listFlags, postExpectedActivity, postReview } from '../http/routes/flags.js';

/** A route handler; `params` holds the `{name}` segments of its path, still URL-encoded. */
type Route = (event: APIGatewayProxyEventV2, s: Services, params: Record<string, string>) => Promise<HttpResult>;

/** GET /v1/usage?customer=C&from=ISO&to=ISO&granularity=hour|day: near-real-time usage per meter and bucket. */
const getUsage: Route = async (event, s) => {
  await authenticate(event.headers?.authorization, s.keyByHash, ['analyst', 'admin']);
  const q = parseUsageQuery(event.queryStringParameters ?? {});
  const customer = (await s.registry.customers([q.customerId])).get(q.customerId);
  if (!customer) return json(404, { error: `customer "${q.customerId}" is not registered` });
  return json(200, await usageReport(q, customer, s.usage, s.clock.now()));
};

/** GET /v1/health: queue, DLQ and quarantine depths. Any valid key: counting the quarantine is not free. */
const getHealth: Route = async (event, s) => {
  await authenticate(event.headers?.authorization, s.keyByHash, ['ingest', 'analyst', 'admin']);
  const [depth, quarantined] = await Promise.all([s.queue.depth(), s.quarantine.count()]);
  return json(200, { status: depth.dlq > 0 || quarantined > 0 ? 'attention' : 'ok', queue: depth.queue, inFlight: depth.inFlight, dlq: depth.dlq, quarantine: quarantined });
};

/**
 * GET /v1/statements/{customer}?period=YYYY-MM: the customer's billing statement for a period (metered,
 * reported to Stripe and when, corrections, pending and failed reports). For a customer with an anchor
 * day, `YYYY-MM` names the period starting in that month; `YYYY-MM-DD` (the period's first day) works too.
 */
const getStatement: Route = async (event, s, params) => {
  await authenticate(event.headers?.authorization, s.keyByHash, ['analyst', 'admin']);
  const id = decodeSegment(params.customer ?? '', 'customer');
  const customer = (await s.registry.customers([id])).get(id);
  if (!customer) return json(404, { error: `customer "${id}" is not registered` });
  return json(200, await loadStatement(customer, event.queryStringParameters?.period, s, holdsFromFlags(await s.flags.forCustomer(id), { holdSeverities: s.config.holdSeverities })));
};

/** Routes by "METHOD /path" (every reader route of `HTTP_ROUTES`); a `{name}` segment matches any one non-empty path segment. */
const ROUTES: Record<ApiRouteKey, Route> = {
  'GET /v1/usage': getUsage,
  'GET /v1/health': getHealth,
  'GET /v1/statements/{customer}': getStatement,
  'GET /v1/flags': listFlags,
  'GET /v1/flags/{id}': getFlag,
  'POST /v1/flags/{id}/review': postReview,
  'GET /v1/customers/{customer}/expected-activity': listExpectedActivity,
  'POST /v1/customers/{customer}/expected-activity': postExpectedActivity,
  'DELETE /v1/customers/{customer}/expected-activity/{id}': deleteExpectedActivity,
};

/** The route for a request and its path parameters: an exact key first, then the patterns. */
function findRoute(method: string, path: string): { route: Route; params: Record<string, string> } | undefined {
  const exact = (ROUTES as Record<string, Route>)[`${method} ${path}`];
  if (exact) return { route: exact, params: {} };
  const actual = `${method} ${path}`.split('/');
  for (const [key, route] of Object.entries(ROUTES)) {
    const pattern = key.split('/');
    if (pattern.length !== actual.length || !key.includes('{')) continue;
    const params: Record<string, string> = {};
    const matches = pattern.every((seg, i) => {
      const name = /^\{(\w+)\}$/.exec(seg)?.[1];
      if (name === undefined) return seg === actual[i];
      params[name] = actual[i]!;
      return actual[i] !== '';
    });
    if (matches) return { route, params };
  }
  return undefined;
}

/** A URL-decoded path segment; a malformed escape is the caller's mistake (400), not ours. */
/** The read-side HTTP API: one function routes by method and path. */
export function makeHttpApiHandler(s: Services) {
  return async (event: APIGatewayProxyEventV2): Promise<HttpResult> => {
    const requestId = s.newId();
    const found = findRoute(event.requestContext.http.method, event.rawPath);
    if (!found) return json(404, { error: `no route for ${event.requestContext.http.method} ${event.rawPath}` });
    try {
      return await found.route(event, s, found.params);
    } catch (err) {
      return errorResponse(err, requestId);
    }
  };
}

let cached: ReturnType<typeof makeHttpApiHandler> | undefined;
/** Lambda entry point. */
export const handler = (event: APIGatewayProxyEventV2) => (cached ??= makeHttpApiHandler(services()))(event);
