import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { makeRouter, type Route } from '../http/router.js';
import { getMe } from '../http/routes/caller.js';
import { postCustomer } from '../http/routes/customers.js';
import { deleteExpectedActivity, listExpectedActivity, postExpectedActivity } from '../http/routes/expected-activity.js';
import { getLedger, getPeriod, listCustomers, postReconcile } from '../http/routes/finance.js';
import { deleteClaim, getFlag, listFlags, postBulkReview, postClaim, postReview } from '../http/routes/flags.js';
import { getHealth } from '../http/routes/health.js';
import { deleteKey, listKeys, postKey } from '../http/routes/keys.js';
import { listCloseRuns, listQuarantine, postRedrive, postReplay, searchAudit } from '../http/routes/operations.js';
import { getStatement } from '../http/routes/statements.js';
import { getUsage } from '../http/routes/usage.js';
import type { ApiRouteKey } from '../resources.js';
import { apiServices, type Services } from '../runtime/api-services.js';
import { lazy } from '../runtime/lazy.js';

/** Every `api` route of `HTTP_ROUTES` (typed from it, so none is left out) and the route that serves it. */
const API_ROUTES: Record<ApiRouteKey, Route<Services>> = {
  'GET /v1/usage': getUsage,
  'GET /v1/health': getHealth,
  'GET /v1/statements/{customer}': getStatement,
  'GET /v1/flags': listFlags,
  'GET /v1/flags/{id}': getFlag,
  'POST /v1/flags/{id}/review': postReview,
  'POST /v1/customers': postCustomer,
  'GET /v1/customers/{customer}/expected-activity': listExpectedActivity,
  'POST /v1/customers/{customer}/expected-activity': postExpectedActivity,
  'DELETE /v1/customers/{customer}/expected-activity/{id}': deleteExpectedActivity,
  // console: caller
  'GET /v1/me': getMe,
  // console: flags (queue, claim, bulk review)
  'POST /v1/flags/{id}/claim': postClaim,
  'DELETE /v1/flags/{id}/claim': deleteClaim,
  'POST /v1/flags/review': postBulkReview,
  // console: finance (customers, periods, reconcile, ledger)
  'GET /v1/customers': listCustomers,
  'GET /v1/periods/{period}': getPeriod,
  'POST /v1/reconcile': postReconcile,
  'GET /v1/ledger/{customer}': getLedger,
  // console: operations (close runs, quarantine, DLQ, audit, keys)
  'GET /v1/close-runs': listCloseRuns,
  'GET /v1/quarantine': listQuarantine,
  'POST /v1/quarantine/replay': postReplay,
  'POST /v1/dlq/redrive': postRedrive,
  'GET /v1/audit': searchAudit,
  'GET /v1/keys': listKeys,
  'POST /v1/keys': postKey,
  'DELETE /v1/keys/{id}': deleteKey,
};

/** The api function: usage, health, statements, flags and their reviews, expected activity. */
export function makeApiHandler(s: Services) {
  return makeRouter(API_ROUTES, s);
}

const api = lazy(() => makeApiHandler(apiServices()));
/** Lambda entry point. */
export const handler = (event: APIGatewayProxyEventV2) => api()(event);
