import { NotFoundError, ValidationError } from '../../../contract/errors.js';
import { type ExpectedActivityRequest, expectedActivityOf, withdrawExpectedActivity } from '../../core/fraud/expected-activity.js';
import { auditEntry } from '../../core/shared/audit-entries.js';
import type { Services } from '../../runtime/services.js';
import { authorize } from '../auth.js';
import { pageOf } from '../paging.js';
import { callerOf, decodeSegment, jsonBody } from '../request.js';
import { json } from '../responses.js';
import type { Route } from '../router.js';

/**
 * POST /v1/customers/{customer}/expected-activity with {from, to, rules?, meters?, reason}: unusual usage
 * the customer told us to expect (a backfill, a migration, a load test). The close records what the named
 * rules (default the volume rules) find inside it as expected instead of flagging and holding it. The
 * registrant is the key's holder; audited. 201 with the record; 404 for an unknown customer.
 */
export const postExpectedActivity: Route<Services> = async ({ event, params }, s) => {
  const key = await authorize(event, s, ['analyst', 'admin']);
  const customerId = decodeSegment(params.customer ?? '', 'customer');
  const parsed = jsonBody(event);
  if ('invalid' in parsed) return parsed.invalid;
  const body = parsed.body;
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new ValidationError([{ field: 'body', message: 'must be a JSON object' }]);
  if (!(await s.registry.customers([customerId])).has(customerId)) throw new NotFoundError(`customer "${customerId}" is not registered`);
  const expected = expectedActivityOf(body as ExpectedActivityRequest, {
    id: s.newId(),
    customerId,
    createdBy: key.principal,
    now: s.clock.now(),
  });
  await s.flags.putExpectedActivity(expected);
  const { id: expectedActivityId, from, to, rules, meters, reason } = expected;
  await s.audit.record(
    auditEntry(s.newId(), s.clock.now(), {
      action: 'expected_activity.create',
      actor: key.principal,
      customerId,
      ...callerOf(event, s.config),
      details: { expectedActivityId, from, to, rules, meters, reason },
    }),
  );
  return json(201, expected);
};

/**
 * GET /v1/customers/{customer}/expected-activity?limit=&cursor=: the customer's registered expected
 * activity, oldest window first, a page at a time. Expectations are made by hand, so one customer's are few:
 * they are read whole (one partition) and the page bounds the answer; the cursor names the last one answered.
 */
export const listExpectedActivity: Route<Services> = async ({ event, params }, s) => {
  await authorize(event, s, ['analyst', 'admin']);
  const customerId = decodeSegment(params.customer ?? '', 'customer');
  const page = pageOf(event.queryStringParameters ?? {});
  const all = await s.flags.expectedActivity(customerId);
  let start = 0;
  if (page.cursor !== undefined) {
    const after = all.findIndex((e) => Buffer.from(e.id).toString('base64url') === page.cursor);
    if (after < 0) throw new ValidationError([{ field: 'cursor', message: 'is not a cursor this listing handed out' }]);
    start = after + 1;
  }
  const items = all.slice(start, start + page.limit);
  const more = start + page.limit < all.length;
  return json(200, { expectedActivity: items, ...(more ? { cursor: Buffer.from(items.at(-1)!.id).toString('base64url') } : {}) });
};

/**
 * DELETE /v1/customers/{customer}/expected-activity/{id}: withdraws an expectation; from then on the close
 * flags what it would have set aside. The withdrawer is the key's holder; audited. 200 with the record,
 * 404 for an unknown one, 409 once withdrawn (`ExpectedActivityWithdrawnError`).
 */
export const deleteExpectedActivity: Route<Services> = async ({ event, params }, s) => {
  const key = await authorize(event, s, ['analyst', 'admin']);
  const customerId = decodeSegment(params.customer ?? '', 'customer');
  const id = decodeSegment(params.id ?? '', 'id');
  const found = (await s.flags.expectedActivity(customerId)).find((e) => e.id === id);
  if (!found) throw new NotFoundError(`no expected activity ${id} for customer "${customerId}"`);
  const withdrawn = withdrawExpectedActivity(found, { by: key.principal, at: new Date(s.clock.now()).toISOString() });
  await s.flags.putExpectedActivity(withdrawn, { replace: true });
  const entry = {
    action: 'expected_activity.withdraw',
    actor: key.principal,
    customerId,
    ...callerOf(event, s.config),
    details: { expectedActivityId: id },
  };
  await s.audit.record(auditEntry(s.newId(), s.clock.now(), entry));
  return json(200, withdrawn);
};
