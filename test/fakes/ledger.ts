import type { Meter } from '../../contract/meters.js';
import { revisionTimestamp } from '../../functions/core/billing/reporting-plan.js';
import { meterEventIdentifier, STRIPE_METERS } from '../../functions/core/billing/stripe-reporting.js';
import type { LedgerRecord, LedgerState } from '../../functions/core/shared/ports.js';

/**
 * A ledger record of customer `acme` as the nightly close writes it (run `run-1`, one attempt): its
 * identifier, event name and timestamp derived as the close derives them; `sentAt` set when sent.
 */
export function ledgerRecord(
  meter: Meter,
  day: string,
  revision: number,
  value: number,
  state: LedgerState,
  at: { periodKey: string; createdAt: string; sentAt: string },
  extra: Partial<LedgerRecord> = {},
): LedgerRecord {
  return {
    customerId: 'acme',
    meter,
    day,
    revision,
    value,
    identifier: meterEventIdentifier({ customerId: 'acme', meter, day, revision }),
    eventName: STRIPE_METERS[meter].eventName,
    timestamp: revisionTimestamp(day, revision),
    periodKey: at.periodKey,
    state,
    attempts: 1,
    createdAt: at.createdAt,
    ...(state === 'sent' ? { sentAt: at.sentAt } : {}),
    runId: 'run-1',
    ...extra,
  };
}
