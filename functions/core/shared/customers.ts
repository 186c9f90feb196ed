import { type FieldError, ValidationError } from '../../../contract/errors.js';
import type { Customer } from './ports.js';

export interface CustomerInput {
  id: string;
  name?: string;
  stripeCustomerId?: string;
  anchorDay?: number;
  /** When the customer started (ISO-8601), for one registered with history: the fraud rules' account age counts from it. */
  startedAt?: string;
}

/** The earliest start we accept: before it, a date is a typo (a year 0026), not a customer's history. */
const EARLIEST_START = Date.parse('2000-01-01T00:00:00Z');

/** Checks a customer registration and builds the record, keeping createdAt of an existing one. */
export function buildCustomer(input: CustomerInput, existing: Customer | undefined, now: number): Customer {
  const errors: FieldError[] = [];
  if (!/^[^#\s]{1,256}$/.test(input.id)) errors.push({ field: 'id', message: 'must be 1-256 characters without "#" or whitespace' });
  if (input.name !== undefined && input.name.length > 256) errors.push({ field: 'name', message: 'must be at most 256 characters' });
  if (input.stripeCustomerId !== undefined && !/^cus_[A-Za-z0-9]+$/.test(input.stripeCustomerId)) {
    errors.push({ field: 'stripeCustomerId', message: 'must look like a Stripe customer id (cus_...)' });
  }
  if (input.anchorDay !== undefined && !(Number.isInteger(input.anchorDay) && input.anchorDay >= 1 && input.anchorDay <= 31)) {
    errors.push({ field: 'anchorDay', message: 'must be a whole day of month, 1-31' });
  }
  const started = input.startedAt === undefined ? undefined : parseStart(input.startedAt, now);
  if (typeof started === 'string') errors.push({ field: 'startedAt', message: started });
  if (errors.length) throw new ValidationError(errors);
  const at = new Date(now).toISOString();
  return {
    ...existing,
    id: input.id,
    ...(input.name !== undefined ? { name: input.name } : {}),
    ...(input.stripeCustomerId !== undefined ? { stripeCustomerId: input.stripeCustomerId } : {}),
    ...(input.anchorDay !== undefined ? { anchorDay: input.anchorDay } : {}),
    ...(typeof started === 'number' ? { startedAt: new Date(started).toISOString() } : {}),
    createdAt: existing?.createdAt ?? at,
    updatedAt: at,
  };
}

/** A start's instant, or why it is refused: an ISO-8601 date or instant, not in the future, not before 2000. */
function parseStart(value: unknown, now: number): number | string {
  const at =
    typeof value === 'string' && /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2}))?$/.test(value)
      ? Date.parse(value)
      : NaN;
  if (!Number.isFinite(at)) return 'must be a UTC date or an ISO-8601 instant with its offset (2026-03-01, 2026-03-01T00:00:00Z)';
  if (at > now) return 'must not be in the future';
  if (at < EARLIEST_START) return 'must be 2000-01-01 or later';
  return at;
}

/**
 * When a customer's account began, as the fraud rules count its age: the start given at registration, else the
 * earlier of its registration and the earliest usage we hold for it (`earliestUsage`, epoch ms), so a customer
 * registered with backfilled history is not taken for a new account.
 */
export function accountStart(customer: Pick<Customer, 'createdAt' | 'startedAt'>, earliestUsage?: number): number {
  if (customer.startedAt !== undefined) return Date.parse(customer.startedAt);
  const created = Date.parse(customer.createdAt);
  return earliestUsage === undefined ? created : Math.min(created, earliestUsage);
}
