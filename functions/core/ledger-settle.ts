import type { LedgerRecord } from './ports.js';
import type { MeterEventOutcome } from './stripe-reporting.js';
import { assertNever } from './meters.js';

/** A ledger record after one send attempt, as the nightly close settles it. */
export function settleRecord(r: LedgerRecord, o: MeterEventOutcome, nowMs: number): LedgerRecord {
  const attempts = r.attempts + o.attempts;
  switch (o.outcome) {
    case 'delivered':
    case 'accepted_async':
      return { ...r, attempts, state: 'sent', sentAt: new Date(nowMs).toISOString(), lastError: undefined };
    case 'permanent':
      return { ...r, attempts, state: 'error', lastError: o.reason };
    case 'failed_transient':
      // Stays pending: the next run sends it again under the same identifier.
      return { ...r, attempts, state: 'pending', lastError: `failed_transient: ${o.reason}` };
    default:
      return assertNever(o);
  }
}
