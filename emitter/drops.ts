import type { FieldError } from '../contract/errors.js';
import { LIMITS } from '../contract/event-contract.js';
import type { DropReason } from './types.js';

/** Why a recording call was dropped, with the field problems when the input was at fault. */
export interface Drop {
  reason: DropReason;
  errors?: FieldError[];
}

// Shared, preallocated verdicts: the hot path returns them without allocating.
export const BACKPRESSURE: Drop = { reason: 'backpressure' };
export const INVALID_IP: Drop = { reason: 'invalid_ip', errors: [{ field: 'clientIp', message: 'must be an IPv4 or IPv6 address' }] };
export const INVALID_QUANTITY: Drop = {
  reason: 'invalid_input',
  errors: [{ field: 'quantity', message: `must be an integer in [1, ${LIMITS.maxQuantity}]` }],
};
export const INVALID_CLOCK: Drop = {
  reason: 'internal_error',
  errors: [{ field: 'clock', message: 'returned a time that is not a finite number' }],
};

/**
 * Turns validateEvent's verdict into a drop. Field names are those the caller passed
 * (`subject` is `customerId`, `data.x` is `x`); messages never echo the rejected value.
 */
export function invalidInput(errors: readonly FieldError[], containsCardNumber: boolean): Drop {
  const mapped = errors.map((e) => ({
    field: e.field === 'subject' ? 'customerId' : e.field.startsWith('data.') ? e.field.slice(5) : e.field,
    message: e.message,
  }));
  const has = (field: string) => mapped.some((e) => e.field === field);
  const reason: DropReason = containsCardNumber
    ? 'card_number'
    : has('customerId')
      ? 'invalid_customer_id'
      : has('clientIp')
        ? 'invalid_ip'
        : 'invalid_input';
  return { reason, errors: mapped };
}
