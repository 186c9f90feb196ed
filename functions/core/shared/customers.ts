import { type FieldError, ValidationError } from '../../../contract/errors.js';
import type { Customer } from './ports.js';

export interface CustomerInput {
  id: string;
  name?: string;
  stripeCustomerId?: string;
  anchorDay?: number;
}

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
  if (errors.length) throw new ValidationError(errors);
  const at = new Date(now).toISOString();
  return {
    ...existing,
    id: input.id,
    ...(input.name !== undefined ? { name: input.name } : {}),
    ...(input.stripeCustomerId !== undefined ? { stripeCustomerId: input.stripeCustomerId } : {}),
    ...(input.anchorDay !== undefined ? { anchorDay: input.anchorDay } : {}),
    createdAt: existing?.createdAt ?? at,
    updatedAt: at,
  };
}
