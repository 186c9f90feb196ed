import { NotFoundError, StateConflictError, ValidationError } from '../../../contract/errors.js';
import type { PrivacyRequest } from '../../core/privacy/requests.js';
import { privacyDepsOf, requestPrivacy, runPrivacyRequest } from '../../core/privacy/run-request.js';
import type { Services } from '../../runtime/services.js';
import { authorize } from '../auth.js';
import { decodeSegment, jsonBody } from '../request.js';
import { json } from '../responses.js';
import type { Route } from '../router.js';

/** A request as answered: with the path of its download once an export is done. */
const viewOf = (r: PrivacyRequest) => ({
  ...r,
  ...(r.type === 'export' && r.status === 'done' ? { download: `/v1/privacy/requests/${encodeURIComponent(r.id)}/export` } : {}),
});

/**
 * POST /v1/privacy/requests {type: export|erase, customer, user, reason} (admin). An erasure of one user is done
 * before the answer (200); an export is a job (202), run by the close worker when the close queue is configured,
 * else in this request. The user id is read here and never stored: the request names the user by their ref.
 */
export const postPrivacyRequest: Route<Services> = async ({ event }, s) => {
  const caller = await authorize(event, s, ['admin']);
  const parsed = jsonBody(event);
  if ('invalid' in parsed) return parsed.invalid;
  const b = parsed.body as Record<string, unknown> | null;
  if (typeof b !== 'object' || b === null || Array.isArray(b))
    throw new ValidationError([{ field: 'body', message: 'must be a JSON object' }]);
  const errors: { field: string; message: string }[] = [];
  if (b.type !== 'export' && b.type !== 'erase') errors.push({ field: 'type', message: 'must be "export" or "erase"' });
  if (typeof b.customer !== 'string' || b.customer.length === 0) errors.push({ field: 'customer', message: 'is required, a customer id' });
  for (const field of ['user', 'reason'] as const)
    if (b[field] !== undefined && typeof b[field] !== 'string') errors.push({ field, message: 'must be a string' });
  if (errors.length > 0) throw new ValidationError(errors);
  const deps = privacyDepsOf(s);
  const r = await requestPrivacy(
    {
      type: b.type as 'export' | 'erase',
      customerId: b.customer as string,
      ...(b.user !== undefined ? { userId: b.user as string } : {}),
      ...(b.reason !== undefined ? { reason: b.reason as string } : {}),
      actor: caller.principal,
    },
    deps,
  );
  if (r.status !== 'queued') return json(200, viewOf(r));
  if (s.privacyJobs) await s.privacyJobs(r.id);
  else await runPrivacyRequest(r.id, deps);
  return json(202, viewOf((await s.privacyRequests.get(r.id)) ?? r));
};

/** GET /v1/privacy/requests/{id} (admin): the request, its status, progress and counts. */
export const getPrivacyRequest: Route<Services> = async ({ event, params }, s) => {
  await authorize(event, s, ['admin']);
  const id = decodeSegment(params.id ?? '', 'id');
  const r = await s.privacyRequests.get(id);
  if (!r) throw new NotFoundError(`no privacy request ${id}`);
  return json(200, viewOf(r));
};

/** GET /v1/privacy/requests/{id}/export (admin): a finished export's document, kept until the request expires. */
export const getPrivacyExport: Route<Services> = async ({ event, params }, s) => {
  await authorize(event, s, ['admin']);
  const id = decodeSegment(params.id ?? '', 'id');
  const r = await s.privacyRequests.get(id);
  if (r?.type !== 'export') throw new NotFoundError(`no export ${id}`);
  const document = r.status === 'done' ? await s.privacyRequests.getExport(id) : undefined;
  if (document === undefined) throw new StateConflictError(`export ${id} is ${r.status}, not done`);
  return {
    statusCode: 200,
    headers: { 'content-type': 'application/json', 'content-disposition': `attachment; filename="privacy-export-${id}.json"` },
    body: document,
  };
};
