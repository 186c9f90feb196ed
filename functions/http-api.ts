import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { authenticate } from './core/api-keys.js';
import { parseUsageQuery, usageReport } from './core/usage-query.js';
import { errorResponse, json, type HttpResult } from './http.js';
import { services, type Services } from './services.js';

type Route = (event: APIGatewayProxyEventV2, s: Services) => Promise<HttpResult>;

/** GET /v1/usage?customer=C&from=ISO&to=ISO&granularity=hour|day: near-real-time usage per meter and bucket. */
const getUsage: Route = async (event, s) => {
  await authenticate(event.headers?.authorization, s.keyByHash, ['analyst', 'admin']);
  const q = parseUsageQuery(event.queryStringParameters ?? {});
  const customer = (await s.registry.customers([q.customerId])).get(q.customerId);
  if (!customer) return json(404, { error: `customer "${q.customerId}" is not registered` });
  return json(200, await usageReport(q, customer, s.usage));
};

/** GET /v1/health: queue, DLQ and quarantine depths. Any valid key: counting the quarantine is not free. */
const getHealth: Route = async (event, s) => {
  await authenticate(event.headers?.authorization, s.keyByHash, ['ingest', 'analyst', 'admin']);
  const [depth, quarantined] = await Promise.all([s.queue.depth(), s.quarantine.count()]);
  return json(200, { status: depth.dlq > 0 || quarantined > 0 ? 'attention' : 'ok', queue: depth.queue, inFlight: depth.inFlight, dlq: depth.dlq, quarantine: quarantined });
};

const ROUTES: Record<string, Route> = {
  'GET /v1/usage': getUsage,
  'GET /v1/health': getHealth,
};

/** The read-side HTTP API: one function routes by method and path. */
export function makeHttpApiHandler(s: Services) {
  return async (event: APIGatewayProxyEventV2): Promise<HttpResult> => {
    const requestId = s.newId();
    const route = ROUTES[`${event.requestContext.http.method} ${event.rawPath}`];
    if (!route) return json(404, { error: `no route for ${event.requestContext.http.method} ${event.rawPath}` });
    try {
      return await route(event, s);
    } catch (err) {
      return errorResponse(err, requestId);
    }
  };
}

let cached: ReturnType<typeof makeHttpApiHandler> | undefined;
/** Lambda entry point. */
export const handler = (event: APIGatewayProxyEventV2) => (cached ??= makeHttpApiHandler(services()))(event);
