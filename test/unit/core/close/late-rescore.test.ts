import { beforeEach, describe, expect, it } from 'vitest';
import { DAY_MS, fixedClock, utcDay } from '../../../../contract/clock.js';
import { type UsageEvent, validateEvent } from '../../../../contract/event-contract.js';
import type { MeterEventOutcome, MeterEventReporter } from '../../../../functions/core/billing/stripe-reporting.js';
import { type CloseDeps, closeCustomer } from '../../../../functions/core/close/close-customer.js';
import { daysToScore } from '../../../../functions/core/fraud/close-fraud-step.js';
import { MAX_HISTORY_DAYS } from '../../../../functions/core/fraud/constants.js';
import { expectedActivityOf } from '../../../../functions/core/fraud/expected-activity.js';
import { releasedDays } from '../../../../functions/core/fraud/holds.js';
import { flagRevision } from '../../../../functions/core/fraud/merge-flags.js';
import { reviewFlag } from '../../../../functions/core/fraud/review-flag.js';
import type { Customer } from '../../../../functions/core/shared/ports.js';
import { MemoryEventStore, MemoryFlagStore, MemoryLedger, MemoryRollupStore, RecordingReporter } from '../../../fakes/memory-ports.js';

// Steady office-hours API traffic (100 calls an hour on weekdays, 20 at weekends, 08-18 UTC), each
// day closed the night after, as production does. Then fifty times a weekday's calls arrive late for a
// day that was already closed.
const FIRST = '2026-02-01';
const clock = fixedClock(`${FIRST}T00:30:00Z`);
const closeAt = (day: string) => clock.set(Date.parse(`${day}T00:00:00Z`) + DAY_MS + 30 * 60_000);
const addDays = (day: string, n: number) => utcDay(Date.parse(`${day}T00:00:00Z`) + n * DAY_MS);

let events: MemoryEventStore;
let rollups: MemoryRollupStore;
let ledger: MemoryLedger;
let flags: MemoryFlagStore;
let reporter: RecordingReporter;
let seq = 0;

const deps = (): CloseDeps => ({ events, rollups, ledger, reporter, clock, fraud: { flags } });

const customer = (id: string): Customer => ({
  id,
  stripeCustomerId: `cus_${id}`,
  createdAt: `${FIRST}T00:00:00.000Z`,
  updatedAt: `${FIRST}T00:00:00.000Z`,
});

function calls(c: Customer, day: string, perHour: number): UsageEvent[] {
  const out: UsageEvent[] = [];
  for (let h = 8; h < 18; h++) {
    const time = `${day}T${String(h).padStart(2, '0')}:10:00Z`;
    const data = { quantity: perHour, apiKeyId: 'k1', clientIp: '198.51.100.7', country: 'DE' };
    const v = validateEvent(
      { specversion: '1.0', type: 'com.serenity.api.call', source: 't', subject: c.id, id: `late-${seq++}`, time, data },
      { now: Date.parse(time) + 1000, newId: () => 'x' },
    );
    if (!v.ok) throw new Error(JSON.stringify(v.errors));
    out.push(v.event);
  }
  return out;
}
const steady = (day: string) => ([0, 6].includes(new Date(`${day}T00:00:00Z`).getUTCDay()) ? 20 : 100);

/** Stores and closes every day from FIRST through `last`, one night at a time. */
async function closeNightly(c: Customer, last: string): Promise<void> {
  for (let day = FIRST; day <= last; day = addDays(day, 1)) {
    await events.put(calls(c, day, steady(day)), 'm');
    closeAt(day);
    await closeCustomer(c, day, [], `run-${day}`, deps());
  }
}

/** Fifty times a weekday's calls arrive for the already closed `late`, with `next`'s own steady calls. */
async function lateBurstArrives(c: Customer, late: string, next: string): Promise<void> {
  await events.put(calls(c, late, 5000), 'm');
  await events.put(calls(c, next, steady(next)), 'm');
}

/** A reporter whose every send gets the same outcome (a transient failure, a refusal). */
type Answer = MeterEventOutcome extends infer O ? (O extends { identifier: string } ? Omit<O, 'identifier'> : never) : never;
const answering = (outcome: Answer): MeterEventReporter => ({
  report: async (es) => es.map((e) => ({ identifier: e.identifier, ...outcome }) as MeterEventOutcome),
});
const TRANSIENT = { outcome: 'failed_transient', attempts: 1, reason: 'rate_limited', message: '429' } as const;

/** Steady days closed through the day before `day`; then `day`, with `perHour` calls an hour, closed through `reporter` (default the recording one). */
async function closeThrough(c: Customer, day: string, perHour: number, reporter: MeterEventReporter = deps().reporter!) {
  await closeNightly(c, addDays(day, -1));
  await events.put(calls(c, day, perHour), 'm');
  closeAt(day);
  return closeCustomer(c, day, [], `run-${day}`, { ...deps(), reporter });
}

/** What the reporter sent for one day of api_calls: the values of its revisions. */
const sentFor = (c: Customer, day: string) =>
  [...reporter.sent.values()]
    .filter((e) => e.stripeCustomerId === c.stripeCustomerId && e.eventName === 'serenity_api_calls' && utcDay(e.timestamp * 1000) === day)
    .map((e) => e.value);

beforeEach(() => {
  events = new MemoryEventStore();
  rollups = new MemoryRollupStore();
  ledger = new MemoryLedger();
  flags = new MemoryFlagStore();
  reporter = new RecordingReporter();
});

describe('late events re-score their day', () => {
  it('flags a burst that arrives after its day was closed, holds the late usage, and opens nothing on a rerun', async () => {
    // Prepare: 30 steady days closed; then 5,000 calls an hour arrive late for Thursday 2026-02-26
    const c = customer('late-burst-co');
    const LATE = '2026-02-26';
    const NEXT = '2026-03-03';
    await closeNightly(c, addDays(NEXT, -1));
    expect(await flags.forCustomer(c.id)).toEqual([]);
    expect(sentFor(c, LATE)).toEqual([1000]);
    await lateBurstArrives(c, LATE, NEXT);
    rollups.reads = [];

    // Act: the next night closes its own day and the late one, then runs again
    closeAt(NEXT);
    const night = await closeCustomer(c, NEXT, [LATE], 'run-next', deps());
    const reads = [...rollups.reads];
    const rerun = await closeCustomer(c, NEXT, [LATE], 'run-next-2', deps());

    // Assess: one high volume_spike flag on the late day; its 50,000 late calls held, the night's own sent
    expect(
      night.flags.created.map((f) => [f.rule, f.meter, f.severity, f.window.from.slice(0, 10), utcDay(Date.parse(f.window.to) - 1)]),
    ).toEqual([['volume_spike', 'api_calls', 'high', LATE, LATE]]);
    expect(night.flags.updated).toEqual([]);
    // Both days' fraud histories come from one read through NEXT. With no start given at registration it reaches
    // back as far as the rules look (56 days), because the account began with its earliest usage held.
    expect(reads.map((r) => [r.fromDay, r.toDay]).sort()).toEqual([
      ['2026-01-02', NEXT],
      [FIRST, '2026-02-28'],
      ['2026-03-01', '2026-03-31'],
    ]);
    expect(night.deferred.map((d) => [d.meter, d.day])).toEqual([['api_calls', LATE]]);
    expect(sentFor(c, LATE)).toEqual([1000]);
    expect(sentFor(c, NEXT)).toEqual([1000]);
    expect((await rollups.getDays(c.id, LATE, LATE))[0]!.apiCalls).toBe(51_000);
    expect([...ledger.records.values()].filter((r) => r.day === LATE && r.meter === 'api_calls').map((r) => [r.revision, r.value])).toEqual(
      [[0, 1000]],
    );
    expect(rerun.flags).toEqual({ created: [], updated: [], expected: [] });
    expect(rerun.deferred.map((d) => [d.meter, d.day])).toEqual([['api_calls', LATE]]);
    expect((await flags.forCustomer(c.id)).map((f) => f.id)).toEqual([night.flags.created[0]!.id]);
  });

  it("scores late days within the fraud history of the closed day and from the account's given start, oldest first", () => {
    // Prepare: a close of 2026-04-30 for an account that started on 2026-02-01, with late days on both edges
    const day = '2026-04-30';
    const oldest = addDays(day, -(MAX_HISTORY_DAYS - 1));
    const late = [addDays(oldest, -1), oldest, '2026-04-29', day, '2026-05-01', '2026-04-29'];
    // Act
    const scored = daysToScore(day, late, `${FIRST}T09:00:00.000Z`);
    const young = daysToScore('2026-02-20', ['2026-01-31', FIRST, '2026-02-10'], `${FIRST}T09:00:00.000Z`);
    const migrated = daysToScore('2026-02-20', ['2026-01-31', FIRST, '2026-02-10']);
    // Assess: one day past the window is dropped, and so are future days and days before the account
    expect(oldest).toBe('2026-03-06');
    expect(scored).toEqual(['2026-03-06', '2026-04-29', '2026-04-30']);
    expect(young).toEqual([FIRST, '2026-02-10', '2026-02-20']);
    // Without a given start, a backfilled day before the registration is scored too (a customer migrated with history)
    expect(migrated).toEqual(['2026-01-31', FIRST, '2026-02-10', '2026-02-20']);
  });

  it('does not score a late day older than the fraud history window, and reads no rollups before that window', async () => {
    // Prepare: the steady history; a late burst on a day MAX_HISTORY_DAYS days before the close
    const c = customer('too-late-co');
    const NEXT = '2026-04-18';
    const LATE = addDays(NEXT, -MAX_HISTORY_DAYS);
    await closeNightly(c, addDays(NEXT, -1));
    await lateBurstArrives(c, LATE, NEXT);
    rollups.reads = [];

    // Act
    closeAt(NEXT);
    const night = await closeCustomer(c, NEXT, [LATE], 'run-next', deps());
    const reads = [...rollups.reads];

    // Assess: recomputed but not scored: no flag, nothing held (and too old for Stripe anyway)
    expect(LATE).toBe('2026-02-21');
    expect(night.days).toContain(LATE);
    expect((await rollups.getDays(c.id, LATE, LATE))[0]!.apiCalls).toBe(50_200);
    expect(night.flags.created).toEqual([]);
    expect(await flags.forCustomer(c.id)).toEqual([]);
    expect(night.deferred).toEqual([]);
    expect(night.unreportable.map((u) => [u.meter, u.day])).toEqual([['api_calls', LATE]]);
    expect(sentFor(c, LATE)).toEqual([200]);
    // The close reads LATE's and NEXT's billing periods, then the fraud history of NEXT alone
    expect(reads.map((r) => [r.fromDay, r.toDay]).sort()).toEqual([
      ['2026-02-01', '2026-02-28'],
      [addDays(NEXT, -(MAX_HISTORY_DAYS - 1)), NEXT],
      ['2026-04-01', '2026-04-30'],
    ]);
  });

  it('scores a closed day that precedes the account (registered after midnight, before the close) as a new account', async () => {
    // Prepare: registered at 00:10 on the night its first day is closed
    const c = { ...customer('fresh-co'), createdAt: '2026-03-04T00:10:00.000Z' };
    await events.put(calls(c, '2026-03-03', 100), 'm');
    // Act
    closeAt('2026-03-03');
    const night = await closeCustomer(c, '2026-03-03', [], 'run-1', deps());
    // Assess: closed and reported; judged (against no peers) rather than refused
    expect(night.flags.created).toEqual([]);
    expect(sentFor(c, '2026-03-03')).toEqual([1000]);
  });

  it("records a burst inside the customer's expected activity as expected: no flag, nothing held, reported in full", async () => {
    // Prepare: 30 steady days closed; the customer announced a backfill on 2026-03-03, which then runs at 50x
    const c = customer('backfill-co');
    const DAY = '2026-03-03';
    await closeNightly(c, addDays(DAY, -1));
    const announced = expectedActivityOf(
      { from: `${DAY}T00:00:00Z`, to: `${addDays(DAY, 1)}T00:00:00Z`, reason: 'reindexing their archive' },
      { id: 'exp-1', customerId: c.id, createdBy: 'ana', now: clock.now() },
    );
    await flags.putExpectedActivity(announced);
    await events.put(calls(c, DAY, 5000), 'm');

    // Act
    closeAt(DAY);
    const night = await closeCustomer(c, DAY, [], 'run-1', deps());

    // Assess
    expect(night.flags.expected.map((e) => [e.expectedActivityId, e.detection.rule, e.detection.meter])).toEqual([
      ['exp-1', 'volume_spike', 'api_calls'],
    ]);
    expect(night.flags.created).toEqual([]);
    expect(await flags.forCustomer(c.id)).toEqual([]);
    expect(night.deferred).toEqual([]);
    expect(sentFor(c, DAY)).toEqual([50_000]);
  });

  it("lists usage held past its period's final invoice as unreportable once released, and escalates the hold before that", async () => {
    // Prepare: a late burst on 2026-02-26 flagged and held on the 2026-03-03 night (default policy: high holds)
    const c = customer('cross-period-co');
    const LATE = '2026-02-26';
    const NEXT = '2026-03-03';
    const AFTER = '2026-03-04';
    await closeNightly(c, addDays(NEXT, -1));
    await lateBurstArrives(c, LATE, NEXT);
    closeAt(NEXT);
    const night = await closeCustomer(c, NEXT, [LATE], 'run-next', deps());
    expect(night.deferred.map((d) => [d.meter, d.day])).toEqual([['api_calls', LATE]]);
    // February's invoice turned final at 01:00 on 1 March (the default one-hour grace): the hold is past its deadline.
    expect(night.escalations.map((e) => [e.meter, e.from, e.deadline, e.daysLeft])).toEqual([
      ['api_calls', LATE, '2026-03-01T01:00:00.000Z', -3],
    ]);
    const dismissed = reviewFlag(night.flags.created[0]!, {
      decision: 'dismiss',
      note: 'customer backfill',
      reviewer: 'ana',
      at: new Date(clock.now()).toISOString(),
    });

    // Act: the review, as POST /v1/flags/{id}/review does it, then the next night with the late marks the planner reads
    await flags.save([{ flag: dismissed, basedOn: flagRevision(night.flags.created[0]!) }]);
    await rollups.markLate(releasedDays(dismissed), clock.now());
    await events.put(calls(c, AFTER, steady(AFTER)), 'm');
    closeAt(AFTER);
    const marks = (await rollups.lateDays()).filter((m) => m.customerId === c.id).map((m) => m.day);
    const after = await closeCustomer(c, AFTER, marks, 'run-after', deps());

    // Assess: the dismissal reached February's day; its 50,000 calls are listed, not sent where Stripe would bill them nowhere
    expect(marks).toEqual([LATE]);
    expect(after.deferred).toEqual([]);
    expect(after.unreportable.map((u) => [u.meter, u.day, u.value, u.reason])).toEqual([['api_calls', LATE, 50_000, 'period_invoiced']]);
    expect(sentFor(c, LATE)).toEqual([1000]);
    expect(sentFor(c, AFTER)).toEqual([1000]);
  });
});

describe('a review while the close merges', () => {
  it('merges again on the reviewed flag instead of writing an extension over the dismissal', async () => {
    // Prepare: a spike on Wednesday is flagged; Thursday spikes again, and while Thursday's close merges
    // (after it read the customer's flags) an analyst dismisses the flag.
    const c = customer('raced-co');
    const WED = '2026-03-04';
    const THU = '2026-03-05';
    const wed = await closeThrough(c, WED, 5000);
    const flag = wed.flags.created[0]!;
    expect([flag.rule, flag.status, flag.severity]).toEqual(['volume_spike', 'open', 'high']);
    await events.put(calls(c, THU, 5000), 'm');
    let reads = 0;
    const racing = {
      ...flags,
      expectedActivity: (id: string) => flags.expectedActivity(id),
      save: (w: Parameters<MemoryFlagStore['save']>[0]) => flags.save(w),
      get: (id: string) => flags.get(id),
      list: () => flags.list(),
      putExpectedActivity: (e: Parameters<MemoryFlagStore['putExpectedActivity']>[0]) => flags.putExpectedActivity(e),
      forCustomer: async (id: string) => {
        const read = await flags.forCustomer(id);
        if (reads++ === 0)
          await flags.save([
            {
              flag: reviewFlag(flag, {
                decision: 'dismiss',
                note: 'migration week',
                reviewer: 'ana',
                at: `${addDays(THU, 1)}T00:30:00.000Z`,
              }),
              basedOn: flagRevision(flag),
            },
          ]);
        return read;
      },
    };

    // Act
    closeAt(THU);
    const thu = await closeCustomer(c, THU, [], 'run-thu', { ...deps(), fraud: { flags: racing } });

    // Assess: read twice; the dismissal stands and Thursday's continuation of it opens nothing
    expect(reads).toBe(2);
    const stored = await flags.forCustomer(c.id);
    expect(stored.map((f) => [f.id, f.status, f.window.to, f.history.map((h) => h.action)])).toEqual([
      [flag.id, 'dismissed', flag.window.to, ['opened', 'dismissed']],
    ]);
    expect([thu.flags.created, thu.flags.updated]).toEqual([[], []]);
  });
});

describe('records left pending', () => {
  it('waits while a hold now covers their day, and goes out once it is released', async () => {
    // Prepare: steady days closed; then Monday 2026-03-02 closes while Stripe fails transiently, so its record stays pending
    const c = customer('pending-co');
    const D = '2026-03-02';
    const NEXT = '2026-03-03';
    const first = await closeThrough(c, D, 100, answering(TRANSIENT));
    expect([first.planned, first.failed.map((f) => [f.state, f.identifier.includes(D)])]).toEqual([1, [['pending', true]]]);
    await events.put(calls(c, NEXT, 100), 'm');
    const hold = { customerId: c.id, meter: 'api_calls' as const, from: D, to: NEXT };

    // Act: the next night, with D held (e.g. a flag opened since); then the night after, released
    closeAt(NEXT);
    const held = await closeCustomer(c, NEXT, [], 'run-next', { ...deps(), holds: async () => [hold] });
    const heldSent = sentFor(c, D);
    closeAt(addDays(NEXT, 1));
    await closeCustomer(c, addDays(NEXT, 1), [], 'run-after', deps());

    // Assess: nothing of D went out while held; once released the pending record goes out, once
    expect([held.sent, heldSent]).toEqual([1, []]);
    expect(sentFor(c, D)).toEqual([1000]);
  });
});

describe('records refused for a setup problem', () => {
  it('are sent again by the next close once the setup is fixed (a rotated key)', async () => {
    // Prepare: a night whose every call is refused with 401
    const c = customer('rotated-key-co');
    const D = '2026-03-02';
    const night = await closeThrough(
      c,
      D,
      100,
      answering({ outcome: 'permanent', reason: 'authentication', message: 'Invalid API Key provided', status: 401, attempts: 1 }),
    );
    expect(night.failed.map((f) => [f.state, f.reason])).toEqual([['error', 'authentication']]);

    // Act: the key is fixed; the next night closes
    await events.put(calls(c, addDays(D, 1), 100), 'm');
    closeAt(addDays(D, 1));
    await closeCustomer(c, addDays(D, 1), [], 'run-next', deps());

    // Assess
    expect(sentFor(c, D)).toEqual([1000]);
  });
});

describe("a record left pending until its period's invoice is final", () => {
  it('is settled as period_invoiced and listed, not sent where Stripe would bill it nowhere', async () => {
    // Prepare: the period's last day, 2026-02-28, closes while Stripe fails transiently
    const c = customer('invoiced-co');
    const LAST = '2026-02-28';
    const night = await closeThrough(c, LAST, 20, answering(TRANSIENT));
    expect(night.failed.length).toBeGreaterThan(0);

    // Act: the next close runs on 2 March, long after February's invoice turned final (default one-hour grace)
    await events.put(calls(c, '2026-03-01', 20), 'm');
    closeAt('2026-03-01');
    const next = await closeCustomer(c, '2026-03-01', [], 'run-next', deps());

    // Assess: February's records are settled and listed; nothing of them reaches Stripe
    const feb = next.unreportable.filter((u) => u.day === LAST);
    expect(feb.length).toBe(night.failed.length);
    expect(new Set(feb.map((u) => u.reason))).toEqual(new Set(['period_invoiced']));
    expect(sentFor(c, LAST)).toEqual([]);
    expect((await ledger.entries(c.id)).filter((r) => r.day === LAST).map((r) => [r.state, r.lastError])).toEqual(
      feb.map(() => ['error', 'period_invoiced']),
    );
  });
});

describe('flags opened by a close that then fails', () => {
  it('are told to onOpened as soon as they are stored', async () => {
    // Prepare: a spike day; recording the ledger then fails (throttled) after the flag is stored
    const c = customer('told-co');
    const SPIKE = '2026-03-04';
    await closeNightly(c, addDays(SPIKE, -1));
    await events.put(calls(c, SPIKE, 5000), 'm');
    closeAt(SPIKE);
    const told: string[] = [];
    const throttled = Object.assign(Object.create(ledger) as MemoryLedger, {
      create: async () => Promise.reject(new Error('ledger throttled')),
    });

    // Act
    const res = await closeCustomer(c, SPIKE, [], 'run-spike', {
      ...deps(),
      ledger: throttled,
      fraud: { flags, onOpened: (f) => told.push(...f.map((x) => x.id)) },
    }).catch((e: Error) => e);

    // Assess: the close failed, yet the stored flag was told
    const stored = await flags.forCustomer(c.id);
    expect(res).toBeInstanceOf(Error);
    expect(told).toEqual(stored.map((f) => f.id));
    expect(told).toHaveLength(1);
  });
});
