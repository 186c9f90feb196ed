import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { authenticate } from '../../core/shared/api-keys.js';
import { ValidationError, type FieldError } from '../../../contract/errors.js';
import { FlagAlreadyReviewedError, FlagConflictError, reviewEntry, reviewFlag, sameReview, validateReview } from '../../core/fraud/review-flag.js';
import { flagRevision } from '../../core/fraud/merge-flags.js';
import { stableUlid } from '../../core/shared/ids.js';
import { FLAG_SEVERITIES, FRAUD_RULES, type Flag } from '../../core/fraud/types.js';
import { releasedDays } from '../../core/fraud/holds.js';
import type { FlagFilter } from '../../core/shared/ports.js';
import { auditEntry } from '../../core/ingest/ingest.js';
import { callerOf, decodeSegment, json, jsonBody, type HttpResult } from '../responses.js';
import { ExpectedActivityWithdrawnError, expectedActivityOf, withdrawExpectedActivity, type ExpectedActivityRequest } from '../../core/fraud/expected-activity.js';
import type { Services } from '../../runtime/services.js';

type Params = Record<string, string>;

const STATUSES = ['open', 'confirmed', 'dismissed'];

/** GET /v1/flags?status=&severity=&customer=&rule=: the analysts' queue, newest first, without evidence series. */
export async function listFlags(event: APIGatewayProxyEventV2, s: Services): Promise<HttpResult> {
  await authenticate(event.headers?.authorization, s.keyByHash, ['analyst', 'admin']);
  const q = event.queryStringParameters ?? {};
  const errors: FieldError[] = [];
  if (q.status && !STATUSES.includes(q.status)) errors.push({ field: 'status', message: `must be one of ${STATUSES.join(', ')}` });
  if (q.severity && !(FLAG_SEVERITIES as readonly string[]).includes(q.severity)) errors.push({ field: 'severity', message: `must be one of ${FLAG_SEVERITIES.join(', ')}` });
  if (q.rule && !(FRAUD_RULES as readonly string[]).includes(q.rule)) errors.push({ field: 'rule', message: `must be one of ${FRAUD_RULES.join(', ')}` });
  if (errors.length) throw new ValidationError(errors);
  const flags = await s.flags.list({ status: q.status, severity: q.severity, customerId: q.customer, rule: q.rule } as FlagFilter);
  return json(200, { flags: flags.map(({ evidence, ...f }) => ({ ...f, evidence: { summary: evidence.summary, observed: evidence.observed, expected: evidence.expected } })) });
}

/** GET /v1/flags/{id}: one flag with all its evidence. */
export async function getFlag(event: APIGatewayProxyEventV2, s: Services, params: Params): Promise<HttpResult> {
  await authenticate(event.headers?.authorization, s.keyByHash, ['analyst', 'admin']);
  const flag = await s.flags.get(params.id ?? '');
  return flag ? json(200, flag) : json(404, { error: `no flag ${params.id}` });
}

/** Times a review is tried against a flag the nightly close changed in the meantime. */
const REVIEW_ATTEMPTS = 3;

/**
 * POST /v1/flags/{id}/review with {decision: confirm|dismiss, note}: the reviewer is the key's holder,
 * never a field of the body. Every review goes to the audit trail with reviewer, decision, note, time and /24.
 * A dismissal marks the flag's days late (`releasedDays`), so the next close releases their usage, in
 * whatever billing period they lie (while Stripe still bills it: see `billableUntil`); a confirmation marks the customer for finance.
 *
 * Safe to retry: the flag is written only over the version that was read (a close extending it at the
 * same moment makes the review read it again), and the same reviewer repeating the same decision and
 * note on a flag already so reviewed gets 200 and its follow-ups (late marks, finance mark, audit entry,
 * under a stable id) done again, once each, in case a failure cut them short. Anything else on a
 * reviewed flag is 409.
 */
export async function postReview(event: APIGatewayProxyEventV2, s: Services, params: Params): Promise<HttpResult> {
  const key = await authenticate(event.headers?.authorization, s.keyByHash, ['analyst', 'admin']);
  const parsed = jsonBody(event);
  if ('invalid' in parsed) return parsed.invalid;
  const body = parsed.body;
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const unknown = Object.keys(b).filter((k) => k !== 'decision' && k !== 'note');
  if (unknown.length) throw new ValidationError(unknown.map((field) => ({ field, message: 'unknown field (the reviewer comes from your key)' })));
  const review = { decision: b.decision as 'confirm' | 'dismiss', note: b.note as string, reviewer: key.principal, at: new Date(s.clock.now()).toISOString() };
  validateReview(review, params.id);
  for (let attempt = 1; ; attempt++) {
    const flag = await s.flags.get(params.id ?? '');
    if (!flag) return json(404, { error: `no flag ${params.id}` });
    if (flag.status !== 'open') {
      if (!sameReview(flag, review)) return json(409, { error: new FlagAlreadyReviewedError(flag).message });
      await reviewFollowUps(event, s, flag);
      return json(200, flag);
    }
    const reviewed = reviewFlag(flag, review);
    // Late marks before the flag: if the review then loses a race, the flag still holds those days and the close re-plans them to no effect.
    await s.rollups.markLate(releasedDays(reviewed), s.clock.now());
    try {
      await s.flags.save([{ flag: reviewed, basedOn: flagRevision(flag) }]);
    } catch (err) {
      if (err instanceof FlagConflictError && attempt < REVIEW_ATTEMPTS) continue;
      throw err;
    }
    // Marked again now the dismissal is stored: a close that began before it, and so held these days, clears only older marks.
    await reviewFollowUps(event, s, reviewed);
    return json(200, reviewed);
  }
}

/**
 * What follows a stored review, each step idempotent so a retry can redo them all: the late marks (also
 * made before the flag was stored), the finance mark, the audit entry (its id from the review entry's time).
 */
async function reviewFollowUps(event: APIGatewayProxyEventV2, s: Services, reviewed: Flag): Promise<void> {
  const entry = reviewEntry(reviewed)!;
  // Released usage goes out with the next close, whatever billing period it lies in.
  await s.rollups.markLate(releasedDays(reviewed), s.clock.now());
  if (reviewed.status === 'confirmed') {
    // Confirmed fraud keeps its usage held and puts the customer in front of finance.
    const customer = (await s.registry.customers([reviewed.customerId])).get(reviewed.customerId);
    if (customer) await s.registry.putCustomer({ ...customer, financeReview: { flagId: reviewed.id, rule: reviewed.rule, by: entry.by, at: entry.at }, updatedAt: entry.at });
  }
  const at = Date.parse(entry.at);
  await s.audit.record(
    auditEntry(stableUlid(at, `flag.review|${reviewed.id}|${entry.at}`), at, {
      action: 'flag.review',
      actor: entry.by,
      customerId: reviewed.customerId,
      ...callerOf(event),
      details: { flagId: reviewed.id, rule: reviewed.rule, decision: reviewed.status === 'confirmed' ? 'confirm' : 'dismiss', note: entry.note },
    }),
  );
}

/**
 * POST /v1/customers/{customer}/expected-activity with {from, to, rules?, meters?, reason}: unusual usage
 * the customer told us to expect (a backfill, a migration, a load test). The close records what the named
 * rules (default the volume rules) find inside it as expected instead of flagging and holding it. The
 * registrant is the key's holder; audited. 201 with the record; 404 for an unknown customer.
 */
export async function postExpectedActivity(event: APIGatewayProxyEventV2, s: Services, params: Params): Promise<HttpResult> {
  const key = await authenticate(event.headers?.authorization, s.keyByHash, ['analyst', 'admin']);
  const customerId = decodeSegment(params.customer ?? '', 'customer');
  const parsed = jsonBody(event);
  if ('invalid' in parsed) return parsed.invalid;
  const body = parsed.body;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ValidationError([{ field: 'body', message: 'must be a JSON object' }]);
  if (!(await s.registry.customers([customerId])).has(customerId)) return json(404, { error: `customer "${customerId}" is not registered` });
  const expected = expectedActivityOf(body as ExpectedActivityRequest, { id: s.newId(), customerId, createdBy: key.principal, now: s.clock.now() });
  await s.flags.putExpectedActivity(expected);
  await s.audit.record(
    auditEntry(s.newId(), s.clock.now(), {
      action: 'expected_activity.create',
      actor: key.principal,
      customerId,
      ...callerOf(event),
      details: { expectedActivityId: expected.id, from: expected.from, to: expected.to, rules: expected.rules, meters: expected.meters, reason: expected.reason },
    }),
  );
  return json(201, expected);
}

/** GET /v1/customers/{customer}/expected-activity: every expected activity registered for the customer, oldest window first. */
export async function listExpectedActivity(event: APIGatewayProxyEventV2, s: Services, params: Params): Promise<HttpResult> {
  await authenticate(event.headers?.authorization, s.keyByHash, ['analyst', 'admin']);
  const customerId = decodeSegment(params.customer ?? '', 'customer');
  return json(200, { expectedActivity: await s.flags.expectedActivity(customerId) });
}

/**
 * DELETE /v1/customers/{customer}/expected-activity/{id}: withdraws an expectation; from then on the close
 * flags what it would have set aside. The withdrawer is the key's holder; audited. 200 with the record,
 * 404 for an unknown one, 409 once withdrawn.
 */
export async function deleteExpectedActivity(event: APIGatewayProxyEventV2, s: Services, params: Params): Promise<HttpResult> {
  const key = await authenticate(event.headers?.authorization, s.keyByHash, ['analyst', 'admin']);
  const customerId = decodeSegment(params.customer ?? '', 'customer');
  const id = decodeSegment(params.id ?? '', 'id');
  const found = (await s.flags.expectedActivity(customerId)).find((e) => e.id === id);
  if (!found) return json(404, { error: `no expected activity ${id} for customer "${customerId}"` });
  let withdrawn;
  try {
    withdrawn = withdrawExpectedActivity(found, { by: key.principal, at: new Date(s.clock.now()).toISOString() });
  } catch (err) {
    if (err instanceof ExpectedActivityWithdrawnError) return json(409, { error: err.message });
    throw err;
  }
  await s.flags.putExpectedActivity(withdrawn, { replace: true });
  await s.audit.record(auditEntry(s.newId(), s.clock.now(), { action: 'expected_activity.withdraw', actor: key.principal, customerId, ...callerOf(event), details: { expectedActivityId: id } }));
  return json(200, withdrawn);
}
