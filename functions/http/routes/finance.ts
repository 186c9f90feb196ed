import { AuthError, NotConfiguredError, NotFoundError, ValidationError } from '../../../contract/errors.js';
import { METERS, type Meter } from '../../../contract/meters.js';
import { loadPeriodView } from '../../core/billing/period-close-view.js';
import { reconcilePeriod } from '../../core/billing/reconcile-period.js';
import { lastDayOf, periodForStatement } from '../../core/billing/statement.js';
import { auditEntry } from '../../core/shared/audit-entries.js';
import type { Customer, LedgerQuery, LedgerRecord } from '../../core/shared/ports.js';
import { log } from '../../runtime/logger.js';
import type { Services } from '../../runtime/services.js';
import { authorize } from '../auth.js';
import { pageOf } from '../paging.js';
import { callerOf, decodeSegment, jsonBody } from '../request.js';
import { json } from '../responses.js';
import type { Route } from '../router.js';

/** A customer as the finance pages list it: its registration, the anchor day always given (1: calendar months). */
function customerView(c: Customer) {
  const { id, name, stripeCustomerId, anchorDay, startedAt, financeReview, createdAt, updatedAt } = c;
  return {
    id,
    ...(name !== undefined ? { name } : {}),
    ...(stripeCustomerId !== undefined ? { stripeCustomerId } : {}),
    anchorDay: anchorDay ?? 1,
    ...(startedAt !== undefined ? { startedAt } : {}),
    ...(financeReview !== undefined ? { financeReview } : {}),
    createdAt,
    updatedAt,
  };
}

/** A ledger record as the ledger page shows it. */
function ledgerRow(r: LedgerRecord) {
  const { identifier, meter, day, revision, value, state, attempts, lastError, sentAt, createdAt, runId, periodKey } = r;
  return {
    identifier,
    meter,
    day,
    revision,
    value,
    state,
    attempts,
    ...(lastError !== undefined ? { lastError } : {}),
    ...(sentAt !== undefined ? { sentAt } : {}),
    createdAt,
    runId,
    periodKey,
  };
}

/** GET /v1/customers?limit=&cursor=: the registered customers, a page at a time (finance, analyst, admin). */
export const listCustomers: Route<Services> = async ({ event }, s) => {
  await authorize(event, s, ['finance', 'analyst', 'admin']);
  const page = await s.registry.pageCustomers(pageOf(event.queryStringParameters ?? {}));
  return json(200, { customers: page.items.map(customerView), ...(page.cursor ? { cursor: page.cursor } : {}) });
};

/**
 * GET /v1/periods/{period}?limit=&cursor=: the period close of `YYYY-MM` for a page of customers (finance, admin):
 * per customer and meter metered, reported, Stripe's own total (null without Stripe), held, unreportable, the
 * difference, its status and the invoice deadline (`periodClose`).
 */
export const getPeriod: Route<Services> = async ({ event, params }, s) => {
  await authorize(event, s, ['finance', 'admin']);
  const period = decodeSegment(params.period ?? '', 'period');
  const page = await s.registry.pageCustomers(pageOf(event.queryStringParameters ?? {}));
  const customers = [...page.items].sort((a, b) => (a.id < b.id ? -1 : 1));
  const view = await loadPeriodView({ ...s, log }, period, customers);
  return json(200, { ...view, ...(page.cursor ? { cursor: page.cursor } : {}) });
};

/**
 * POST /v1/reconcile {period, customer?, fix?, reason?}: reconciles a period as `meter reconcile` does (finance,
 * admin) and answers its result. `fix: true` (admin only: 403 to finance, nothing changed) re-sends stuck records
 * and repairs usage Stripe lost; it needs a `reason`, audited with the caller before anything is sent. 503 when
 * the API has no Stripe configured: reconciliation compares with Stripe's own totals.
 */
export const postReconcile: Route<Services> = async ({ event }, s) => {
  const caller = await authorize(event, s, ['finance', 'admin']);
  const parsed = jsonBody(event);
  if ('invalid' in parsed) return parsed.invalid;
  const request = reconcileRequestOf(parsed.body);
  if (request.fix && caller.role !== 'admin')
    throw new AuthError(`a ${caller.role} key cannot apply a reconcile fix; needs admin (without fix it only compares)`, 403);
  if (!s.stripe)
    throw new NotConfiguredError(
      "Stripe is not configured for the API (STRIPE_SECRET_ARN, or STRIPE_SECRET_KEY locally): reconcile compares with Stripe's own totals. Nothing was compared.",
    );
  const stripe = await s.stripe();
  if (request.fix) {
    await s.audit.record(
      auditEntry(s.newId(), s.clock.now(), {
        action: 'reconcile.fix_requested',
        actor: caller.principal,
        ...(request.customer ? { customerId: request.customer } : {}),
        ...callerOf(event, s.config),
        details: { period: request.period, reason: request.reason },
      }),
    );
  }
  const { reason: _reason, ...options } = request;
  return json(200, await reconcilePeriod({ services: s, clock: s.clock, stripe, actor: caller.principal }, options));
};

/** The body of a reconcile request, every mistyped field named at once; a fix without a reason is refused. */
function reconcileRequestOf(body: unknown): { period: string; customer?: string; fix?: boolean; reason?: string } {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new ValidationError([{ field: 'body', message: 'must be a JSON object' }]);
  const b = body as Record<string, unknown>;
  const errors: { field: string; message: string }[] = [];
  if (typeof b.period !== 'string' || b.period === '') errors.push({ field: 'period', message: 'is required: YYYY-MM' });
  for (const field of ['customer', 'reason'] as const)
    if (b[field] !== undefined && typeof b[field] !== 'string') errors.push({ field, message: 'must be a string' });
  if (b.fix !== undefined && typeof b.fix !== 'boolean') errors.push({ field: 'fix', message: 'must be true or false' });
  if (b.fix === true && (typeof b.reason !== 'string' || b.reason.trim() === ''))
    errors.push({ field: 'reason', message: 'is required with fix: say why the ledger is changed (it is audited)' });
  if (errors.length > 0) throw new ValidationError(errors);
  return {
    period: b.period as string,
    ...(b.customer !== undefined ? { customer: b.customer as string } : {}),
    ...(b.fix === true ? { fix: true, reason: (b.reason as string).trim() } : {}),
  };
}

/**
 * GET /v1/ledger/{customer}?meter=&period=&limit=&cursor=: the customer's ledger records (every meter event
 * recorded for Stripe), by meter, day and revision, a page at a time (finance, admin). `meter` narrows to one
 * meter; `period` (as a statement takes it) to the period's days. 404 for a customer not registered.
 */
export const getLedger: Route<Services> = async ({ event, params }, s) => {
  await authorize(event, s, ['finance', 'admin']);
  const id = decodeSegment(params.customer ?? '', 'customer');
  const q = event.queryStringParameters ?? {};
  const request = pageOf(q);
  if (q.meter !== undefined && !(METERS as readonly string[]).includes(q.meter))
    throw new ValidationError([{ field: 'meter', message: `must be one of ${METERS.join(', ')}` }]);
  const customer = (await s.registry.customers([id])).get(id);
  if (!customer) throw new NotFoundError(`customer "${id}" is not registered`);
  const query: LedgerQuery = { ...(q.meter !== undefined ? { meter: q.meter as Meter } : {}) };
  if (q.period !== undefined) {
    const period = periodForStatement(q.period, customer.anchorDay);
    query.fromDay = period.start.slice(0, 10);
    query.toDay = lastDayOf(period);
  }
  const page = await s.ledger.page(id, query, request);
  return json(200, { records: page.items.map(ledgerRow), ...(page.cursor ? { cursor: page.cursor } : {}) });
};
