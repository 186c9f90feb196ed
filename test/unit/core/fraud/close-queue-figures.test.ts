import { describe, expect, it } from 'vitest';
import { closeFraudStep } from '../../../../functions/core/fraud/close-fraud-step.js';
import type { CustomerActivityDay } from '../../../../functions/core/fraud/types.js';
import { addCalls, cleanDays, copyDays, isoAt, START, utcHourOf } from '../../../fakes/fraud-fixtures.js';
import { MemoryFlagStore } from '../../../fakes/memory-ports.js';

describe('the close stores the queue figures with a flag', () => {
  it('sets heldQuantity from the flagged days and escalateBy from the anchor and grace', async () => {
    // Prepare: a 5x midday hour on a Wednesday, as in the volume_spike rule test.
    const wednesday = 37;
    const days = copyDays(cleanDays(wednesday + 1));
    const h = utcHourOf(13);
    addCalls(days[wednesday]!, h, days[wednesday]!.apiCalls[h]! * 4);
    const byDay = new Map(days.map((d) => [d.day, d as CustomerActivityDay]));
    const flags = new MemoryFlagStore();
    const customer = { id: 'cus-1', createdAt: `${START}T00:00:00.000Z` };
    const day = days[wednesday]!.day;
    const deps = { activity: async () => byDay, flags, queueFigures: { invoiceGraceMs: 3_600_000 } };

    // Act
    const night = await closeFraudStep(customer, [day], 1, deps, Date.parse(isoAt(wednesday + 1, 0.5)));

    // Assess: the flag's one UTC day, its calls summed; the deadline the earliest of 35 days and the month's end + 1 h.
    const flag = night.created[0]!;
    expect(flag.rule).toBe('volume_spike');
    expect(flag.heldQuantity).toBe(days[wednesday]!.apiCalls.reduce((a, b) => a + b, 0));
    const stripe = Date.parse(`${day}T00:00:00.000Z`) + 35 * 86_400_000;
    const d = new Date(`${day}T00:00:00.000Z`);
    const monthEnd = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) + 3_600_000;
    expect(flag.escalateBy).toBe(new Date(Math.min(stripe, monthEnd)).toISOString());
    expect((await flags.get(flag.id))!.heldQuantity).toBe(flag.heldQuantity);

    // A late event on that day: the rerun leaves the flag's window alone but refreshes its quantity.
    addCalls(days[wednesday]!, 2, 7);
    const rerun = await closeFraudStep(customer, [day], 1, deps, Date.parse(isoAt(wednesday + 2, 0.5)));
    expect(rerun.created).toEqual([]);
    expect((await flags.get(flag.id))!.heldQuantity).toBe(flag.heldQuantity! + 7);
  });
});
