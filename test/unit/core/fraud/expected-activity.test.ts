import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../../contract/errors.js';
import type { Meter } from '../../../../contract/meters.js';
import {
  DEFAULT_EXPECTED_RULES,
  ExpectedActivityWithdrawnError,
  expectedActivityOf,
  setAsideExpected,
  withdrawExpectedActivity,
} from '../../../../functions/core/fraud/expected-activity.js';
import type { Detection, FraudRule } from '../../../../functions/core/fraud/types.js';

const NOW = Date.parse('2026-03-09T10:00:00Z');
const ctx = { id: 'exp-1', customerId: 'cus-1', createdBy: 'ana', now: NOW };

function detection(
  from: string,
  to: string,
  rule: FraudRule = 'volume_spike',
  meter: Meter = 'api_calls',
  customerId = 'cus-1',
): Detection {
  return {
    customerId,
    rule,
    meter,
    window: { from, to },
    score: 0.9,
    severity: 'high',
    evidence: { summary: 's', observed: 1, expected: 1, signals: {}, series: [] },
  };
}

describe('expected activity', () => {
  it('makes the record with the volume rules and every meter by default, stamped with who and when', () => {
    // Act
    const e = expectedActivityOf({ from: '2026-03-10T00:00:00Z', to: '2026-03-12T00:00:00Z', reason: '  reindexing their archive ' }, ctx);

    // Assess
    expect(e).toEqual({
      id: 'exp-1',
      customerId: 'cus-1',
      from: '2026-03-10T00:00:00.000Z',
      to: '2026-03-12T00:00:00.000Z',
      rules: [...DEFAULT_EXPECTED_RULES],
      meters: ['api_calls', 'active_users', 'protected_files'],
      reason: 'reindexing their archive',
      createdBy: 'ana',
      createdAt: '2026-03-09T10:00:00.000Z',
    });
  });

  it('reports every problem at once, by field, and never stores a card number', () => {
    // Act
    const problems = (body: Record<string, unknown>) => {
      try {
        expectedActivityOf(body, ctx);
        return [];
      } catch (err) {
        expect(err).toBeInstanceOf(ValidationError);
        return (err as ValidationError).errors.map((e) => `${e.field}: ${e.message}`);
      }
    };

    // Assess
    expect(
      problems({ from: 'yesterday', to: '2026-03-12T00:00:00Z', rules: ['volume_spike', 'bogus'], meters: [], reason: '', who: 'me' }),
    ).toEqual([
      'who: unknown field',
      'from: must be an ISO-8601 instant with its offset (Z or ±hh:mm), e.g. 2026-03-09T00:00:00Z',
      'rules: unknown: bogus; must be among volume_spike, leaked_key, account_sharing, new_account_surge, off_hours_burst, end_of_period_gaming',
      'meters: must be a non-empty list of api_calls, active_users, protected_files',
      'reason: is required: say what the customer expects',
    ]);
    expect(problems({ from: '2026-03-12T00:00:00Z', to: '2026-03-10T00:00:00Z', reason: 'x' })).toEqual(['to: must be after from']);
    expect(problems({ from: '2026-03-10T00:00:00', to: '2026-03-11T01:00:00+01:00', reason: 'x' })).toEqual([
      'from: must be an ISO-8601 instant with its offset (Z or ±hh:mm), e.g. 2026-03-09T00:00:00Z',
    ]);
    expect(problems({ from: '2026-03-01T00:00:00Z', to: '2026-03-09T09:00:00Z', reason: 'x' })).toEqual([
      'to: must be in the future: expecting the past changes nothing',
    ]);
    expect(problems({ from: '2026-03-10T00:00:00Z', to: '2026-04-11T00:00:00Z', reason: 'x' })).toEqual([
      'to: must be at most 31 days after from',
    ]);
    expect(problems({ from: '2026-03-10T00:00:00Z', to: '2026-03-11T00:00:00Z', reason: 'card 4242 4242 4242 4242' })).toEqual([
      'reason: looks like it holds a payment card number; it is refused and not stored',
    ]);
  });

  it('sets aside only what lies wholly inside an expectation of the same customer, naming its rule and meter', () => {
    // Prepare: volume rules on api_calls, 10-12 March
    const e = expectedActivityOf(
      { from: '2026-03-10T00:00:00Z', to: '2026-03-12T00:00:00Z', meters: ['api_calls'], reason: 'backfill' },
      ctx,
    );
    const inside = detection('2026-03-10T20:00:00.000Z', '2026-03-11T02:00:00.000Z');
    const offHours = detection('2026-03-11T01:00:00.000Z', '2026-03-11T03:00:00.000Z', 'off_hours_burst');
    const spills = detection('2026-03-11T00:00:00.000Z', '2026-03-12T01:00:00.000Z');
    const leak = detection('2026-03-10T00:00:00.000Z', '2026-03-11T00:00:00.000Z', 'leaked_key');
    const users = detection('2026-03-10T09:00:00.000Z', '2026-03-10T12:00:00.000Z', 'volume_spike', 'active_users');
    const other = detection('2026-03-10T09:00:00.000Z', '2026-03-10T12:00:00.000Z', 'volume_spike', 'api_calls', 'cus-2');

    // Act
    const { flagged, expected } = setAsideExpected([inside, offHours, spills, leak, users, other], [e]);

    // Assess
    expect(expected).toEqual([
      { detection: inside, expectedActivityId: 'exp-1' },
      { detection: offHours, expectedActivityId: 'exp-1' },
    ]);
    expect(flagged).toEqual([spills, leak, users, other]);
  });

  it('sets nothing aside once withdrawn, and refuses a second withdrawal naming the first', () => {
    // Prepare
    const e = expectedActivityOf({ from: '2026-03-10T00:00:00Z', to: '2026-03-12T00:00:00Z', reason: 'backfill' }, ctx);
    const inside = detection('2026-03-10T20:00:00.000Z', '2026-03-10T22:00:00.000Z');

    // Act
    const withdrawn = withdrawExpectedActivity(e, { by: 'bo', at: '2026-03-10T08:00:00.000Z' });
    const { flagged, expected } = setAsideExpected([inside], [withdrawn]);

    // Assess
    expect(withdrawn).toEqual({ ...e, withdrawnBy: 'bo', withdrawnAt: '2026-03-10T08:00:00.000Z' });
    expect([flagged, expected]).toEqual([[inside], []]);
    expect(() => withdrawExpectedActivity(withdrawn, { by: 'cy', at: '2026-03-10T09:00:00.000Z' })).toThrow(ExpectedActivityWithdrawnError);
    expect(() => withdrawExpectedActivity(withdrawn, { by: 'cy', at: '2026-03-10T09:00:00.000Z' })).toThrow(
      'already withdrawn by bo at 2026-03-10T08:00:00.000Z',
    );
  });
});
