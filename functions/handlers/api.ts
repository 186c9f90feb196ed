import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { API_ROUTES } from '../http/api-routes.js';
import { makeRouter } from '../http/router.js';
import { apiServices, type Services } from '../runtime/api-services.js';
import { lazy } from '../runtime/lazy.js';
import { withMetrics } from '../runtime/metrics.js';

/** The api function: usage, health, statements, flags and their reviews, expected activity. */
export function makeApiHandler(s: Services) {
  return makeRouter(API_ROUTES, s);
}

const api = lazy(() => makeApiHandler(apiServices()));
/** Lambda entry point. */
export const handler = withMetrics((event: APIGatewayProxyEventV2) => api()(event));
