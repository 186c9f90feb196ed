import { NotFoundError, ValidationError } from '../../../contract/errors.js';
import { type ExpectedActivityRequest, expectedActivityOf, withdrawExpectedActivity } from '../../core/fraud/expected-activity.js';
import { authenticate } from '../../core/shared/api-keys.js';
import { auditEntry } from '../../core/shared/audit-entries.js';
import type { Services } from '../../runtime/services.js';
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
  const key = await authenticate(event.headers?.authorization, s.keyByHash, ['analyst', 'admin']);
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
      ...callerOf(event),
      details: { expectedActivityId, from, to, rules, meters, reason },
    }),
  );
  return json(201, expected);
};

/** GET /v1/customers/{customer}/expected-activity: every expected activity registered for the customer, oldest window first. */
export const listExpectedActivity: Route<Services> = async ({ event, params }, s) => {
  await authenticate(event.headers?.authorization, s.keyByHash, ['analyst', 'admin']);
  const customerId = decodeSegment(params.customer ?? '', 'customer');
  return json(200, { expectedActivity: await s.flags.expectedActivity(customerId) });
};

/**
 * DELETE /v1/customers/{customer}/expected-activity/{id}: withdraws an expectation; from then on the close
 * flags what it would have set aside. The withdrawer is the key's holder; audited. 200 with the record,
 * 404 for an unknown one, 409 once withdrawn (`ExpectedActivityWithdrawnError`).
 */
export const deleteExpectedActivity: Route<Services> = async ({ event, params }, s) => {
  const key = await authenticate(event.headers?.authorization, s.keyByHash, ['analyst', 'admin']);
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
    ...callerOf(event),
    details: { expectedActivityId: id },
  };
  await s.audit.record(auditEntry(s.newId(), s.clock.now(), entry));
  return json(200, withdrawn);
};
