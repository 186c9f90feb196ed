import { describe, expect, it } from 'vitest';
import { holdsFromFlags } from '../../../../functions/core/fraud/holds.js';
import { learnFromDecisions } from '../../../../functions/core/fraud/learn-from-decisions.js';
import { mergeFlags, openFlag } from '../../../../functions/core/fraud/merge-flags.js';
import { reviewFlag } from '../../../../functions/core/fraud/review-flag.js';
import type { Detection, FlagSeverity } from '../../../../functions/core/fraud/types.js';

const AT = '2026-03-01T09:00:00.000Z';
const detection = (
  day: string,
  severity: FlagSeverity,
  rule: Detection['rule'] = 'volume_spike',
  meter: Detection['meter'] = 'api_calls',
): Detection => ({
  customerId: 'cus-1',
  rule,
  meter,
  window: { from: `${day}T02:00:00.000Z`, to: `${day}T06:00:00.000Z` },
  score: severity === 'high' ? 0.9 : severity === 'medium' ? 0.75 : 0.55,
  severity,
  evidence: {
    summary: `${meter} in 4 hour(s) was 9000 against 1000 expected (9x)`,
    observed: 9000,
    expected: 1000,
    signals: {},
    series: [],
  },
});
const decided = (d: Detection, decision: 'confirm' | 'dismiss') =>
  reviewFlag(openFlag(d, AT), { decision, note: 'checked with the customer', reviewer: 'ana', at: AT });

describe('learnFromDecisions', () => {
  it('flags a dismissed pattern seen again within 14 days low, as seen before, so it does not hold', () => {
    // Prepare
    const dismissed = decided(detection('2026-03-01', 'high'), 'dismiss');

    // Act
    const [again] = learnFromDecisions([dismissed], [detection('2026-03-10', 'high')]);
    const merged = mergeFlags([dismissed], [detection('2026-03-10', 'high')], AT);

    // Assess
    expect(again!.severity).toBe('low');
    expect(again!.score).toBe(0.9);
    expect(again!.evidence.signals.seenBefore).toBe(1);
    expect(again!.evidence.summary).toMatch(/seen before: a similar flag from 2026-03-01 was dismissed, so it is low and does not hold$/);
    expect(merged.created).toHaveLength(1);
    expect(merged.created[0]!.severity).toBe('low');
    expect(holdsFromFlags(merged.created)).toEqual([]);
  });

  it('leaves alone what the dismissal does not cover: after 14 days, a louder detection, another meter or rule, another customer', () => {
    // Prepare
    const dismissed = decided(detection('2026-03-01', 'medium'), 'dismiss');
    const other = { ...detection('2026-03-05', 'medium'), customerId: 'cus-2' };
    const cases = [
      detection('2026-03-17', 'medium'),
      detection('2026-03-05', 'high'),
      detection('2026-03-05', 'medium', 'volume_spike', 'active_users'),
      detection('2026-03-05', 'medium', 'off_hours_burst'),
      other,
    ];

    // Act
    const out = learnFromDecisions([dismissed], cases);

    // Assess
    expect(out).toEqual(cases);
  });

  it("raises a customer's later detections of a rule an analyst confirmed, so a medium one holds", () => {
    // Prepare
    const confirmed = decided(detection('2026-03-01', 'high', 'leaked_key'), 'confirm');

    // Act
    const [later] = learnFromDecisions([confirmed], [detection('2026-03-20', 'medium', 'leaked_key')]);
    const [otherRule] = learnFromDecisions([confirmed], [detection('2026-03-20', 'medium')]);

    // Assess
    expect(later!.severity).toBe('high');
    expect(later!.evidence.signals.confirmedBefore).toBe(1);
    expect(later!.evidence.summary).toMatch(/raised to high: a leaked_key flag of this customer from 2026-03-01 was confirmed as fraud$/);
    expect(holdsFromFlags([openFlag(later!, AT)])).toHaveLength(1);
    expect(otherRule!.severity).toBe('medium');
  });
});
