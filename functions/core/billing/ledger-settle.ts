import { assertNever } from '../../../contract/meters.js';
import type { LedgerRecord } from '../shared/ports.js';
import type { MeterEventOutcome } from './stripe-reporting.js';

/**
 * Ledger errors worth sending again: the cause may be fixed by then (a customer mapped, a rotated key, a
 * meter set up again, a transient failure). Any other error (a final invoice, an identifier conflict, an
 * invalid event) stays for a person to decide.
 */
export const RESENDABLE_ERRORS: ReadonlySet<string> = new Set([
  'no_stripe_customer',
  'unknown_customer',
  'missing_customer',
  'failed_transient',
  'authentication',
  'permission',
  'no_meter',
  'meter_inactive',
]);

/** Whether a record still waits to be sent: pending, or in an error worth sending again. */
export function awaitsSending(r: { state: LedgerRecord['state']; lastError?: string }): boolean {
  return r.state === 'pending' || (r.state === 'error' && RESENDABLE_ERRORS.has(r.lastError ?? ''));
}

/** A ledger record after one send attempt, as the nightly close settles it. */
export function settleRecord(r: LedgerRecord, o: MeterEventOutcome, nowMs: number): LedgerRecord {
  const attempts = r.attempts + o.attempts;
  switch (o.outcome) {
    case 'delivered':
    case 'accepted_async':
      return {
        ...r,
        attempts,
        state: 'sent',
        sentAt: new Date(nowMs).toISOString(),
        lastError: undefined,
        errorDetail: undefined,
        asyncError: undefined,
      };
    case 'permanent':
      return { ...r, attempts, state: 'error', lastError: o.reason, errorDetail: o.message };
    case 'failed_transient':
      // Stays pending: the next run sends it again under the same identifier.
      return { ...r, attempts, state: 'pending', lastError: `failed_transient: ${o.reason}` };
    default:
      return assertNever(o);
  }
}
