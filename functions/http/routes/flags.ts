import { type FieldError, NotFoundError, ValidationError } from '../../../contract/errors.js';
import { submitReview } from '../../core/fraud/submit-review.js';
import { FLAG_SEVERITIES, FRAUD_RULES } from '../../core/fraud/types.js';
import type { FlagFilter } from '../../core/shared/ports.js';
import type { Services } from '../../runtime/services.js';
import { authorize } from '../auth.js';
import { pageOf } from '../paging.js';
import { callerOf, decodeSegment, jsonBody } from '../request.js';
import { json } from '../responses.js';
import type { Route } from '../router.js';

const STATUSES = ['open', 'confirmed', 'dismissed'];

/**
 * GET /v1/flags?status=&severity=&customer=&rule=&limit=&cursor=: the analysts' queue, a page at a time
 * (newest first within a page), without evidence series; `cursor` is absent on the last page.
 */
export const listFlags: Route<Services> = async ({ event }, s) => {
  await authorize(event, s, ['analyst', 'admin']);
  const q = event.queryStringParameters ?? {};
  const errors: FieldError[] = [];
  if (q.status && !STATUSES.includes(q.status)) errors.push({ field: 'status', message: `must be one of ${STATUSES.join(', ')}` });
  if (q.severity && !(FLAG_SEVERITIES as readonly string[]).includes(q.severity))
    errors.push({ field: 'severity', message: `must be one of ${FLAG_SEVERITIES.join(', ')}` });
  if (q.rule && !(FRAUD_RULES as readonly string[]).includes(q.rule))
    errors.push({ field: 'rule', message: `must be one of ${FRAUD_RULES.join(', ')}` });
  const customerId = q.customer || undefined;
  if (customerId && customerId.length > 256) errors.push({ field: 'customer', message: 'must be at most 256 characters' });
  if (errors.length) throw new ValidationError(errors);
  const page = pageOf(q);
  const { items, cursor } = await s.flags.list({ status: q.status, severity: q.severity, customerId, rule: q.rule } as FlagFilter, page);
  return json(200, {
    ...(cursor ? { cursor } : {}),
    flags: items.map(({ evidence, ...f }) => ({
      ...f,
      evidence: { summary: evidence.summary, observed: evidence.observed, expected: evidence.expected },
    })),
  });
};

/** GET /v1/flags/{id}: one flag with all its evidence. */
export const getFlag: Route<Services> = async ({ event, params }, s) => {
  await authorize(event, s, ['analyst', 'admin']);
  const id = decodeSegment(params.id ?? '', 'id');
  const flag = await s.flags.get(id);
  if (!flag) throw new NotFoundError(`no flag ${id}`);
  return json(200, flag);
};

/**
 * POST /v1/flags/{id}/review with {decision: confirm|dismiss, note}: the reviewer is the key's holder,
 * never a field of the body. `submitReview` does the rest, and says what is safe to retry; 409 for a
 * second, different review of a reviewed flag.
 */
export const postReview: Route<Services> = async ({ event, params }, s) => {
  const key = await authorize(event, s, ['analyst', 'admin']);
  const id = decodeSegment(params.id ?? '', 'id');
  const parsed = jsonBody(event);
  if ('invalid' in parsed) return parsed.invalid;
  const body = parsed.body;
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const unknown = Object.keys(b).filter((k) => k !== 'decision' && k !== 'note');
  if (unknown.length)
    throw new ValidationError(unknown.map((field) => ({ field, message: 'unknown field (the reviewer comes from your key)' })));
  const review = {
    decision: b.decision as 'confirm' | 'dismiss',
    note: b.note as string,
    reviewer: key.principal,
    at: new Date(s.clock.now()).toISOString(),
  };
  return json(200, await submitReview(id, review, s, callerOf(event, s.config)));
};
