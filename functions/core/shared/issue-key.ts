import { type FieldError, ValidationError } from '../../../contract/errors.js';
import { buildKeyScope, generateKey, hashKey } from './api-keys.js';
import { auditEntry } from './audit-entries.js';
import type { ApiKey, AuditLog, KeyRole, Registry } from './ports.js';

/** Every role a key may have, in the order the CLI and console offer them. */
export const KEY_ROLES: readonly KeyRole[] = ['ingest', 'finance', 'analyst', 'admin'];

/** What to issue: the scope as typed (a comma-separated list or a prefix), as `buildKeyScope` takes it. */
export interface KeyRequest {
  role: string;
  principal: string;
  source?: string;
  customers?: string;
  customerPrefix?: string;
}

/** Who issues it, for the audit trail. */
export interface KeyIssuer {
  actor: string;
  ipPrefix?: string;
  region?: string;
}

/**
 * Issues an API key: checks the request (each bad field named), stores only the key's hash, audits
 * `key.create`, and returns the key itself, which exists nowhere else: the caller shows it once.
 * The CLI (`meter keys create`) and `POST /v1/keys` both issue through here.
 */
export async function issueApiKey(
  request: KeyRequest,
  issuer: KeyIssuer,
  deps: { registry: Pick<Registry, 'putKey'>; audit: AuditLog; clock: { now(): number }; newId: () => string },
): Promise<{ key: string; stored: ApiKey }> {
  const errors: FieldError[] = [];
  const role = request.role as KeyRole;
  if (!KEY_ROLES.includes(role)) errors.push({ field: 'role', message: `must be one of ${KEY_ROLES.join(', ')}` });
  if (!/^\S(.{0,254}\S)?$/.test(request.principal)) errors.push({ field: 'principal', message: 'must be 1-256 characters, not blank' });
  if (request.source !== undefined && !/^[^\s#]{1,256}$/.test(request.source))
    errors.push({ field: 'source', message: 'must be 1-256 characters without "#" or whitespace' });
  // An ingest key writes events as its source: without one it could write as any.
  if (role === 'ingest' && request.source === undefined)
    errors.push({ field: 'source', message: 'is required for an ingest key (the event source it may write as)' });
  if (errors.length > 0) throw new ValidationError(errors);
  const scope = buildKeyScope({ customers: request.customers, customerPrefix: request.customerPrefix, role });

  const key = generateKey(role);
  const now = deps.clock.now();
  const stored: ApiKey = {
    hash: hashKey(key),
    prefix: key.slice(0, 12),
    role,
    principal: request.principal,
    ...(request.source !== undefined ? { source: request.source } : {}),
    ...scope,
    createdAt: new Date(now).toISOString(),
  };
  await deps.registry.putKey(stored);
  await deps.audit.record(
    auditEntry(deps.newId(), now, {
      action: 'key.create',
      ...issuer,
      details: { role, principal: request.principal, prefix: stored.prefix, ...scope },
    }),
  );
  return { key, stored };
}
