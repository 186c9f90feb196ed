import { type FieldError, ValidationError } from '../../../contract/errors.js';
import { auditEntry } from '../../core/shared/audit-entries.js';
import { buildCustomer, type CustomerInput } from '../../core/shared/customers.js';
import type { Services } from '../../runtime/services.js';
import { authorize } from '../auth.js';
import { callerOf, jsonBody } from '../request.js';
import { json } from '../responses.js';
import type { Route } from '../router.js';

/** The fields a registration may carry, and the type each must have. */
const FIELDS = { customerId: 'string', name: 'string', stripeCustomerId: 'string', anchorDay: 'number', startedAt: 'string' } as const;

/**
 * POST /v1/customers with {customerId, name?, stripeCustomerId?, anchorDay?, startedAt?}: registers a customer, or
 * updates one (keeping its registration time), as `meter customers add` does. `startedAt` is when a customer
 * registered with history began: the fraud rules count its age from it. Admin keys only; audited. 201 for a new
 * customer, 200 for an update, with the record. Writes only the customer's item (pk `CUS#<id>`, sk `PROFILE`).
 * Quarantined events of the customer are not replayed here: `meter quarantine replay --customer C` does that.
 */
export const postCustomer: Route<Services> = async ({ event }, s) => {
  const key = await authorize(event, s, ['admin']);
  const parsed = jsonBody(event);
  if ('invalid' in parsed) return parsed.invalid;
  const input = registrationOf(parsed.body);
  const existing = (await s.registry.customers([input.id])).get(input.id);
  const customer = buildCustomer(input, existing, s.clock.now());
  await s.registry.putCustomer(customer);
  await s.audit.record(
    auditEntry(s.newId(), s.clock.now(), {
      action: existing ? 'customer.update' : 'customer.add',
      actor: key.principal,
      customerId: customer.id,
      ...callerOf(event, s.config),
      details: { ...customer },
    }),
  );
  return json(existing ? 200 : 201, customer);
};

/** The body as a registration, every misplaced or mistyped field named at once. */
function registrationOf(body: unknown): CustomerInput {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new ValidationError([{ field: 'body', message: 'must be a JSON object' }]);
  const errors: FieldError[] = [];
  const b = body as Record<string, unknown>;
  for (const [field, value] of Object.entries(b)) {
    const type = (FIELDS as Record<string, string>)[field];
    // The field's name is not echoed: a caller's key may hold anything, a card number too.
    if (type === undefined) errors.push({ field: 'body', message: `has an unknown field; allowed: ${Object.keys(FIELDS).join(', ')}` });
    else if (typeof value !== type) errors.push({ field, message: `must be a ${type}` });
  }
  if (b.customerId === undefined) errors.push({ field: 'customerId', message: 'is required' });
  if (errors.length > 0) throw new ValidationError(errors);
  return {
    id: b.customerId as string,
    ...(b.name !== undefined ? { name: b.name as string } : {}),
    ...(b.stripeCustomerId !== undefined ? { stripeCustomerId: b.stripeCustomerId as string } : {}),
    ...(b.anchorDay !== undefined ? { anchorDay: b.anchorDay as number } : {}),
    ...(b.startedAt !== undefined ? { startedAt: b.startedAt as string } : {}),
  };
}
