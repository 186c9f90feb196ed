import { describe, expect, it } from 'vitest';
import { detectFraud } from '../../../../functions/core/fraud/detect-fraud.js';
import { holdsFromFlags } from '../../../../functions/core/fraud/holds.js';
import { openFlag } from '../../../../functions/core/fraud/merge-flags.js';
import { severityByEvidence } from '../../../../functions/core/fraud/severity-by-evidence.js';
import type { Detection } from '../../../../functions/core/fraud/types.js';
import { addCalls, addPlaces, cleanDays, copyDays, inputOf, runRule, utcHourOf } from '../../../fakes/fraud-fixtures.js';

const DAY = 35;
const clean = cleanDays(DAY + 1);
const AT = '2026-02-10T01:00:00.000Z';

/** The clean days with a burst the size of the busy hour at 03:00 local on the scored day. */
function nightBurst() {
  const days = copyDays(clean);
  const busy = Math.max(...days[DAY - 1]!.apiCalls, ...days[DAY - 3]!.apiCalls);
  addCalls(days[DAY]!, utcHourOf(3), busy);
  return { days, busy };
}

const newPrefixes = (n: number) => Array.from({ length: n }, (_, i) => ({ prefix: `198.51.${100 + i}.0/24`, country: 'NL' }));

describe('severityByEvidence', () => {
  it("holds a night burst from the customer's usual prefixes at medium, so it is flagged and billed, and says why", () => {
    // Prepare
    const { days } = nightBurst();

    // Act
    const raw = runRule('off_hours_burst', inputOf(days));
    const found = detectFraud(inputOf(days)).filter((d) => d.rule === 'off_hours_burst');

    // Assess
    expect(raw[0]!.severity).toBe('high');
    expect(found).toHaveLength(1);
    expect(found[0]!.severity).toBe('medium');
    expect(found[0]!.score).toBe(raw[0]!.score);
    expect(found[0]!.evidence.signals.severityAdjusted).toBe(-1);
    expect(found[0]!.evidence.summary).toMatch(/usual IP prefixes/);
    expect(holdsFromFlags(found.map((d) => openFlag(d, AT)))).toEqual([]);
  });

  it("keeps the same burst high, and holds it, when a third of the day's calls came from new prefixes", () => {
    // Prepare
    const { days, busy } = nightBurst();
    const dayCalls = days[DAY]!.apiCalls.reduce((a, b) => a + b, 0);
    addPlaces(days[DAY]!.keys[0]!, newPrefixes(6), Math.ceil(dayCalls / 12), [utcHourOf(3)]);

    // Act
    const found = detectFraud(inputOf(days)).filter((d) => d.rule === 'off_hours_burst');

    // Assess
    expect(busy).toBeGreaterThan(0);
    expect(found).toHaveLength(1);
    expect(found[0]!.severity).toBe('high');
    expect(found[0]!.evidence.signals.newPlaceShare).toBeGreaterThanOrEqual(0.2);
    expect(holdsFromFlags(found.map((d) => openFlag(d, AT)))).toHaveLength(1);
  });

  it('raises a call spike one level when its day came from new prefixes, and leaves other rules and meters alone', () => {
    // Prepare
    const spike = (meter: Detection['meter'], rule: Detection['rule'], newPlaceShare: number): Detection => ({
      customerId: 'cus-1',
      rule,
      meter,
      window: { from: '2026-02-09T10:00:00.000Z', to: '2026-02-09T13:00:00.000Z' },
      score: 0.75,
      severity: 'medium',
      evidence: {
        summary: 'api_calls in 3 hour(s) was 9000 against 1000 expected (9x)',
        observed: 9000,
        expected: 1000,
        signals: { newPlaceShare },
        series: [],
      },
    });

    // Act
    const fromNew = severityByEvidence(spike('api_calls', 'volume_spike', 0.35));
    const fromUsual = severityByEvidence(spike('api_calls', 'volume_spike', 0.05));
    const users = severityByEvidence(spike('active_users', 'volume_spike', 0.9));
    const key = severityByEvidence(spike('api_calls', 'leaked_key', 0.9));

    // Assess
    expect(fromNew.severity).toBe('high');
    expect(fromNew.evidence.summary).toBe(
      "api_calls in 3 hour(s) was 9000 against 1000 expected (9x); raised to high: 35 % of the day's calls came from new IP prefixes",
    );
    expect(fromNew.evidence.signals.severityAdjusted).toBe(1);
    expect(fromUsual).toEqual(spike('api_calls', 'volume_spike', 0.05));
    expect(users).toEqual(spike('active_users', 'volume_spike', 0.9));
    expect(key).toEqual(spike('api_calls', 'leaked_key', 0.9));
  });

  it("raises an end-of-period drop one level, so a medium one holds the period's protected files, and says why", () => {
    // Prepare
    const drop = (severity: Detection['severity']): Detection => ({
      customerId: 'cus-1',
      rule: 'end_of_period_gaming',
      meter: 'protected_files',
      window: { from: '2026-02-26T00:00:00.000Z', to: '2026-02-27T00:00:00.000Z' },
      score: 0.7,
      severity,
      evidence: {
        summary: 'protected files fell from 2000 to 1000 (50 %) with the period ending 2026-02-28T00:00:00.000Z',
        observed: 1000,
        expected: 2000,
        signals: {},
        series: [],
      },
    });

    // Act
    const medium = severityByEvidence(drop('medium'));
    const low = severityByEvidence(drop('low'));
    const high = severityByEvidence(drop('high'));

    // Assess
    expect(medium.severity).toBe('high');
    expect(medium.score).toBe(0.7);
    expect(medium.evidence.signals.severityAdjusted).toBe(1);
    expect(medium.evidence.summary).toMatch(/^protected files fell .*; raised to high: protected files bill at the period's last count/);
    expect(holdsFromFlags([openFlag(medium, AT)])).toEqual([
      { customerId: 'cus-1', meter: 'protected_files', from: '2026-02-26', to: '2026-02-27' },
    ]);
    expect(low.severity).toBe('medium');
    expect(holdsFromFlags([openFlag(low, AT)])).toEqual([]);
    expect(high).toEqual(drop('high'));
  });
});
