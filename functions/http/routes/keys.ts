import { NotFoundError, ValidationError } from '../../../contract/errors.js';
import { auditEntry } from '../../core/shared/audit-entries.js';
import { issueApiKey } from '../../core/shared/issue-key.js';
import type { ApiKey } from '../../core/shared/ports.js';
import type { Services } from '../../runtime/services.js';
import { authorize } from '../auth.js';
import { pageOf } from '../paging.js';
import { callerOf, decodeSegment, jsonBody } from '../request.js';
import { json } from '../responses.js';
import type { Route } from '../router.js';

/** A key as listed: its stored hash as `id`, never the key (which is stored nowhere). */
function viewOf(k: ApiKey) {
  const { hash, prefix, principal, role, source, customers, customerPrefix, createdAt, lastUsedAt, revokedAt } = k;
  return {
    id: hash,
    prefix,
    principal,
    role,
    ...(source !== undefined ? { source } : {}),
    ...(customers !== undefined ? { customers } : {}),
    ...(customerPrefix !== undefined ? { customerPrefix } : {}),
    createdAt,
    ...(lastUsedAt !== undefined ? { lastUsedAt } : {}),
    ...(revokedAt !== undefined ? { revokedAt } : {}),
  };
}

/** GET /v1/keys?limit=&cursor=: the stored keys, a page at a time (admin). */
export const listKeys: Route<Services> = async ({ event }, s) => {
  await authorize(event, s, ['admin']);
  const page = await s.registry.listKeys(pageOf(event.queryStringParameters ?? {}));
  return json(200, { keys: page.items.map(viewOf), ...(page.cursor ? { cursor: page.cursor } : {}) });
};

/**
 * POST /v1/keys {role, principal, source?, customers?, customerPrefix?}: issues a key (admin), as `meter keys
 * create` does. 201 with the key: the only time it is shown. `customers` is an array of ids (or the CLI's comma list).
 */
export const postKey: Route<Services> = async ({ event }, s) => {
  const caller = await authorize(event, s, ['admin']);
  const parsed = jsonBody(event);
  if ('invalid' in parsed) return parsed.invalid;
  const body = parsed.body;
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new ValidationError([{ field: 'body', message: 'must be a JSON object' }]);
  const b = body as Record<string, unknown>;
  const errors: { field: string; message: string }[] = [];
  for (const field of ['role', 'principal'] as const)
    if (typeof b[field] !== 'string') errors.push({ field, message: 'is required, a string' });
  for (const field of ['source', 'customerPrefix'] as const)
    if (b[field] !== undefined && typeof b[field] !== 'string') errors.push({ field, message: 'must be a string' });
  const customers = b.customers;
  const listed = Array.isArray(customers) && customers.every((c) => typeof c === 'string' && !c.includes(','));
  if (customers !== undefined && typeof customers !== 'string' && !listed)
    errors.push({ field: 'customers', message: 'must be an array of customer ids' });
  if (errors.length > 0) throw new ValidationError(errors);

  const { key, stored } = await issueApiKey(
    {
      role: b.role as string,
      principal: b.principal as string,
      ...(b.source !== undefined ? { source: b.source as string } : {}),
      // One list form for the shared check (`buildKeyScope`); commas inside an id were refused above.
      ...(customers !== undefined ? { customers: listed ? (customers as string[]).join(',') : (customers as string) } : {}),
      ...(b.customerPrefix !== undefined ? { customerPrefix: b.customerPrefix as string } : {}),
    },
    { actor: caller.principal, ...callerOf(event, s.config) },
    s,
  );
  return json(201, { key, ...viewOf(stored) });
};

/**
 * DELETE /v1/keys/{id}: revokes a key (admin), by its id (the stored hash). From the next request on it is a 401:
 * console and operator keys are never served from a cache (`cachedLookup`). Audited. 200 with the key as stored; 404 for none.
 */
export const deleteKey: Route<Services> = async ({ event, params }, s) => {
  const caller = await authorize(event, s, ['admin']);
  const id = decodeSegment(params.id ?? '', 'id');
  if (!/^[0-9a-f]{64}$/.test(id)) throw new ValidationError([{ field: 'id', message: 'must be a key id: 64 hex characters' }]);
  const revoked = await s.registry.revokeKey(id, new Date(s.clock.now()).toISOString());
  if (!revoked) throw new NotFoundError(`no API key ${id}`);
  await s.audit.record(
    auditEntry(s.newId(), s.clock.now(), {
      action: 'key.revoke',
      actor: caller.principal,
      ...callerOf(event, s.config),
      details: { id, prefix: revoked.prefix, role: revoked.role, principal: revoked.principal },
    }),
  );
  return json(200, viewOf(revoked));
};
