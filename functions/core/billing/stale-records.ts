import { HOUR_MS } from '../../../contract/clock.js';
import type { LedgerRecord } from '../shared/ports.js';
import { type MeterEventReporter, resendIdentifier, STRIPE_METERS } from './stripe-reporting.js';

/**
 * Records pending past Stripe's identifier window. Stripe dedupes an identifier for 24 hours: within
 * them a resend under the same identifier cannot bill twice; after them it can, if an earlier send was
 * stored and its answer lost. Such a record is first checked against Stripe's meter event summary.
 */

/** How long a record's identifier is trusted to be deduped: Stripe's 24 hours, less an hour until the send. */
export const IDENTIFIER_TRUST_MS = 23 * HOUR_MS;

/** Whether an earlier send of the record may have reached Stripe: it is pending, or failed for a reason that waiting cures. */
export function mayHaveReachedStripe(r: Pick<LedgerRecord, 'state' | 'lastError'>): boolean {
  return r.state === 'pending' || (r.state === 'error' && (r.lastError ?? '').startsWith('failed_transient'));
}

/** Whether Stripe may have forgotten the record's identifier, so resending it under it could bill twice. */
export function identifierExpired(r: LedgerRecord, nowMs: number): boolean {
  return mayHaveReachedStripe(r) && nowMs - Date.parse(r.identifierSince ?? r.createdAt) >= IDENTIFIER_TRUST_MS;
}

/** Records to send now, and records settled from Stripe's summary without a send. */
export interface StaleCheck {
  toSend: LedgerRecord[];
  settled: LedgerRecord[];
  /** The records of `toSend` given a new identifier: to store before they are sent. */
  renewed: LedgerRecord[];
}

/**
 * Checks records whose identifier Stripe may have forgotten before they are sent.
 * - `sum` meters: per minute of timestamps (summaries are minute-aligned; a day's revisions are one
 *   second apart), Stripe's total less what the ledger holds as sent there is what Stripe counted of the
 *   records to send. All of them: settled as sent, not sent again. None: the stale ones get a new
 *   identifier (`resendIdentifier`) and go. Anything else (a part, or a summary that lags) cannot be
 *   told apart: settled in error `stripe_summary_mismatch` for a person (`meter reconcile`).
 * - `last` meters: sent again under a new identifier without asking: Stripe bills the newest event of
 *   the period, and a second copy of the same value at the same second bills the same.
 * A reporter without summaries leaves stale `sum` records in error `stripe_summary_unavailable`.
 * A summary that fails rejects (a transient error): nothing is sent or settled, the records stay pending.
 */
export async function checkStaleRecords(
  records: readonly LedgerRecord[],
  ledger: readonly LedgerRecord[],
  stripeCustomerId: string,
  reporter: Pick<MeterEventReporter, 'counted'>,
  nowMs: number,
): Promise<StaleCheck> {
  const now = new Date(nowMs).toISOString();
  const out: StaleCheck = { toSend: [], settled: [], renewed: [] };
  const renew = (r: LedgerRecord): LedgerRecord => {
    const resends = (r.resends ?? 0) + 1;
    const renewed = { ...r, resends, identifier: resendIdentifier(r.identifier, resends), identifierSince: now };
    out.renewed.push(renewed);
    return renewed;
  };
  const minuteOf = (r: LedgerRecord) => r.timestamp - (r.timestamp % 60);
  const groups = new Map<string, LedgerRecord[]>();
  for (const r of records) {
    if (STRIPE_METERS[r.meter].formula !== 'sum') {
      out.toSend.push(identifierExpired(r, nowMs) ? renew(r) : r);
      continue;
    }
    const key = `${r.meter}|${minuteOf(r)}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  for (const group of groups.values()) {
    const stale = new Set(group.filter((r) => identifierExpired(r, nowMs)));
    if (stale.size === 0) {
      out.toSend.push(...group);
      continue;
    }
    if (!reporter.counted) {
      out.toSend.push(...group.filter((r) => !stale.has(r)));
      out.settled.push(...[...stale].map((r) => ({ ...r, state: 'error' as const, lastError: 'stripe_summary_unavailable' })));
      continue;
    }
    const { meter } = group[0]!;
    const startSec = minuteOf(group[0]!);
    const ids = new Set(group.map((r) => r.identifier));
    const sent = ledger
      .filter((r) => r.meter === meter && r.state === 'sent' && !ids.has(r.identifier) && minuteOf(r) === startSec)
      .reduce((t, r) => t + r.value, 0);
    const countedHere = (await reporter.counted({ meter, stripeCustomerId, startSec, endSec: startSec + 60 })) - sent;
    const toSend = group.reduce((t, r) => t + r.value, 0);
    if (countedHere === toSend) {
      out.settled.push(...group.map((r) => ({ ...r, state: 'sent' as const, sentAt: now, lastError: undefined })));
    } else if (countedHere === 0) {
      out.toSend.push(...group.map((r) => (stale.has(r) ? renew(r) : r)));
    } else {
      out.settled.push(...group.map((r) => ({ ...r, state: 'error' as const, lastError: 'stripe_summary_mismatch' })));
    }
  }
  // In the order given: the sends of one customer and meter go out in it (the newest `last` value last).
  const order = new Map(records.map((r, i) => [`${r.meter}|${r.day}|${r.revision}`, i]));
  const at = (r: LedgerRecord) => order.get(`${r.meter}|${r.day}|${r.revision}`)!;
  for (const list of [out.toSend, out.settled, out.renewed]) list.sort((a, b) => at(a) - at(b));
  return out;
}
