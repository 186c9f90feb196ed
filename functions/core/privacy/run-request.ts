import type { Clock } from '../../../contract/clock.js';
import { DAY_MS } from '../../../contract/clock.js';
import { NotFoundError, ValidationError } from '../../../contract/errors.js';
import type { AuditLog, AuditSearch, Customer, Registry, UserRefs } from '../shared/ports.js';
import { type CustomerData, eraseCustomer } from './erase-customer.js';
import { eraseUser } from './erase-user.js';
import { type ExportCustomerDeps, exportCustomer } from './export-customer.js';
import { exportUser } from './export-user.js';
import { type PrivacyRequest, type PrivacyRequests, type PrivacyRequestType, REQUEST_RETENTION_DAYS } from './requests.js';

export interface PrivacyDeps extends ExportCustomerDeps {
  userRefs: UserRefs;
  customerData: CustomerData;
  ledgerRetentionDays: number;
  audit: AuditLog;
  customers: (ids: readonly string[]) => Promise<Map<string, Customer>>;
  clock: Clock;
  newId: () => string;
}

/** The privacy use cases' deps, from a composition root's services (the api, the close worker, the CLI). */
export function privacyDepsOf(
  s: Omit<PrivacyDeps, 'requests' | 'customers' | 'eventRetentionDays' | 'ledgerRetentionDays' | 'auditSearch' | 'keys'> & {
    privacyRequests: PrivacyRequests;
    registry: Pick<Registry, 'customers' | 'listKeys'>;
    audit: AuditLog & AuditSearch;
    config: { eventRetentionDays: number; ledgerRetentionDays: number };
  },
): PrivacyDeps {
  return {
    ...s,
    auditSearch: s.audit,
    keys: (page) => s.registry.listKeys(page),
    requests: s.privacyRequests,
    customers: (ids) => s.registry.customers(ids),
    eventRetentionDays: s.config.eventRetentionDays,
    ledgerRetentionDays: s.config.ledgerRetentionDays,
  };
}

export interface PrivacyInput {
  type: PrivacyRequestType;
  customerId: string;
  userId?: string;
  reason?: string;
  actor: string;
}

/**
 * Makes a privacy request. The user id is turned into the user's ref here and never stored. Erasing one user is
 * done at once (it deletes one mapping); an export is stored `queued`, for `runPrivacyRequest`.
 */
export async function requestPrivacy(input: PrivacyInput, deps: PrivacyDeps): Promise<PrivacyRequest> {
  const reason = input.reason?.trim() ?? '';
  if (input.type === 'erase' && reason.length === 0) throw new ValidationError([{ field: 'reason', message: 'is required to erase data' }]);
  if (reason.length > 500) throw new ValidationError([{ field: 'reason', message: 'is longer than 500 characters' }]);
  if (input.userId !== undefined && input.userId.length === 0) throw new ValidationError([{ field: 'user', message: 'must not be empty' }]);
  const customer = (await deps.customers([input.customerId])).get(input.customerId);
  if (!customer) throw new NotFoundError(`customer "${input.customerId}" is not registered`);
  if (input.userId === undefined) return queued(deps, { type: input.type, customerId: customer.id, reason, actor: input.actor, notes: [] });
  if (input.type === 'erase') {
    const done = await eraseUser({ customerId: customer.id, userId: input.userId, reason, actor: input.actor }, deps);
    await deps.requests.put(done);
    return done;
  }
  const found = await deps.userRefs.find(customer.id, input.userId);
  return queued(deps, {
    type: 'export',
    customerId: customer.id,
    // An erased user's data is no longer theirs to export: nothing links it to them any more.
    ...(found && !found.erased ? { userRef: found.ref } : { unknownUser: true }),
    reason,
    actor: input.actor,
    notes: found?.erased ? ['This user was erased: nothing stored is linked to them any more, so there is nothing to export.'] : [],
  });
}

/** Stores a new request, queued for `runPrivacyRequest`. */
async function queued(
  deps: PrivacyDeps,
  fields: Pick<PrivacyRequest, 'type' | 'customerId' | 'userRef' | 'unknownUser' | 'reason' | 'actor' | 'notes'>,
): Promise<PrivacyRequest> {
  const now = deps.clock.now();
  const at = new Date(now).toISOString();
  const request: PrivacyRequest = {
    id: deps.newId(),
    ...fields,
    status: 'queued',
    createdAt: at,
    updatedAt: at,
    progress: { step: 'queued', done: 0, total: 0 },
    counts: {},
    expiresAt: Math.floor((now + REQUEST_RETENTION_DAYS * DAY_MS) / 1000),
  };
  await deps.requests.put(request);
  return request;
}

/**
 * Runs a queued export to its end, storing its progress as it goes and the document when done. Safe to run again
 * (a crash half-way, a redelivery): a finished request is left as it is, an unfinished one starts over.
 */
export async function runPrivacyRequest(
  id: string,
  deps: PrivacyDeps,
  onProgress: (r: PrivacyRequest) => void = () => {},
): Promise<PrivacyRequest> {
  const stored = await deps.requests.get(id);
  if (!stored) throw new NotFoundError(`privacy request "${id}" does not exist`);
  if (stored.status === 'done') return stored;
  let r: PrivacyRequest = { ...stored, status: 'running', updatedAt: new Date(deps.clock.now()).toISOString() };
  const save = async (next: PrivacyRequest) => {
    r = { ...next, updatedAt: new Date(deps.clock.now()).toISOString() };
    await deps.requests.put(r);
    onProgress(r);
  };
  try {
    await save(r);
    const customer = (await deps.customers([r.customerId])).get(r.customerId);
    if (r.type === 'erase') {
      // A rerun after the profile went (the last step) has nothing left to do but to say so.
      const erased = customer ? await eraseCustomer(r, customer, deps, save) : r;
      await save({ ...erased, status: 'done', progress: { step: 'done', done: 1, total: 1 } });
      return r;
    }
    if (!customer) throw new NotFoundError(`customer "${r.customerId}" is not registered`);
    const onDays = (done: number, total: number) => save({ ...r, progress: { step: 'events', done, total } });
    const nobody = {
      subject: { customerId: r.customerId, user: 'unknown or erased' },
      generatedAt: new Date(deps.clock.now()).toISOString(),
      tables: {},
      csv: {},
    };
    const document =
      r.userRef !== undefined
        ? await exportUser(customer, r.userRef, deps, onDays)
        : r.unknownUser
          ? nobody
          : await exportCustomer(customer, deps, onDays);
    const counts = Object.fromEntries(Object.entries(document.tables).map(([k, rows]) => [k, (rows as unknown[]).length]));
    await deps.requests.putExport(r.id, JSON.stringify({ request: r.id, ...document }), r.expiresAt);
    await deps.audit.record({
      id: `privacy-${r.id}`,
      action: 'privacy.export',
      actor: r.actor,
      at: new Date(deps.clock.now()).toISOString(),
      customerId: r.customerId,
      counts,
      details: {
        request: r.id,
        subject: r.userRef ?? (r.unknownUser ? 'unknown user' : 'customer'),
        ...(r.reason ? { reason: r.reason } : {}),
      },
    });
    await save({ ...r, status: 'done', counts, progress: { step: 'done', done: 1, total: 1 } });
  } catch (err) {
    await save({ ...r, status: 'failed', error: (err as Error).message });
    throw err;
  }
  return r;
}
