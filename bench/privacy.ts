/**
 * npm run bench:privacy — what erasing one end user and exporting one end user cost, for a customer with 1M events
 * over 35 days (`PRIVACY_EVENTS` to change it), against a full read of that customer's events measured in the same
 * run on the same DynamoDB Local. Each measured step runs on its own fresh services with its own capacity meter (no
 * cached secret, no shared counter). Capacity units come from ReturnConsumedCapacity. Ends with one JSON line.
 */
import { DAY_MS, fixedClock, utcDay } from '../contract/clock.js';
import type { UsageEvent } from '../contract/event-contract.js';
import { CapacityMeter } from '../functions/adapters/dynamodb/capacity-meter.js';
import { periodContaining } from '../functions/core/close/billing-period.js';
import { privacyDepsOf, requestPrivacy, runPrivacyRequest } from '../functions/core/privacy/run-request.js';
import { inParallel } from '../functions/core/shared/concurrency.js';
import { buildCustomer } from '../functions/core/shared/customers.js';
import { makeServices, type Services } from '../functions/runtime/services.js';
import { type LocalStack, startLocalStack } from '../local/stack.js';
import { rng } from './traffic-model.js';

process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const EVENTS = Number(process.env.PRIVACY_EVENTS ?? 1_000_000);
const USERS = Number(process.env.PRIVACY_USERS ?? 2000);
const DAYS = 35;
/** Share of the other events that are user activity; the rest are API calls, which name no user. */
const USER_SHARE = 0.1;
/** Each target user's user.active events per day. */
const TARGET_PER_DAY = 3;
/** Days seeded at once (each day's BatchWriteItems run 8 at a time). */
const SEED_DAYS_IN_FLIGHT = 4;
const CUSTOMER = 'privacy-bench';
const ERASED = 'erase-target-7kq2';
const EXPORTED = 'export-target-3vn8';
const OPERATIONS = ['encrypt', 'decrypt', 'share', 'revoke'];

const fmt = (x: number, d = 3) => Number(x.toFixed(d));
const iso = (ms: number) => new Date(ms).toISOString();

interface Measured {
  ms: number;
  read: number;
  write: number;
}

/** Runs one step on fresh services of the stack (cold caches, their own meter) and returns its time and units. */
async function measure<T>(stack: LocalStack, step: (s: Services) => Promise<T>): Promise<Measured & { value: T }> {
  const meter = new CapacityMeter();
  const s = makeServices({ env: stack.env, clients: stack.services.clients, capacity: meter, clock: stack.services.clock });
  const t0 = performance.now();
  const value = await step(s);
  return { ms: performance.now() - t0, read: meter.read, write: meter.write, value };
}

/** One day of the customer's events in their stored form: users already replaced by their refs. */
function dayOfEvents(
  dayStart: number,
  count: number,
  refs: readonly string[],
  targets: readonly string[],
  random: () => number,
): UsageEvent[] {
  const day = utcDay(dayStart);
  const out: UsageEvent[] = [];
  const base = { source: 'bench', customerId: CUSTOMER, quantity: 1 };
  const at = () => iso(dayStart + Math.floor(random() * DAY_MS));
  for (const ref of targets)
    for (let k = 0; k < TARGET_PER_DAY; k++)
      out.push({ ...base, id: `${day}-t-${ref}-${k}`, type: 'com.serenity.user.active', time: at(), userId: ref });
  for (let i = out.length; i < count; i++) {
    const id = `${day}-${i}`;
    if (random() < USER_SHARE) {
      out.push({ ...base, id, type: 'com.serenity.user.active', time: at(), userId: refs[Math.floor(random() * refs.length)]! });
      continue;
    }
    out.push({
      ...base,
      id,
      type: 'com.serenity.api.call',
      time: at(),
      quantity: 1 + Math.floor(random() * 50),
      operation: OPERATIONS[Math.floor(random() * OPERATIONS.length)]!,
      apiKeyId: `key-${CUSTOMER}-${Math.floor(random() * 3)}`,
      ipPrefix: `10.20.${Math.floor(random() * 200)}.0/24`,
      country: 'DE',
    });
  }
  return out;
}

/** Stores the events straight into the Events table (as the consumer would have), with the period user sets. */
async function seed(stack: LocalStack, now: number): Promise<{ days: string[]; targetEvents: number; refsSeconds: number }> {
  const s = stack.services;
  const t0 = performance.now();
  await s.registry.putCustomer(buildCustomer({ id: CUSTOMER }, undefined, now));
  const users = Array.from({ length: USERS }, (_, i) => `user-${String(i).padStart(5, '0')}`);
  const refOf = await s.userRefs.refs(CUSTOMER, [...users, ERASED, EXPORTED]);
  const refs = users.map((u) => refOf.get(u)!);
  const refsSeconds = (performance.now() - t0) / 1000;
  const targets = [refOf.get(ERASED)!, refOf.get(EXPORTED)!];
  // Oldest first: the 35 whole days before today, which are exactly the days the export reads (with today, empty).
  const starts = Array.from({ length: DAYS }, (_, i) => now - (now % DAY_MS) - (DAYS - i) * DAY_MS);
  const periodUsers = new Map<string, Map<string, string>>();
  const random = rng(12);
  let stored = 0;
  await inParallel(
    starts.map((_, i) => i),
    SEED_DAYS_IN_FLIGHT,
    async (i) => {
      const count = Math.floor(EVENTS / DAYS) + (i < EVENTS % DAYS ? 1 : 0);
      const events = dayOfEvents(starts[i]!, count, refs, targets, random);
      const day = utcDay(starts[i]!);
      const period = periodContaining(starts[i]!).key;
      const firstDays = periodUsers.get(period) ?? new Map<string, string>();
      periodUsers.set(period, firstDays);
      for (const e of events) {
        const first = e.userId === undefined ? undefined : firstDays.get(e.userId);
        if (e.userId !== undefined && (first === undefined || day < first)) firstDays.set(e.userId, day);
      }
      await s.events.put(events, `seed-${day}`, iso(starts[i]! + DAY_MS - 60_000));
      stored += events.length;
    },
  );
  await s.rollups.save(CUSTOMER, { days: [], periodUsers, files: new Map() });
  if (stored !== EVENTS) throw new Error(`seeded ${stored} events, wanted ${EVENTS}`);
  return { days: starts.map(utcDay), targetEvents: DAYS * TARGET_PER_DAY, refsSeconds };
}

async function main() {
  const now = Date.now();
  const stack = await startLocalStack({ noPoller: true, clock: fixedClock(now), consoleDir: false });
  try {
    const t0 = performance.now();
    const { days, targetEvents, refsSeconds } = await seed(stack, now);
    const seedSeconds = (performance.now() - t0) / 1000;
    console.log(
      `seeded ${EVENTS.toLocaleString('en')} events of ${CUSTOMER} over ${DAYS} days (${USERS.toLocaleString('en')} users, ` +
        `~${USER_SHARE * 100}% user activity, the rest API calls; ${targetEvents} events for each target user) in ${fmt(seedSeconds, 1)} s, ${fmt(refsSeconds, 1)} s of it making the users' refs (not a measured figure)`,
    );

    // Warm the JVM's and Node's query paths on a few days first, so the baseline is not charged for a cold start.
    for (const day of days.slice(0, 3)) await stack.services.events.listDay(CUSTOMER, day);

    // (a) Baseline: read every stored day of the customer, as anything without a per-user index must.
    const scan = await measure(stack, async (s) => {
      let n = 0;
      for (const day of days) n += (await s.events.listDay(CUSTOMER, day)).length;
      return n;
    });
    if (scan.value !== EVENTS) throw new Error(`the scan read ${scan.value} events, ${EVENTS} were seeded`);
    console.log(
      `(a) full read of the customer's events (${days.length} daily partitions): ${fmt(scan.ms, 0)} ms, ${fmt(scan.read, 1)} RCU`,
    );

    // (b) Erase one user: it deletes the user's mapping, and leaves every event as it is.
    const erase = await measure(stack, (s) =>
      requestPrivacy({ type: 'erase', customerId: CUSTOMER, userId: ERASED, reason: 'bench erasure', actor: 'bench' }, privacyDepsOf(s)),
    );
    if (erase.value.status !== 'done' || erase.value.userRef === undefined)
      throw new Error(`the erase did not erase: ${JSON.stringify(erase.value)}`);
    const gone = await stack.services.userRefs.find(CUSTOMER, ERASED);
    if (!gone?.erased) throw new Error('the erased user still has a mapping');
    console.log(
      `(b) erase one user: ${fmt(erase.ms, 1)} ms, ${fmt(erase.read, 1)} RCU + ${fmt(erase.write, 1)} WCU` +
        ` = ${fmt((erase.read + erase.write) / scan.read, 6)}x the scan's units, ${fmt(erase.ms / scan.ms, 5)}x its time`,
    );

    // (c) Export another user: queued, then run to its end as the close worker would.
    const exported = await measure(stack, async (s) => {
      const deps = privacyDepsOf(s);
      const queued = await requestPrivacy(
        { type: 'export', customerId: CUSTOMER, userId: EXPORTED, reason: 'bench export', actor: 'bench' },
        deps,
      );
      return runPrivacyRequest(queued.id, deps);
    });
    const exportedEvents = (await stack.services.privacyRequests.get(exported.value.id))?.counts.events;
    if (exportedEvents !== targetEvents)
      throw new Error(`the export found ${exportedEvents} events of the user, ${targetEvents} were seeded`);
    console.log(
      `(c) export one user (${exportedEvents} events found): ${fmt(exported.ms, 0)} ms, ${fmt(exported.read, 1)} RCU + ${fmt(exported.write, 1)} WCU` +
        ` = ${fmt((exported.read + exported.write) / scan.read, 3)}x the scan's units, ${fmt(exported.ms / scan.ms, 3)}x its time`,
    );

    const units = (m: Measured) => m.read + m.write;
    console.log(
      JSON.stringify({
        bench: 'privacy',
        events: EVENTS,
        days: DAYS,
        users: USERS,
        seedSeconds: fmt(seedSeconds, 1),
        scanReadUnits: fmt(scan.read, 1),
        scanMs: fmt(scan.ms, 0),
        eraseReadUnits: fmt(erase.read, 1),
        eraseWriteUnits: fmt(erase.write, 1),
        eraseMs: fmt(erase.ms, 1),
        exportReadUnits: fmt(exported.read, 1),
        exportWriteUnits: fmt(exported.write, 1),
        exportMs: fmt(exported.ms, 0),
        exportedEvents,
        eraseToScanUnits: fmt(units(erase) / scan.read, 6),
        eraseToScanMs: fmt(erase.ms / scan.ms, 5),
        exportToScanUnits: fmt(units(exported) / scan.read, 3),
        exportToScanMs: fmt(exported.ms / scan.ms, 3),
      }),
    );
  } finally {
    await stack.stop();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
