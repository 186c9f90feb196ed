import type { ApiRouteKey } from '../resources.js';
import type { Services } from '../runtime/api-services.js';
import type { Route } from './router.js';
import { getMe } from './routes/caller.js';
import { postCustomer } from './routes/customers.js';
import { deleteExpectedActivity, listExpectedActivity, postExpectedActivity } from './routes/expected-activity.js';
import { getLedger, getPeriod, listCustomers, postReconcile } from './routes/finance.js';
import { deleteClaim, getFlag, listFlags, postBulkReview, postClaim, postReview } from './routes/flags.js';
import { getHealth } from './routes/health.js';
import { deleteKey, listKeys, postKey } from './routes/keys.js';
import { listCloseRuns, listQuarantine, postRedrive, postReplay, searchAudit } from './routes/operations.js';
import { getPrivacyExport, getPrivacyRequest, postPrivacyRequest } from './routes/privacy.js';
import { getStatement } from './routes/statements.js';
import { postStripeWebhook } from './routes/stripe-webhooks.js';
import { getUsage } from './routes/usage.js';

/** Every `api` route of `HTTP_ROUTES` (typed from it, so none is left out) and the route that serves it. */
export const API_ROUTES: Record<ApiRouteKey, Route<Services>> = {
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
  // privacy requests (admin)
  'POST /v1/privacy/requests': postPrivacyRequest,
  'GET /v1/privacy/requests/{id}': getPrivacyRequest,
  'GET /v1/privacy/requests/{id}/export': getPrivacyExport,
  // Stripe's event destination (signed, no API key)
  'POST /v1/stripe/webhooks': postStripeWebhook,
};
