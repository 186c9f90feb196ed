import { describe, expect, it } from 'vitest';
import { createRandom, derive } from '../../../eval/prng.js';
import { generateScenario, planInjections, type ScenarioOptions } from '../../../eval/synthetic.js';
import { periodContaining } from '../../../functions/core/close/billing-period.js';
import { validateFraudInput } from '../../../functions/core/fraud/fraud-input.js';
import { FRAUD_RULES } from '../../../functions/core/fraud/types.js';

const OPTIONS: ScenarioOptions = { seed: 11, customers: 40, start: '2026-01-05', days: 40, newAccountDays: [10, 30] };
const PLAN = { share: 0.1, firstDay: 20, lastDay: 36 };

describe('generateScenario', () => {
  it('is deterministic for a seed, and another seed gives other traffic', () => {
    // Prepare
    const injections = planInjections(OPTIONS, PLAN);

    // Act
    const a = generateScenario({ ...OPTIONS, injections });
    const b = generateScenario({ ...OPTIONS, injections });
    const c = generateScenario({ ...OPTIONS, seed: 12, injections: planInjections({ ...OPTIONS, seed: 12 }, PLAN) });

    // Assess
    expect(b).toEqual(a);
    expect(planInjections(OPTIONS, PLAN)).toEqual(injections);
    expect(c.customers[0]!.days[0]!.apiCalls).not.toEqual(a.customers[0]!.days[0]!.apiCalls);
  });

  it('injects every pattern into distinct customers, with ground truth inside the simulated days', () => {
    // Prepare
    const injections = planInjections(OPTIONS, PLAN);

    // Act
    const s = generateScenario({ ...OPTIONS, injections });

    // Assess: 4 of each pattern, one pattern per customer, labels within the span.
    expect(FRAUD_RULES.map((r) => s.labels.filter((l) => l.pattern === r).length)).toEqual([4, 4, 4, 4, 4, 4]);
    expect(new Set(s.labels.map((l) => l.customerId)).size).toBe(s.labels.length);
    for (const l of s.labels) {
      const c = s.customers.find((x) => x.customerId === l.customerId)!;
      expect(c.days.some((d) => d.day === l.from)).toBe(true);
      expect(l.from < l.to).toBe(true);
    }
    const surged = s.labels
      .filter((l) => l.pattern === 'new_account_surge')
      .map((l) => s.customers.find((c) => c.customerId === l.customerId)!);
    expect(surged.every((c) => c.onboarding.length === 0 && Date.parse(c.createdAt) >= Date.parse('2026-01-05'))).toBe(true);
  });

  it('changes only the injected customers, and every night of every customer is valid input', () => {
    // Prepare
    const injections = planInjections(OPTIONS, PLAN);
    const clean = generateScenario(OPTIONS);

    // Act
    const injected = generateScenario({ ...OPTIONS, injections });

    // Assess
    const touched = new Set(injected.labels.map((l) => l.customerId));
    injected.customers.forEach((c, i) => {
      if (!touched.has(c.customerId)) expect(c).toEqual(clean.customers[i]);
      else expect(c.days).not.toEqual(clean.customers[i]!.days);
      const last = c.days[c.days.length - 1]!;
      expect(() =>
        validateFraudInput({
          customerId: c.customerId,
          day: last.day,
          createdAt: c.createdAt,
          period: periodContaining(Date.parse(`${last.day}T00:00:00Z`), c.anchorDay),
          days: c.days,
        }),
      ).not.toThrow();
    });
  });
});

describe('createRandom', () => {
  it('repeats its stream for a seed and separates streams by label', () => {
    // Prepare
    const draw = (seed: number) => {
      const r = createRandom(seed);
      return [r.next(), r.poisson(3), r.poisson(500), r.gammaMean1(0.5), r.logUniform(2, 20)];
    };

    // Act / Assess
    expect(draw(derive(1, 'a'))).toEqual(draw(derive(1, 'a')));
    expect(draw(derive(1, 'a'))).not.toEqual(draw(derive(1, 'b')));
    const xs = draw(derive(2, 'c'));
    expect(xs[4]).toBeGreaterThanOrEqual(2);
    expect(xs[4]).toBeLessThan(20);
  });
});
