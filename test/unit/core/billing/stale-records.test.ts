import { describe, expect, it } from 'vitest';
import type { Meter } from '../../../../contract/meters.js';
import { checkStaleRecords, IDENTIFIER_TRUST_MS, identifierExpired } from '../../../../functions/core/billing/stale-records.js';
import type { CountedQuery } from '../../../../functions/core/billing/stripe-reporting.js';
import type { LedgerState } from '../../../../functions/core/shared/ports.js';
import { ledgerRecord } from '../../../fakes/ledger.js';

const CREATED = '2026-03-11T00:30:00.000Z';
const AT = { periodKey: '2026-03', createdAt: CREATED, sentAt: CREATED };
const LATER = Date.parse(CREATED) + 25 * 3_600_000;
const rec = (meter: Meter, revision: number, value: number, state: LedgerState = 'pending') =>
  ledgerRecord(meter, '2026-03-10', revision, value, state, AT);
/** A reporter whose Stripe holds `total` in every minute asked, recording the questions. */
const stripeHolding = (total: number) => {
  const asked: CountedQuery[] = [];
  const counted = async (q: CountedQuery) => {
    asked.push(q);
    return total;
  };
  return { asked, counted };
};

describe('identifierExpired', () => {
  it('trusts an identifier for 23 hours after it was given, for records that may have reached Stripe only', () => {
    // Act / Assess
    const r = rec('api_calls', 0, 5);
    expect(identifierExpired(r, Date.parse(CREATED) + IDENTIFIER_TRUST_MS - 1)).toBe(false);
    expect(identifierExpired(r, Date.parse(CREATED) + IDENTIFIER_TRUST_MS)).toBe(true);
    expect(identifierExpired({ ...r, identifierSince: new Date(LATER - 1000).toISOString() }, LATER)).toBe(false);
    expect(identifierExpired({ ...r, state: 'error', lastError: 'unknown_customer' }, LATER)).toBe(false);
  });
});

describe('checkStaleRecords', () => {
  it('sends records inside their window untouched, without asking Stripe', async () => {
    // Prepare
    const stripe = stripeHolding(0);
    // Act
    const out = await checkStaleRecords([rec('api_calls', 0, 5)], [], 'cus_1', stripe, Date.parse(CREATED) + 3_600_000);
    // Assess
    expect(out.toSend.map((r) => r.identifier)).toEqual(['srn:api:2026-03-10:r0:acme']);
    expect([out.settled, out.renewed, stripe.asked]).toEqual([[], [], []]);
  });

  it('asks for the minute of the timestamps, less what the ledger holds as sent there', async () => {
    // Prepare: revision 0 (7) was sent; revision 1 (5) is stale; Stripe holds 12 in that minute
    const sent = rec('api_calls', 0, 7, 'sent');
    const stale = rec('api_calls', 1, 5);
    const stripe = stripeHolding(12);
    // Act
    const out = await checkStaleRecords([stale], [sent, stale], 'cus_1', stripe, LATER);
    // Assess: counted, settled as sent
    expect(stripe.asked).toEqual([
      { meter: 'api_calls', stripeCustomerId: 'cus_1', startSec: stale.timestamp - 1, endSec: stale.timestamp + 59 },
    ]);
    expect(out.settled.map((r) => [r.revision, r.state])).toEqual([[1, 'sent']]);
    expect(out.toSend).toEqual([]);
  });

  it('leaves a part counted (or a lagging summary) in error for a person, sending nothing', async () => {
    // Act: two stale revisions of 5 and 3; Stripe holds 3 of them
    const out = await checkStaleRecords([rec('api_calls', 0, 5), rec('api_calls', 1, 3)], [], 'cus_1', stripeHolding(5 - 2), LATER);
    // Assess
    expect(out.settled.map((r) => [r.revision, r.state, r.lastError])).toEqual([
      [0, 'error', 'stripe_summary_mismatch'],
      [1, 'error', 'stripe_summary_mismatch'],
    ]);
    expect(out.toSend).toEqual([]);
  });

  it('resends a last meter under a new identifier without asking: the newest value bills the same twice', async () => {
    // Prepare
    const stripe = stripeHolding(0);
    // Act
    const once = await checkStaleRecords([rec('active_users', 0, 4)], [], 'cus_1', stripe, LATER);
    const twice = await checkStaleRecords(once.toSend, [], 'cus_1', stripe, LATER + 2 * 86_400_000);
    // Assess
    expect(once.toSend.map((r) => [r.identifier, r.resends])).toEqual([['srn:users:2026-03-10:r0:acme:g1', 1]]);
    expect(twice.toSend.map((r) => r.identifier)).toEqual(['srn:users:2026-03-10:r0:acme:g2']);
    expect(once.renewed).toEqual(once.toSend);
    expect(stripe.asked).toEqual([]);
  });

  it('sends nothing stale when it cannot ask Stripe: the record is left in error, visibly', async () => {
    // Act
    const out = await checkStaleRecords([rec('api_calls', 0, 5)], [], 'cus_1', {}, LATER);
    // Assess
    expect(out.settled.map((r) => [r.state, r.lastError])).toEqual([['error', 'stripe_summary_unavailable']]);
    expect(out.toSend).toEqual([]);
  });

  it('keeps records pending when the summary call fails: it rejects, nothing is settled', async () => {
    // Act / Assess
    const failing = { counted: async () => Promise.reject(new Error('Stripe 503')) };
    await expect(checkStaleRecords([rec('api_calls', 0, 5)], [], 'cus_1', failing, LATER)).rejects.toThrow('Stripe 503');
  });
});
