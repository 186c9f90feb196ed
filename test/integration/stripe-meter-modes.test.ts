import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runReconcile } from '../../cli/commands/finance.js';
import { fixedClock } from '../../contract/clock.js';
import { type UsageEvent, validateEvent } from '../../contract/event-contract.js';
import { METERS, type Meter } from '../../contract/meters.js';
import type { ReconcileRow } from '../../functions/core/billing/reconcile.js';
import { buildCustomer } from '../../functions/core/shared/customers.js';
import { makePlanner } from '../../functions/handlers/close-planner.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';
import { signatureHeader } from '../../local/stripe-test-server/webhooks.js';

// The same nights closed with STRIPE_METER_MODE=v1 and =v2-stream against the Stripe test server: Stripe's totals
// per customer, meter and period equal what was metered either way. A customer whose Stripe id Stripe does not
// know is refused at once by v1, and by v2 only later, by a signed webhook to POST /v1/stripe/webhooks.
const PERIOD_START = '2026-03-01T00:00:00Z';
const CUSTOMERS = ['mode-a', 'mode-b', 'mode-c', 'mode-d', 'mode-e'];
const GHOST = 'mode-ghost';
const GHOST_STRIPE_ID = 'cus_ghostNotOnStripe';

let seq = 0;
function ev(customer: string, type: string, at: string, data: Record<string, unknown>): UsageEvent {
  const v = validateEvent(
    { specversion: '1.0', type, source: 'test', subject: customer, id: `mm-${seq++}`, time: at, data },
    { now: Date.parse(at) + 1000, newId: () => 'x' },
  );
  if (!v.ok) throw new Error(JSON.stringify(v.errors));
  return v.event;
}

/** The metered truth, kept as the events are made: api calls summed, distinct active users over the period. */
interface Truth {
  calls: Map<string, number>;
  users: Map<string, Set<string>>;
}

async function seedDay(stack: LocalStack, day: string, truth: Truth, clockAt: number): Promise<void> {
  const events: UsageEvent[] = [];
  for (const [i, c] of [...CUSTOMERS, GHOST].entries()) {
    for (let h = 0; h < 3; h++) {
      const q = 1 + ((i * 7 + h * 3 + day.charCodeAt(9)) % 11);
      events.push(ev(c, 'com.serenity.api.call', `${day}T${String(8 + h).padStart(2, '0')}:00:00Z`, { quantity: q }));
      truth.calls.set(c, (truth.calls.get(c) ?? 0) + q);
    }
    for (const u of [`u${i}`, `u${i + 1}`, `${day}-u`]) {
      events.push(ev(c, 'com.serenity.user.active', `${day}T12:00:00Z`, { userId: u }));
      truth.users.set(c, (truth.users.get(c) ?? new Set()).add(u));
    }
  }
  await stack.services.events.put(events, `seed-${day}`, new Date(clockAt).toISOString());
}

/** Plans the night at `at` through the real planner; waits for the stack's close workers to finish it. */
async function closeNight(stack: LocalStack, clock: ReturnType<typeof fixedClock>, at: string) {
  clock.set(at);
  const plan = await makePlanner(stack.functionServices['close-planner'])({});
  const deadline = Date.now() + 60_000;
  for (;;) {
    const run = await stack.services.rollups.getRun(plan.day, plan.runId);
    const through = await stack.services.rollups.closedThrough();
    if ((run?.chunksDone ?? 0) >= plan.chunks && through !== undefined && through >= plan.day) return plan;
    if (Date.now() > deadline) throw new Error(`run ${plan.runId} did not finish`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function modeSuite(mode: 'v1' | 'v2-stream') {
  describe(`STRIPE_METER_MODE=${mode}`, () => {
    const clock = fixedClock('2026-03-02T00:00:00Z');
    const truth: Truth = { calls: new Map(), users: new Map() };
    let stack: LocalStack;
    let stripeIds: Map<string, string>;

    beforeAll(async () => {
      stack = await startLocalStack({ clock, noPoller: false, stripeMeterMode: mode, consoleDir: false });
      const stripe = new Stripe('sk_test_modes', { ...stack.stripeServer!.stripeConfig, maxNetworkRetries: 0 });
      stripeIds = new Map();
      for (const id of [...CUSTOMERS, GHOST]) {
        const stripeCustomerId = id === GHOST ? GHOST_STRIPE_ID : (await stripe.customers.create({ name: id })).id;
        stripeIds.set(id, stripeCustomerId);
        await stack.services.registry.putCustomer(buildCustomer({ id, stripeCustomerId, startedAt: PERIOD_START }, undefined, clock.now()));
      }
      await seedDay(stack, '2026-03-01', truth, clock.now());
      await seedDay(stack, '2026-03-02', truth, clock.now());
      await closeNight(stack, clock, '2026-03-02T00:30:00Z');
      await closeNight(stack, clock, '2026-03-03T00:30:00Z');
      await stack.stripeServer!.webhooks.flush();
    }, 120_000);
    afterAll(async () => stack?.stop());

    it('reports through the switched API only, and Stripe totals per customer, meter and period equal the metered truth', async () => {
      const endpoints = Object.keys(stack.stripeServer!.stats());
      if (mode === 'v1') {
        expect(endpoints).toContain('POST /v1/billing/meter_events');
        expect(endpoints).not.toContain('POST /v2/billing/meter_event_stream');
      } else {
        expect(endpoints).toContain('POST /v2/billing/meter_event_stream');
        expect(endpoints).not.toContain('POST /v1/billing/meter_events');
      }
      const reporter = await stack.closeServices.reporter();
      const meters = await reporter.findMeters();
      const [start, end] = [Date.parse(PERIOD_START) / 1000, Date.parse('2026-03-03T00:30:00Z') / 1000];
      const expected = (c: string, m: Meter) =>
        m === 'api_calls' ? truth.calls.get(c)! : m === 'active_users' ? truth.users.get(c)!.size : 0;
      for (const c of CUSTOMERS)
        for (const m of METERS)
          expect([c, m, await reporter.listEventSummaries(meters[m].id, stripeIds.get(c)!, start, end)]).toEqual([c, m, expected(c, m)]);
      // The ghost's usage is in Stripe under no customer at all.
      expect(stack.stripeServer!.meterEvents({ customerId: GHOST_STRIPE_ID })).toEqual([]);
    });

    it(`ends the unknown Stripe customer's records in error, ${mode === 'v1' ? 'refused while the close waits' : 'marked by the signed webhook'}, and reconcile lists them`, async () => {
      const records = await until(
        () => stack.services.ledger.entries(GHOST),
        (rs) => rs.length > 0 && rs.every((r) => r.state === 'error'),
        'the ghost records in error',
      );
      expect(new Set(records.map((r) => r.lastError))).toEqual(new Set(['unknown_customer']));
      if (mode === 'v1') expect(records.every((r) => r.asyncError === undefined)).toBe(true);
      else {
        expect(records.every((r) => r.asyncError?.code === 'meter_event_customer_not_found')).toBe(true);
        const audit = await stack.services.audit.list('2026-03-03', 500);
        expect(audit.filter((a) => a.action === 'stripe.async_errors').length).toBeGreaterThan(0);
      }
      const res = await fetch(`${stack.url}/v1/reconcile`, {
        method: 'POST',
        headers: { authorization: `Bearer ${stack.adminKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ period: '2026-03', customer: GHOST }),
      });
      expect(res.status).toBe(200);
      const rows = ((await res.json()) as { rows: ReconcileRow[] }).rows.filter((r) => r.meter !== 'protected_files' || r.metered > 0);
      if (mode === 'v1') expect(rows.every((r) => r.status === 'unreported' && r.refusedByStripe === undefined)).toBe(true);
      else {
        expect(rows.map((r) => r.status)).toEqual(rows.map(() => 'refused_by_stripe'));
        const listed = rows.flatMap((r) => r.refusedByStripe!.map((x) => x.identifier)).sort();
        expect(listed).toEqual(records.map((r) => r.identifier).sort());
        expect(rows.flatMap((r) => r.refusedByStripe!).every((x) => x.code === 'meter_event_customer_not_found')).toBe(true);
        // The CLI's reconcile prints them apart, with Stripe's code.
        const printed: string[] = [];
        const spy = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void printed.push(args.join(' ')));
        const exit = await runReconcile(
          { services: stack.services, env: stack.env, local: true },
          { period: '2026-03', customer: GHOST },
        ).finally(() => spy.mockRestore());
        const out = printed.join('\n');
        expect(exit).toBe(1);
        expect(out).toContain('refused by Stripe after accepting (webhook):');
        for (const id of listed) expect(out).toContain(id);
        expect(out).toMatch(/refused_by_stripe/);
      }
    });

    if (mode === 'v2-stream')
      it('refuses a webhook with a tampered or foreign signature with 400 and marks nothing; the genuine one marks', async () => {
        const server = stack.stripeServer!;
        const secret = stack.env.STRIPE_WEBHOOK_SECRET!;
        // Another night, its webhooks held back (one per meter): what would they mark?
        server.webhooks.setEndpoint(null);
        const earlier = server.webhooks.events().length;
        await seedDay(stack, '2026-03-03', truth, clock.now());
        await closeNight(stack, clock, '2026-03-04T00:30:00Z');
        const held = server.webhooks.events().slice(earlier);
        expect(held.map((e) => e.type)).toEqual(held.map(() => 'v1.billing.meter.error_report_triggered'));
        const bodies = held.map(({ data: _data, ...thin }) => JSON.stringify(thin));
        const nowSec = Math.floor(clock.now() / 1000);
        const post = (b: string, signature: string) =>
          fetch(`${stack.url}/v1/stripe/webhooks`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'stripe-signature': signature },
            body: b,
          });
        const before = await stack.services.ledger.entries(GHOST);
        expect(before.filter((r) => r.day === '2026-03-03').map((r) => r.state)).toEqual(['sent', 'sent']);

        for (const [i, body] of bodies.entries()) {
          const altered = await post(body.replace(held[i]!.id, server.webhooks.events()[0]!.id), signatureHeader(body, secret, nowSec));
          const foreign = await post(body, signatureHeader(body, 'whsec_not_ours', nowSec));
          const stale = await post(body, signatureHeader(body, secret, nowSec - 3_600));
          const missing = await fetch(`${stack.url}/v1/stripe/webhooks`, { method: 'POST', body });
          expect([altered.status, foreign.status, stale.status, missing.status]).toEqual([400, 400, 400, 400]);
          expect(((await altered.json()) as { error: string }).error).toMatch(/does not verify/);
        }
        expect(await stack.services.ledger.entries(GHOST)).toEqual(before);

        for (const body of bodies) {
          const genuine = await post(body, signatureHeader(body, secret, nowSec));
          expect(genuine.status).toBe(200);
          expect(await genuine.json()).toMatchObject({ ignored: false, unresolved: [] });
        }
        const after = await stack.services.ledger.entries(GHOST);
        const heldIds = new Set(held.map((e) => e.id));
        expect(
          after.filter((r) => r.day === '2026-03-03').every((r) => r.state === 'error' && heldIds.has(r.asyncError?.eventId ?? '')),
        ).toBe(true);
        // Stripe delivers at least once: the same event again marks nothing new.
        const again = await post(bodies[0]!, signatureHeader(bodies[0]!, secret, nowSec));
        expect(await again.json()).toMatchObject({ marked: 0 });
      });
  });
}

modeSuite('v1');
modeSuite('v2-stream');
