import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MeterEventGuardError } from '../../../../contract/errors.js';
import { GUARD_MAX_FUTURE_SEC, GUARD_MAX_PAST_SEC, guardMeterEvent } from '../../../../functions/core/billing/meter-event-guard.js';
import { sendRecords } from '../../../../functions/core/billing/report-usage.js';
import { MAX_METER_VALUE, type MeterEventToSend, STRIPE_METERS } from '../../../../functions/core/billing/stripe-reporting.js';
import type { LedgerRecord } from '../../../../functions/core/shared/ports.js';
import { checkMeterEvent, significantDigits } from '../../../../local/stripe-test-server/meter-rules.js';
import { StripeState } from '../../../../local/stripe-test-server/state.js';
import { ledgerRecord } from '../../../fakes/ledger.js';
import { MemoryLedger } from '../../../fakes/memory-ports.js';

const NOW_SEC = Date.parse('2026-03-10T12:00:00Z') / 1000;
const EVENT_NAME = STRIPE_METERS.api_calls.eventName;

const event = (over: Partial<MeterEventToSend> = {}): MeterEventToSend => ({
  identifier: 'srn:api:2026-03-09:r0:acme',
  eventName: EVENT_NAME,
  stripeCustomerId: 'cus_acme',
  value: 42,
  timestamp: NOW_SEC - 3_600,
  ...over,
});

/** Whole numbers of more than 15 digits that are still exact in a double (16 digits: 1e15 .. 2^53 - 1), either sign. */
const tooManyDigits = fc
  .bigInt({ min: BigInt(MAX_METER_VALUE) + 1n, max: BigInt(Number.MAX_SAFE_INTEGER) })
  .chain((v) => fc.constantFrom(Number(v), -Number(v)));
const sendableValue = fc.integer({ min: -MAX_METER_VALUE, max: MAX_METER_VALUE });
const plainIdentifier = fc.stringMatching(/^[A-Za-z0-9:._-]{1,100}$/);
const longIdentifier = fc.stringMatching(/^[A-Za-z0-9:._-]{101,300}$/);
const inWindow = fc.integer({ min: NOW_SEC - GUARD_MAX_PAST_SEC, max: NOW_SEC + GUARD_MAX_FUTURE_SEC });
const tooOld = fc.integer({ min: 0, max: NOW_SEC - GUARD_MAX_PAST_SEC - 1 });
const tooFarAhead = fc.integer({ min: NOW_SEC + GUARD_MAX_FUTURE_SEC + 1, max: NOW_SEC + 400 * 86_400 });

describe('guardMeterEvent', () => {
  it('passes every event with a value of at most 15 digits, identifiers of at most 100 characters and a timestamp in the window', () => {
    fc.assert(
      fc.property(sendableValue, plainIdentifier, inWindow, (value, identifier, timestamp) => {
        expect(guardMeterEvent(event({ value, identifier, timestamp }), NOW_SEC)).toBeUndefined();
      }),
    );
  });

  it('refuses a value of more than 15 digits as value_too_many_digits, naming the field', () => {
    fc.assert(
      fc.property(tooManyDigits, (value) => {
        const refused = guardMeterEvent(event({ value }), NOW_SEC);
        expect(refused).toBeInstanceOf(MeterEventGuardError);
        expect(refused?.reason).toBe('value_too_many_digits');
        expect(refused?.errors.map((e) => e.field)).toEqual(['value']);
      }),
    );
  });

  it('refuses an identifier or an event name of more than 100 characters as identifier_too_long', () => {
    fc.assert(
      fc.property(longIdentifier, fc.boolean(), (text, asName) => {
        const refused = guardMeterEvent(event(asName ? { eventName: text } : { identifier: text }), NOW_SEC);
        expect(refused?.reason).toBe('identifier_too_long');
        expect(refused?.errors.map((e) => e.field)).toEqual([asName ? 'eventName' : 'identifier']);
      }),
    );
  });

  it('refuses a timestamp older than 35 days or more than 5 minutes ahead as timestamp_out_of_window', () => {
    fc.assert(
      fc.property(fc.oneof(tooOld, tooFarAhead), (timestamp) => {
        const refused = guardMeterEvent(event({ timestamp }), NOW_SEC);
        expect(refused?.reason).toBe('timestamp_out_of_window');
        expect(refused?.errors.map((e) => e.field)).toEqual(['timestamp']);
      }),
    );
  });

  it('holds the window at its exact edges: 35 days back and 5 minutes ahead pass, one second beyond either does not', () => {
    expect(guardMeterEvent(event({ timestamp: NOW_SEC - GUARD_MAX_PAST_SEC }), NOW_SEC)).toBeUndefined();
    expect(guardMeterEvent(event({ timestamp: NOW_SEC + GUARD_MAX_FUTURE_SEC }), NOW_SEC)).toBeUndefined();
    expect(guardMeterEvent(event({ timestamp: NOW_SEC - GUARD_MAX_PAST_SEC - 1 }), NOW_SEC)?.reason).toBe('timestamp_out_of_window');
    expect(guardMeterEvent(event({ timestamp: NOW_SEC + GUARD_MAX_FUTURE_SEC + 1 }), NOW_SEC)?.reason).toBe('timestamp_out_of_window');
  });

  it('leaves the window to Stripe when no clock is handed in (v1 calls, judged while we wait)', () => {
    expect(guardMeterEvent(event({ timestamp: NOW_SEC - 400 * 86_400 }), undefined)).toBeUndefined();
    expect(guardMeterEvent(event({ value: 2 ** 53 - 1 }), undefined)?.reason).toBe('value_too_many_digits');
  });

  it('calls a fraction or a malformed event invalid_event, not a digit problem', () => {
    expect(guardMeterEvent(event({ value: 1.5 }), NOW_SEC)?.reason).toBe('invalid_event');
    expect(guardMeterEvent(null as unknown as MeterEventToSend, NOW_SEC)?.reason).toBe('invalid_event');
  });
});

describe('sendRecords with the guard', () => {
  const at = { periodKey: '2026-03', createdAt: '2026-03-10T00:30:00Z', sentAt: '2026-03-10T00:31:00Z' };

  it('never sends a record the guard refuses and settles it in error under the rule it breaks; the rest go out', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.constantFrom('good', 'digits', 'old', 'long'), { minLength: 1, maxLength: 12 }), async (kinds) => {
        const ledger = new MemoryLedger();
        const records: LedgerRecord[] = kinds.map((kind, i) => {
          const day = `2026-03-${String(1 + (i % 9)).padStart(2, '0')}`;
          const base = ledgerRecord('api_calls', day, Math.floor(i / 9), 10 + i, 'pending', at, { attempts: 0 });
          if (kind === 'digits') return { ...base, value: 1_000_000_000_000_000 + i };
          if (kind === 'old') return { ...base, timestamp: NOW_SEC - GUARD_MAX_PAST_SEC - 60 };
          if (kind === 'long') return { ...base, identifier: `${base.identifier}:${'x'.repeat(100)}` };
          return base;
        });
        await ledger.create(records);
        const sent: MeterEventToSend[] = [];
        const reporter = {
          report: async (events: readonly MeterEventToSend[]) => {
            sent.push(...events);
            return events.map((e) => ({ identifier: e.identifier, outcome: 'delivered' as const, attempts: 1, via: 'created' as const }));
          },
          counted: async () => 0,
        };
        await sendRecords(records, 'cus_acme', { reporter, ledger }, NOW_SEC * 1000);
        const reasonOf = { digits: 'value_too_many_digits', old: 'timestamp_out_of_window', long: 'identifier_too_long' } as const;
        const stored = await ledger.entries('acme');
        kinds.forEach((kind, i) => {
          const rec = stored.find((r) => r.day === records[i]!.day && r.revision === records[i]!.revision)!;
          if (kind === 'good') {
            expect(rec.state).toBe('sent');
            expect(sent.some((e) => e.identifier === rec.identifier)).toBe(true);
          } else {
            expect([rec.state, rec.lastError]).toEqual(['error', reasonOf[kind]]);
            expect(rec.errorDetail).toMatch(kind === 'old' ? /timestamp/ : kind === 'long' ? /identifier/ : /value/);
            expect(sent.some((e) => e.identifier === rec.identifier)).toBe(false);
          }
        });
      }),
      { numRuns: 50 },
    );
  });
});

describe("the guard against the Stripe test server's own rules", () => {
  // The server's account: our api_calls meter and one customer, so only value, identifier and time can fail.
  const state = new StripeState();
  state.meters.set('mtr_1', {
    id: 'mtr_1',
    created: 0,
    updated: 0,
    displayName: 'api',
    eventName: EVENT_NAME,
    formula: 'sum',
    customerKey: 'stripe_customer_id',
    valueKey: 'value',
    eventTimeWindow: null,
    status: 'active',
    deactivatedAt: null,
  });
  state.customers.set('cus_acme', { id: 'cus_acme', created: 0, email: null, name: null, description: null, metadata: {} });
  const STRIPE_REASON: Record<string, string> = {
    meter_event_value_too_many_digits: 'value_too_many_digits',
    identifier_too_long: 'identifier_too_long',
    event_name_too_long: 'identifier_too_long',
    timestamp_too_far_in_past: 'timestamp_out_of_window',
    timestamp_in_future: 'timestamp_out_of_window',
  };

  it('agrees with Stripe on every event but 16-digit values with trailing zeros, which the guard refuses on purpose', () => {
    const value = fc.oneof(sendableValue, tooManyDigits, fc.constantFrom(10 ** 15, -(10 ** 15), 1_234_567_890_123_450));
    const timestamp = fc.oneof(
      inWindow,
      tooOld,
      tooFarAhead,
      fc.constantFrom(NOW_SEC - GUARD_MAX_PAST_SEC, NOW_SEC + GUARD_MAX_FUTURE_SEC),
    );
    // One rule broken at most: the two check in different orders, so with two broken they may name different ones.
    const oneFault = fc.oneof(
      fc.record({ value, identifier: plainIdentifier, timestamp: inWindow }),
      fc.record({ value: sendableValue, identifier: fc.oneof(plainIdentifier, longIdentifier), timestamp: inWindow }),
      fc.record({ value: sendableValue, identifier: plainIdentifier, timestamp }),
    );
    fc.assert(
      fc.property(oneFault, (e) => {
        const ours = guardMeterEvent(event(e), NOW_SEC);
        // A fresh identifier each time: the server remembers none (nothing is recorded), so no duplicate rule fires.
        const stripe = checkMeterEvent(
          state,
          {
            eventName: EVENT_NAME,
            payload: { stripe_customer_id: 'cus_acme', value: String(e.value) },
            identifier: e.identifier,
            timestampSec: e.timestamp,
          },
          NOW_SEC * 1000,
          'v2_stream',
        );
        if (stripe.ok) {
          // The one disagreement: a 16-digit whole number of at most 15 significant digits (1000000000000000).
          if (ours) {
            expect(ours.reason).toBe('value_too_many_digits');
            expect(String(Math.abs(e.value)).length).toBe(16);
            expect(significantDigits(String(e.value))).toBeLessThanOrEqual(15);
          }
        } else {
          expect(ours?.reason).toBe(STRIPE_REASON[stripe.violation.code]);
        }
      }),
      { numRuns: 2_000 },
    );
  });
});
