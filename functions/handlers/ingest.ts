import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { makeRouter } from '../http/router.js';
import { postEvents } from '../http/routes/events.js';
import { lazy } from '../runtime/lazy.js';
import { withMetrics } from '../runtime/metrics.js';
import { type Services, services } from '../runtime/services.js';

/** The ingest function: POST /v1/events, behind the router that maps every error once. */
export function makeIngestHandler(s: Services) {
  return makeRouter<Services>({ 'POST /v1/events': postEvents }, s);
}

const ingest = lazy(() => makeIngestHandler(services()));
/** Lambda entry point. */
export const handler = withMetrics((event: APIGatewayProxyEventV2) => ingest()(event));
