import { DAY_MS, HOUR_MS } from '../../../contract/clock.js';
import { type FieldError, NotFoundError, ValidationError } from '../../../contract/errors.js';
import { METERS } from '../../../contract/meters.js';
import { bulkDismiss, validateBulkIds } from '../../core/fraud/bulk-review.js';
import { changeClaim } from '../../core/fraud/flag-claims.js';
import { flagImpact } from '../../core/fraud/flag-impact.js';
import { holdStanding, queueRow } from '../../core/fraud/flag-queue.js';
import { submitReview } from '../../core/fraud/submit-review.js';
import { FLAG_SEVERITIES, type Flag, FRAUD_RULES } from '../../core/fraud/types.js';
import type { FlagFilter } from '../../core/shared/ports.js';
import type { Services } from '../../runtime/services.js';
import { authorize } from '../auth.js';
import { pageOf } from '../paging.js';
import { callerOf, decodeSegment, jsonBody } from '../request.js';
import { json } from '../responses.js';
import type { Route } from '../router.js';

const STATUSES = ['open', 'confirmed', 'dismissed'];

/**
 * GET /v1/flags?status=&severity=&customer=&rule=&meter=&limit=&cursor=: the analysts' queue, a page at a
 * time, without evidence series. `status=open` (the console's default) reads the urgency index: holding
 * flags first, the nearest escalation first (`urgencyKey`); any other status, or none, the older listing
 * (newest first within a page). Each row says whether it holds usage, how much, and by when it must be
 * decided. `cursor` is absent on the last page.
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
  if (q.meter && !(METERS as readonly string[]).includes(q.meter))
    errors.push({ field: 'meter', message: `must be one of ${METERS.join(', ')}` });
  const customerId = q.customer || undefined;
  if (customerId && customerId.length > 256) errors.push({ field: 'customer', message: 'must be at most 256 characters' });
  if (errors.length) throw new ValidationError(errors);
  const page = pageOf(q);
  const filter = { severity: q.severity, customerId, rule: q.rule, meter: q.meter } as Omit<FlagFilter, 'status'>;
  const { items, cursor } =
    q.status === 'open' ? await s.flags.queue(filter, page) : await s.flags.list({ ...filter, status: q.status } as FlagFilter, page);
  const now = s.clock.now();
  const policy = { holdSeverities: s.config.holdSeverities };
  return json(200, { ...(cursor ? { cursor } : {}), flags: items.map((f) => queueRow(f, now, policy)) });
};

/**
 * GET /v1/flags/{id}: one flag with all its evidence, where it stands against its hold (`holdStanding`),
 * what each decision would do (`flagImpact`), and the customer's expected activity (not withdrawn) that
 * overlaps the evidence's span.
 */
export const getFlag: Route<Services> = async ({ event, params }, s) => {
  await authorize(event, s, ['analyst', 'admin']);
  const id = decodeSegment(params.id ?? '', 'id');
  const flag = await s.flags.get(id);
  if (!flag) throw new NotFoundError(`no flag ${id}`);
  const standing = holdStanding(flag, s.clock.now(), { holdSeverities: s.config.holdSeverities });
  const span = evidenceSpan(flag);
  const expectedActivity = (await s.flags.expectedActivity(flag.customerId)).filter(
    (e) => e.withdrawnAt === undefined && Date.parse(e.from) < span.to && Date.parse(e.to) > span.from,
  );
  // The stored deadline is shown only while the flag holds (as in the queue).
  const { escalateBy: _deadline, ...rest } = flag;
  return json(200, { ...rest, ...standing, impact: flagImpact(flag, standing.holding), expectedActivity });
};

/** The instants `[from, to)` a flag's evidence covers: its window, widened to its series' buckets. */
function evidenceSpan(flag: Flag): { from: number; to: number } {
  let from = Date.parse(flag.window.from);
  let to = Date.parse(flag.window.to);
  for (const series of flag.evidence.series)
    for (const p of series.points) {
      const t = Date.parse(p.t);
      from = Math.min(from, t);
      to = Math.max(to, t + (series.granularity === 'hour' ? HOUR_MS : DAY_MS));
    }
  return { from, to };
}

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

/** POST /v1/flags/{id}/claim (no body): assigns the flag to the caller; 409 naming who holds it otherwise; the caller's own claim again is a 200. */
export const postClaim: Route<Services> = async ({ event, params }, s) => {
  const key = await authorize(event, s, ['analyst', 'admin']);
  const id = decodeSegment(params.id ?? '', 'id');
  const flag = await changeClaim(id, 'claim', { principal: key.principal, isAdmin: key.role === 'admin' }, s, callerOf(event, s.config));
  return json(200, { id: flag.id, claim: flag.claim });
};

/** DELETE /v1/flags/{id}/claim: releases the assignment; only its holder or an admin may (403). */
export const deleteClaim: Route<Services> = async ({ event, params }, s) => {
  const key = await authorize(event, s, ['analyst', 'admin']);
  const id = decodeSegment(params.id ?? '', 'id');
  await changeClaim(id, 'release', { principal: key.principal, isAdmin: key.role === 'admin' }, s, callerOf(event, s.config));
  return json(200, { id });
};

/**
 * POST /v1/flags/review with {ids: [1-100], decision: 'dismiss', note}: dismisses each flag on its own,
 * exactly as a single review would, and answers each one's outcome. Only dismissal is offered in bulk:
 * a confirmation puts a customer before finance and is decided flag by flag.
 */
export const postBulkReview: Route<Services> = async ({ event }, s) => {
  const key = await authorize(event, s, ['analyst', 'admin']);
  const parsed = jsonBody(event);
  if ('invalid' in parsed) return parsed.invalid;
  const b = (typeof parsed.body === 'object' && parsed.body !== null && !Array.isArray(parsed.body) ? parsed.body : {}) as Record<
    string,
    unknown
  >;
  const errors: FieldError[] = Object.keys(b)
    .filter((k) => !['ids', 'decision', 'note'].includes(k))
    .map((field) => ({ field, message: 'unknown field (the reviewer comes from your key)' }));
  if (b.decision !== 'dismiss') errors.push({ field: 'decision', message: "must be 'dismiss' (confirm flags one at a time)" });
  if (typeof b.note !== 'string' || b.note.trim().length === 0) errors.push({ field: 'note', message: 'is required: say why' });
  let ids: string[] = [];
  try {
    ids = validateBulkIds(b.ids);
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    errors.push(...err.errors);
  }
  if (errors.length) throw new ValidationError(errors);
  const review = { note: b.note as string, reviewer: key.principal, at: new Date(s.clock.now()).toISOString() };
  return json(200, { results: await bulkDismiss(ids, review, s, callerOf(event, s.config)) });
};
