import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS, fixedClock, utcDay } from '../../contract/clock.js';
import { makePlanner } from '../../functions/handlers/close-planner.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';
import { post } from '../fakes/events.js';

// Defect 17: customers registered today with four weeks of usage history (go-live, a migration) were taken for new
// accounts, so only new_account_surge ran, against no peers: an established account's spike or leaked key went
// unflagged. Here both are registered today through POST /v1/customers, their history is backfilled over HTTP, and
// the real nightly close of yesterday runs: one gave its start, the other's start is its earliest usage.
const TODAY = '2026-03-10';
const YESTERDAY = '2026-03-09';
const HISTORY_DAYS = 28;
const clock = fixedClock(`${TODAY}T06:00:00Z`);
const addDays = (day: string, n: number) => utcDay(Date.parse(`${day}T00:00:00Z`) + n * DAY_MS);
const OFFICE = [8, 9, 10, 11, 12, 13, 14, 15, 16, 17];
const COUNTRIES = ['RU', 'CN', 'BR', 'IN', 'VN', 'NG', 'ID', 'TR', 'IR', 'PK', 'UA', 'KP'];

let stack: LocalStack;
let seq = 0;

/** One API call event of `customer` at `day` `hour`:10, from `ip` in `country`. */
function call(customer: string, day: string, hour: number, quantity: number, ip = '203.0.113.7', country = 'DE') {
  return {
    specversion: '1.0',
    type: 'com.serenity.api.call',
    source: 'local',
    subject: customer,
    id: `cs-${seq++}`,
    time: `${day}T${String(hour).padStart(2, '0')}:10:00Z`,
    data: { quantity, apiKeyId: 'k1', clientIp: ip, country },
  };
}

/** A steady office day: about 1,000 calls an hour (800-1,200), 08-18 UTC, from the customer's one office. */
const steadyDay = (customer: string, day: string) => OFFICE.map((h) => call(customer, day, h, 800 + ((seq * 37) % 401)));

async function admin(method: string, path: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${stack.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${stack.adminKey}` },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function ingest(events: unknown[]) {
  const res = await post(stack.url, stack.ingestKey, events);
  expect([res.status, res.body.rejected]).toEqual([202, []]);
}

/** The nightly close of `day` at 00:30 the morning after: the real planner, close queue and worker. */
async function nightly(day: string) {
  clock.set(Date.parse(`${day}T00:30:00Z`) + DAY_MS);
  const plan = await makePlanner(stack.functionServices['close-planner'])({ day });
  const deadline = Date.now() + 60_000;
  for (;;) {
    const run = await stack.services.rollups.getRun(day, plan.runId);
    if ((run?.chunksDone ?? 0) >= plan.chunks) return run!;
    if (Date.now() > deadline) throw new Error(`close run ${plan.runId} of ${day} not done: ${JSON.stringify(run)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  stack = await startLocalStack({ clock });
}, 120_000);
afterAll(async () => stack?.stop());

describe("a customer's start (defect 17)", () => {
  it('registered today with four weeks of backfilled history, an established account: its spike and its leaked key are flagged', async () => {
    // Prepare: both registered today through the API, one with its start, the other without
    const first = addDays(YESTERDAY, -HISTORY_DAYS);
    const spiky = await admin('POST', '/v1/customers', { customerId: 'spiky-co', startedAt: first });
    const leaky = await admin('POST', '/v1/customers', { customerId: 'leaky-co' });
    expect([spiky.status, spiky.body.startedAt, spiky.body.createdAt]).toEqual([201, `${first}T00:00:00.000Z`, `${TODAY}T06:00:00.000Z`]);
    expect([leaky.status, leaky.body.startedAt]).toEqual([201, undefined]);
    // The history, then yesterday: spiky-co's noon hour at 8x; leaky-co's key also used from 40 new /24s in 12 countries at night
    for (let day = first; day < YESTERDAY; day = addDays(day, 1))
      await ingest([...steadyDay('spiky-co', day), ...steadyDay('leaky-co', day)]);
    const spike = steadyDay('spiky-co', YESTERDAY).map((e) =>
      e.time.includes('T12:') ? { ...e, data: { ...e.data, quantity: 8 * e.data.quantity } } : e,
    );
    const leak = Array.from({ length: 40 }, (_, i) =>
      call('leaky-co', YESTERDAY, 2 + (i % 6), 100, `198.${51 + Math.floor(i / 20)}.${100 + (i % 20)}.9`, COUNTRIES[i % 12]),
    );
    await ingest([...spike, ...steadyDay('leaky-co', YESTERDAY), ...leak]);
    await stack.drain();

    // Act
    const run = await nightly(YESTERDAY);

    // Assess: the established-account rules ran for both, and found each abuse (no Stripe customers: nothing reported)
    expect(run.counts).toMatchObject({ customers: 2 });
    const rules = async (id: string) => (await stack.services.flags.forCustomer(id)).map((f) => f.rule);
    expect(await rules('spiky-co')).toContain('volume_spike');
    expect(await rules('leaky-co')).toContain('leaked_key');
    expect([...(await rules('spiky-co')), ...(await rules('leaky-co'))]).not.toContain('new_account_surge');
  });

  it('refuses a start that is not a date, or in the future, naming the field; only an admin key may register', async () => {
    // Act
    const notADate = await admin('POST', '/v1/customers', { customerId: 'c-bad', startedAt: 'last spring' });
    const future = await admin('POST', '/v1/customers', { customerId: 'c-bad', startedAt: '2027-01-01' });
    const wrongType = await admin('POST', '/v1/customers', { customerId: 'c-bad', anchorDay: '3' });
    const asIngest = await fetch(`${stack.url}/v1/customers`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${stack.ingestKey}` },
      body: JSON.stringify({ customerId: 'c-bad' }),
    });

    // Assess
    expect([notADate.status, notADate.body.errors]).toEqual([400, [{ field: 'startedAt', message: expect.stringContaining('ISO-8601') }]]);
    expect([future.status, future.body.errors]).toEqual([400, [{ field: 'startedAt', message: 'must not be in the future' }]]);
    expect([wrongType.status, wrongType.body.errors]).toEqual([400, [{ field: 'anchorDay', message: 'must be a number' }]]);
    expect(asIngest.status).toBe(403);
    expect((await stack.services.registry.customers(['c-bad'])).size).toBe(0);
  });
});
