import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { awaitsSending } from '../../../../functions/core/billing/ledger-settle.js';
import {
  type AsyncErrorReport,
  asyncErrorReportOf,
  ledgerErrorOf,
  recordAsyncErrors,
} from '../../../../functions/core/billing/stripe-async-errors.js';
import { meterEventIdentifier, resendIdentifier } from '../../../../functions/core/billing/stripe-reporting.js';
import type { LedgerRecord } from '../../../../functions/core/shared/ports.js';
import { ledgerRecord } from '../../../fakes/ledger.js';
import { MemoryLedger } from '../../../fakes/memory-ports.js';

const at = { periodKey: '2026-03', createdAt: '2026-03-10T00:30:00Z', sentAt: '2026-03-10T00:31:00Z' };
const NOW = Date.parse('2026-03-10T06:00:00Z');

class KeyedLedger extends MemoryLedger {
  async record(customerId: string, key: Pick<LedgerRecord, 'meter' | 'day' | 'revision'>) {
    return (await this.entries(customerId)).find((r) => r.meter === key.meter && r.day === key.day && r.revision === key.revision);
  }
}

const report = (samples: AsyncErrorReport['samples'], errorCount = samples.length, eventId = 'evt_1'): AsyncErrorReport => ({
  eventId,
  type: 'v1.billing.meter.error_report_triggered',
  errorCount,
  samples,
});

describe('asyncErrorReportOf', () => {
  it("reads Stripe's data.reason: every sample with its type's code, the total count kept", () => {
    const r = asyncErrorReportOf({
      id: 'evt_1',
      type: 'v1.billing.meter.error_report_triggered',
      data: {
        reason: {
          error_count: 7,
          error_types: [
            { code: 'archived_meter', error_count: 5, sample_errors: [{ error_message: 'inactive', request: { identifier: 'a' } }] },
            { code: 'no_meter', error_count: 2, sample_errors: [{ error_message: 'none', request: { identifier: 'b' } }, { request: {} }] },
          ],
        },
      },
    });
    expect(r).toEqual({
      eventId: 'evt_1',
      type: 'v1.billing.meter.error_report_triggered',
      errorCount: 7,
      samples: [
        { code: 'archived_meter', message: 'inactive', identifier: 'a' },
        { code: 'no_meter', message: 'none', identifier: 'b' },
      ],
    });
  });

  it('throws, naming the field, for a payload that is not an error report', () => {
    expect(() => asyncErrorReportOf({ id: 'evt_x', type: 'v1.billing.meter.no_meter_found', data: {} })).toThrow(/data.reason.error_types/);
  });
});

describe('recordAsyncErrors', () => {
  it('marks the sampled records in error under a resendable reason where Stripe names a fixable cause, counts the unsampled', async () => {
    const ledger = new KeyedLedger();
    const recs = [ledgerRecord('api_calls', '2026-03-09', 0, 5, 'sent', at), ledgerRecord('active_users', '2026-03-09', 0, 2, 'sent', at)];
    await ledger.create(recs);
    const out = await recordAsyncErrors(
      report(
        [
          { code: 'meter_event_customer_not_found', message: 'no such customer', identifier: recs[0]!.identifier },
          { code: 'meter_event_value_too_many_digits', message: 'digits', identifier: recs[1]!.identifier },
          { code: 'no_meter', message: 'x', identifier: 'someone-elses-identifier' },
        ],
        5,
      ),
      { ledger },
      NOW,
    );
    expect(out).toEqual({ eventId: 'evt_1', marked: 2, alreadyMarked: 0, unresolved: ['someone-elses-identifier'], unsampled: 2 });
    const [calls, users] = await ledger.entries('acme');
    expect(calls).toMatchObject({
      state: 'error',
      lastError: 'unknown_customer',
      asyncError: { code: 'meter_event_customer_not_found', eventId: 'evt_1' },
    });
    expect(awaitsSending(calls!)).toBe(true);
    expect(users).toMatchObject({ state: 'error', lastError: 'stripe_async:meter_event_value_too_many_digits' });
    expect(awaitsSending(users!)).toBe(false);
  });

  it('marks each record once however often Stripe delivers the event, and never one resent under a newer identifier', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 4 }), async (deliveries) => {
        const ledger = new KeyedLedger();
        const base = ledgerRecord('api_calls', '2026-03-09', 0, 5, 'sent', at);
        const renewed = {
          ...ledgerRecord('api_calls', '2026-03-08', 0, 3, 'sent', at),
          identifier: resendIdentifier(meterEventIdentifier({ customerId: 'acme', meter: 'api_calls', day: '2026-03-08', revision: 0 }), 1),
        };
        await ledger.create([base, renewed]);
        const stale = meterEventIdentifier({ customerId: 'acme', meter: 'api_calls', day: '2026-03-08', revision: 0 });
        const r = report([
          { code: 'archived_meter', message: 'inactive', identifier: base.identifier },
          { code: 'archived_meter', message: 'inactive', identifier: stale },
        ]);
        const outs = [];
        for (let i = 0; i < deliveries; i++) outs.push(await recordAsyncErrors(r, { ledger }, NOW + i));
        expect(outs.reduce((t, o) => t + o.marked, 0)).toBe(1);
        expect(outs.slice(1).every((o) => o.alreadyMarked === 1)).toBe(true);
        expect(outs.every((o) => o.unresolved.length === 1 && o.unresolved[0] === stale)).toBe(true);
        const byDay = Object.fromEntries((await ledger.entries('acme')).map((x) => [x.day, x]));
        expect(byDay['2026-03-09']).toMatchObject({
          state: 'error',
          lastError: 'meter_inactive',
          asyncError: { reportedAt: new Date(NOW).toISOString() },
        });
        expect(byDay['2026-03-08']!.state).toBe('sent');
      }),
      { numRuns: 10 },
    );
  });

  it('maps the fixable codes to the synchronous reasons and keeps any other as stripe_async:<code>', () => {
    expect(
      ['meter_event_customer_not_found', 'meter_event_no_customer_defined', 'no_meter', 'archived_meter', 'timestamp_in_future'].map(
        ledgerErrorOf,
      ),
    ).toEqual(['unknown_customer', 'missing_customer', 'no_meter', 'meter_inactive', 'stripe_async:timestamp_in_future']);
  });
});
