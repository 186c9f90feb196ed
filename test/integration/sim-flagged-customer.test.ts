import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nightly } from '../../cli/commands/nightly.js';
import { DAY_MS, fixedClock, HOUR_MS, utcDay } from '../../contract/clock.js';
import type { Flag } from '../../functions/core/fraud/types.js';
import { incidentWindow, registerSimCustomers } from '../../local/sim-history.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';
import { SIM_CUSTOMERS, startTraffic } from '../../local/traffic.js';

// `npm start` on a Tuesday morning, then `meter nightly` from another terminal: the simulated customers are
// registered as start.ts registers them (sim-spiky with its four weeks of history, sent through the real ingest),
// the live traffic runs a few seconds, and the default close (yesterday) runs through the close queue and worker.
const NOW = Date.parse('2026-03-10T09:00:00Z');
const YESTERDAY = utcDay(NOW - DAY_MS);
const clock = fixedClock(NOW);
const SPIKY = 'sim-spiky';

let stack: LocalStack;
const flagsOf = async (id: string): Promise<Flag[]> => stack.services.flags.forCustomer(id);

beforeAll(async () => {
  stack = await startLocalStack({ clock, consoleDir: false });
}, 120_000);
afterAll(async () => stack?.stop());

describe('the simulated customer built to be flagged', () => {
  it('is flagged for its runaway job at the first `meter nightly`, with a baseline band; no other simulated customer is', async () => {
    // Prepare: register as npm start does, run the live traffic briefly, let the consumer count it all
    const registered = await registerSimCustomers({
      registry: stack.services.registry,
      clock,
      endpoint: stack.url,
      apiKey: stack.ingestKey,
      seed: 1,
    });
    const traffic = startTraffic({ endpoint: stack.url, apiKey: stack.ingestKey, seed: 2, clock });
    await new Promise((r) => setTimeout(r, 3000));
    await traffic.stop();
    await stack.drain(60_000);

    // Act: `meter nightly` with no --date closes yesterday
    const exit = await nightly({ services: stack.services, env: stack.env, local: true }, { json: true });

    // Assess: one flag, sim-spiky's calls during the incident, charted against its own baseline
    expect(registered).toEqual(SIM_CUSTOMERS.map((c) => c.id));
    expect(traffic.emitter.stats().accepted).toBeGreaterThan(0);
    expect(exit).toBe(1); // no simulated customer is mapped to Stripe: their usage is recorded, not billed
    for (const c of SIM_CUSTOMERS.filter((x) => x.id !== SPIKY)) expect([c.id, await flagsOf(c.id)]).toEqual([c.id, []]);
    const flags = await flagsOf(SPIKY);
    expect(flags.map((f) => [f.rule, f.meter, f.status])).toEqual([['volume_spike', 'api_calls', 'open']]);
    const [flag] = flags;
    const incident = incidentWindow(SIM_CUSTOMERS.find((c) => c.id === SPIKY)!, NOW)!;
    expect(Date.parse(flag!.window.from)).toBeLessThanOrEqual(incident.from);
    expect(Date.parse(flag!.window.to)).toBeGreaterThanOrEqual(incident.to);
    expect(utcDay(Date.parse(flag!.window.from))).toBe(YESTERDAY);
    // The hourly chart: exactly the incident's hours flagged, each far above its band
    const hourly = flag!.evidence.series.find((s) => s.granularity === 'hour')!;
    const flaggedHours = hourly.points.filter((p) => p.flagged);
    const incidentHours = [0, 1, 2].map((h) => new Date(incident.from + h * HOUR_MS).toISOString());
    expect(flaggedHours.map((p) => p.t)).toEqual(incidentHours);
    for (const p of flaggedHours) expect(p.observed).toBeGreaterThan(Math.max(p.hi, 4 * p.expected));
    // The daily chart: two weeks of baseline, none of it flagged, up to yesterday
    const daily = flag!.evidence.series.find((s) => s.granularity === 'day')!;
    expect([daily.points.length >= 15, daily.points.at(-1)!.t]).toEqual([true, `${YESTERDAY}T00:00:00.000Z`]);
    expect(daily.points.slice(0, -1).filter((p) => p.flagged)).toEqual([]);
    // The day before, at the same hours, ran inside its band: a baseline, not an empty chart
    const dayBefore = hourly.points.filter((p) => Date.parse(p.t) >= incident.from - DAY_MS && Date.parse(p.t) < incident.to - DAY_MS);
    expect(dayBefore).toHaveLength(3);
    for (const p of dayBefore) expect([p.flagged, p.observed > 0, p.observed <= p.hi]).toEqual([false, true, true]);
    // Its own key and office network, as a runaway job of its own would be: nothing from new places
    expect([flag!.evidence.signals?.newPlaceShare, flag!.evidence.topIpPrefixes?.[0]?.value]).toEqual([0, '198.51.22.0/24']);
  }, 120_000);

  it('sends no history twice: a restart on the same data registers nobody', async () => {
    // Act
    const again = await registerSimCustomers({ registry: stack.services.registry, clock, endpoint: stack.url, apiKey: stack.ingestKey });

    // Assess
    expect(again).toEqual([]);
  });
});
