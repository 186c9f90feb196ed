import { describe, expect, it } from 'vitest';
import { asRaised, classifyFlags, heldQuantity, pool, type SeedFigures } from '../../../eval/fraud-figures.js';
import { generateScenario, planInjections, type Scenario, type ScenarioOptions } from '../../../eval/synthetic.js';
import { dailyValue } from '../../../functions/core/fraud/rule-context.js';
import type { Flag } from '../../../functions/core/fraud/types.js';

const OPTIONS: ScenarioOptions = { seed: 5, customers: 40, start: '2026-01-05', days: 40, newAccountDays: [10, 30] };

const flag = (customerId: string, meter: Flag['meter'], from: string, to: string, id: string): Flag =>
  ({
    id,
    customerId,
    rule: 'volume_spike',
    meter,
    window: { from, to },
    score: 0.9,
    severity: 'high',
    status: 'open',
    evidence: { summary: '', observed: 1, expected: 1, signals: {}, series: [] },
    notes: [],
    history: [],
  }) as Flag;

describe('injected quantity', () => {
  it('is, per day, how far the injection moved the meter from the same traffic without it', () => {
    // Prepare: injecting draws from its own random streams, so the traffic without injections is the same traffic
    const injections = planInjections(OPTIONS, { share: 0.1, firstDay: 20, lastDay: 36 });

    // Act
    const dirty = generateScenario({ ...OPTIONS, injections });
    const clean = generateScenario(OPTIONS);

    // Assess
    expect(dirty.labels.length).toBeGreaterThan(10);
    let moved = 0;
    for (const l of dirty.labels) {
      const i = dirty.customers.findIndex((c) => c.customerId === l.customerId);
      const days = dirty.customers[i]!.days;
      const inLabel = days.filter((d) => d.day >= l.from && d.day < l.to);
      expect(Object.keys(l.quantity ?? {})).toEqual(inLabel.map((d) => d.day));
      for (const d of inLabel) {
        const before = clean.customers[i]!.days.find((x) => x.day === d.day)!;
        expect(l.quantity![d.day]).toBe(Math.abs(dailyValue(d, l.meter) - dailyValue(before, l.meter)));
        moved += l.quantity![d.day]!;
      }
    }
    expect(moved).toBeGreaterThan(0);
  });
});

describe('classifyFlags', () => {
  const scenario = {
    customers: [],
    labels: [{ customerId: 'a', pattern: 'volume_spike', meter: 'api_calls', from: '2026-02-02', to: '2026-02-03', detail: {} }],
    benign: [
      { customerId: 'b', kind: 'backfill', day: '2026-02-05' },
      { customerId: 'b', kind: 'levelShift', day: '2026-02-10' },
    ],
  } as unknown as Scenario;

  it('calls a flag on injected days true, one on a backfill of API calls benign, and every other one false', () => {
    // Act
    const sorted = classifyFlags(scenario, [
      flag('a', 'active_users', '2026-02-02T10:00:00.000Z', '2026-02-02T12:00:00.000Z', 'true-any-meter'),
      flag('b', 'api_calls', '2026-02-05T03:00:00.000Z', '2026-02-05T07:00:00.000Z', 'benign'),
      flag('b', 'active_users', '2026-02-05T03:00:00.000Z', '2026-02-05T07:00:00.000Z', 'false-other-meter'),
      flag('b', 'api_calls', '2026-02-06T00:00:00.000Z', '2026-02-07T00:00:00.000Z', 'false-next-day'),
      flag('b', 'api_calls', '2026-02-10T00:00:00.000Z', '2026-02-11T00:00:00.000Z', 'false-level-shift'),
      flag('a', 'api_calls', '2026-02-03T00:00:00.000Z', '2026-02-04T00:00:00.000Z', 'false-day-after'),
    ]);

    // Assess
    expect(sorted.true.map((f) => f.id)).toEqual(['true-any-meter']);
    expect(sorted.benign.map((f) => f.id)).toEqual(['benign']);
    expect(sorted.false.map((f) => f.id)).toEqual(['false-other-meter', 'false-next-day', 'false-level-shift', 'false-day-after']);
  });
});

describe('heldQuantity and pool', () => {
  it('counts only the days a hold of the same customer and meter covers, and pools rates over customer-months', () => {
    // Prepare
    const label = {
      customerId: 'a',
      pattern: 'account_sharing',
      meter: 'active_users',
      from: '2026-02-02',
      to: '2026-02-05',
      detail: {},
      quantity: { '2026-02-02': 10, '2026-02-03': 20, '2026-02-04': 30 },
    } as Scenario['labels'][number];
    const holds = [
      { customerId: 'a', meter: 'active_users' as const, from: '2026-02-03', to: '2026-02-04' },
      { customerId: 'a', meter: 'api_calls' as const, from: '2026-02-01', to: '2026-02-09' },
      { customerId: 'b', meter: 'active_users' as const, from: '2026-02-01', to: '2026-02-09' },
    ];
    const seed = (n: number, falseFlags: number, recall: number, held: number): SeedFigures =>
      ({
        seed: n,
        customerMonths: 50,
        falseFlags,
        benignFlags: 1,
        benignHolds: 0,
        falseHolds: 1,
        quantityByMeter: {
          api_calls: { quantity: 100, held },
          active_users: { quantity: 10, held: 9 },
          protected_files: { quantity: 0, held: 0 },
        },
        patterns: Object.fromEntries(
          ['volume_spike', 'leaked_key', 'account_sharing', 'new_account_surge', 'off_hours_burst', 'end_of_period_gaming'].map((r) => [
            r,
            { injected: 10, caughtWithinOneRun: 10 * recall, shareWithinOneRun: recall, quantity: 1, quantityHeld: 1 },
          ]),
        ),
      }) as unknown as SeedFigures;

    // Act
    const pooled = pool([seed(6, 1, 1, 90), seed(7, 2, 0.8, 50)]);

    // Assess
    expect(heldQuantity(label, holds)).toBe(20);
    expect(pooled.falseFlagsPer100CustomerMonths).toBe(3);
    expect(pooled.benignFlagsPer100CustomerMonths).toBe(2);
    expect(pooled.falseHoldsPer100CustomerMonths).toBe(2);
    expect(pooled.minRecall).toBe(0.8);
    expect(pooled.quantityHeldShareByMeter).toEqual({ api_calls: 0.7, active_users: 0.9, protected_files: null });
    expect(pooled.fraudQuantityHeldShare).toBe(0.7);
  });
});

describe('asRaised', () => {
  it('is the flag before its decision: open, at the highest severity it reached until then', () => {
    // Prepare
    const f: Flag = {
      ...flag('a', 'api_calls', '2026-02-02T10:00:00.000Z', '2026-02-02T12:00:00.000Z', 'f'),
      status: 'dismissed',
      severity: 'medium',
      history: [
        { at: '2026-02-03T00:30:00.000Z', by: 'system', action: 'opened', severity: 'medium' },
        { at: '2026-02-03T00:31:00.000Z', by: 'system', action: 'escalated', severity: 'high' },
        { at: '2026-02-03T09:00:00.000Z', by: 'ana', action: 'dismissed' },
      ],
    };

    // Act
    const raised = asRaised(f);

    // Assess
    expect(raised.status).toBe('open');
    expect(raised.severity).toBe('high');
    expect(asRaised({ ...f, history: [] })).toEqual({ ...f, history: [] });
  });
});
