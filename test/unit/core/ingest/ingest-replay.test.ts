import { describe, expect, it } from 'vitest';
import { fixedClock } from '../../../../contract/clock.js';
import { parseMessage } from '../../../../contract/queue-message.js';
import { ingestEvents } from '../../../../functions/core/ingest/ingest.js';
import { replayQuarantine } from '../../../../functions/core/ingest/replay.js';
import { customersOf, MemoryQuarantine, MemoryQueue, MemoryUserRefs } from '../../../fakes/memory-ports.js';

const clock = fixedClock('2026-11-29T12:00:00Z');
let n = 0;
const newId = () => `01J${String(n++).padStart(23, '0')}`;
const call = (over: Record<string, unknown> = {}) => ({
  specversion: '1.0',
  type: 'com.serenity.api.call',
  source: 'gw',
  subject: 'acme',
  time: '2026-11-29T11:00:00Z',
  data: {},
  ...over,
});

describe('ingestEvents', () => {
  it('enqueues valid events, quarantines invalid ones, and reports both by index', async () => {
    // Prepare
    const queue = new MemoryQueue();
    const quarantine = new MemoryQuarantine();
    // Act
    const r = await ingestEvents(
      { requestId: 'req1', events: [call({ id: 'a' }), call({ id: 'b', type: 'nope' }), call()] },
      { queue, quarantine, clock, newId, userRefs: new MemoryUserRefs() },
    );
    // Assess
    expect(r.accepted.map((a) => a.id)).toEqual(['a', expect.stringMatching(/^01J/)]);
    expect(r.rejected).toEqual([{ index: 1, id: 'b', errors: [expect.objectContaining({ field: 'type' })] }]);
    expect(queue.bodies.flatMap((b) => parseMessage(b).events.map((e) => e.id))).toEqual(['a', r.accepted[1]!.id]);
    expect([...quarantine.items.values()].map((q) => [q.key, q.reason, q.origin])).toEqual([['req1#1', 'invalid', 'ingest']]);
  });

  it('reports events it could not enqueue as retryable, with their ids, and not as accepted', async () => {
    // Prepare
    const queue = new MemoryQueue();
    queue.failNext = 1;
    // Act
    const r = await ingestEvents(
      { requestId: 'req2', events: [call({ id: 'x' }), call()] },
      { queue, quarantine: new MemoryQuarantine(), clock, newId, userRefs: new MemoryUserRefs() },
    );
    // Assess
    expect(r.accepted).toEqual([]);
    expect(r.rejected.map((x) => [x.index, x.retryable, x.id !== undefined])).toEqual([
      [0, true, true],
      [1, true, true],
    ]);
  });

  it('keeps a card-number event visible only in redacted form and never replayable', async () => {
    const quarantine = new MemoryQuarantine();
    await ingestEvents(
      { requestId: 'req3', events: [call({ data: { memo: '4111 1111 1111 1111' } })] },
      { queue: new MemoryQueue(), quarantine, clock, newId, userRefs: new MemoryUserRefs() },
    );
    const [item] = [...quarantine.items.values()];
    expect(JSON.stringify(item)).not.toContain('4111');
    expect(item!.replayable).toBe(false);
  });

  it('quarantines a rejected event without its full address, and an oversized one as its attributes only, still enqueuing the valid ones', async () => {
    // Prepare
    const queue = new MemoryQueue();
    const quarantine = new MemoryQuarantine();
    const noSubject = call({ id: 'ip', subject: undefined, data: { clientIp: '203.0.113.77' } });
    const huge = call({ id: 'huge', data: { note: 'x'.repeat(500_000) } });

    // Act
    const r = await ingestEvents(
      { requestId: 'req4', events: [noSubject, huge, call({ id: 'ok' })] },
      { queue, quarantine, clock, newId, userRefs: new MemoryUserRefs() },
    );

    // Assess
    expect(r.accepted.map((a) => a.id)).toEqual(['ok']);
    const kept = [...quarantine.items.values()].find((q) => q.key === 'req4#0')!;
    expect(JSON.stringify(kept)).not.toContain('203.0.113.77');
    expect((kept.raw as { data: { clientIp: string } }).data.clientIp).toBe('203.0.113.0');
    const big = [...quarantine.items.values()].find((q) => q.key === 'req4#1')!;
    expect(JSON.stringify(big).length).toBeLessThan(2_000);
    expect([big.replayable, (big.raw as { id: string }).id, (big.raw as { truncated: string }).truncated]).toEqual([
      false,
      'huge',
      expect.stringContaining('only its top-level attributes are kept'),
    ]);
  });
});

describe('replayQuarantine', () => {
  it('replays what is now valid and registered, keeps the rest with a reason', async () => {
    // Prepare
    const quarantine = new MemoryQuarantine();
    const queue = new MemoryQueue();
    await ingestEvents(
      { requestId: 'r', events: [call({ id: 'bad', data: { quantity: 0 } })] },
      { queue, quarantine, clock, newId, userRefs: new MemoryUserRefs() },
    );
    await quarantine.put([
      {
        customerId: 'late',
        key: 'gw#e1',
        reason: 'unknown_customer',
        errors: [],
        event: { id: 'e1', source: 'gw', customerId: 'late', type: 'com.serenity.api.call', time: '2026-11-29T11:00:00.000Z', quantity: 2 },
        replayable: true,
        origin: 'consume',
        quarantinedAt: '2026-11-29T11:00:00Z',
        attempts: 0,
      },
      {
        customerId: 'never',
        key: 'gw#e2',
        reason: 'unknown_customer',
        errors: [],
        event: {
          id: 'e2',
          source: 'gw',
          customerId: 'never',
          type: 'com.serenity.api.call',
          time: '2026-11-29T11:00:00.000Z',
          quantity: 1,
        },
        replayable: true,
        origin: 'consume',
        quarantinedAt: '2026-11-29T11:00:00Z',
        attempts: 0,
      },
    ]);
    // Act
    const out = await replayQuarantine({}, { quarantine, queue, customers: customersOf(['late', 'acme']), clock });
    // Assess
    expect(out.replayed).toBe(1);
    expect(out.kept.map((k) => [k.key, k.why])).toEqual([
      ['r#0', 'data.quantity must be at least 1'],
      ['gw#e2', 'customer "never" is not registered'],
    ]);
    expect(queue.bodies.flatMap((b) => parseMessage(b).events.map((e) => e.id))).toEqual(['e1']);
    expect((await quarantine.list({ customerId: 'never' }))[0]!.attempts).toBe(1);
  });
});

describe('replaying events quarantined at ingest', () => {
  it("judges them against the key's bound source, and gives an event sent without an id the same id on every replay", async () => {
    // Prepare: through a key bound to "gw": one event leaves its source to the key and has a bad quantity;
    // one claims another source; one has no id and a time too far ahead (fine by the time it is replayed)
    const quarantine = new MemoryQuarantine();
    const queue = new MemoryQueue();
    const noId = { ...call({ time: '2026-11-29T12:30:00Z' }), source: undefined };
    await ingestEvents(
      {
        requestId: 'b',
        boundSource: 'gw',
        events: [{ ...call({ id: 'q0', data: { quantity: 0 } }), source: undefined }, call({ id: 'other', source: 'other-svc' }), noId],
      },
      { queue, quarantine, clock, newId, userRefs: new MemoryUserRefs() },
    );
    for (const item of quarantine.items.values()) if (item.key === 'b#0') item.raw = { ...(item.raw as object), data: { quantity: 2 } };
    const later = fixedClock('2026-11-29T13:00:00Z');
    // The first replay sends, then fails to take the items out of quarantine, as a crash half-way would leave it.
    const remove = quarantine.remove.bind(quarantine);
    let failRemove = true;
    quarantine.remove = async (item) => {
      if (failRemove) throw new Error('crashed after sending');
      return remove(item);
    };

    // Act
    const first = await replayQuarantine({}, { quarantine, queue, customers: customersOf(['acme']), clock: later }).catch((e: Error) => e);
    failRemove = false;
    const second = await replayQuarantine({}, { quarantine, queue, customers: customersOf(['acme']), clock: later });

    // Assess: "other-svc" stays refused; the bound source fills in; the id-less event went out twice under one id
    expect(first).toBeInstanceOf(Error);
    const sent = queue.bodies.flatMap((b) => parseMessage(b).events);
    expect(sent.filter((e) => e.source === 'gw' && e.quantity === 2)).toHaveLength(2);
    expect(second.kept.filter((k) => k.key === 'b#1').map((k) => k.why)).toEqual([
      'source does not match the source "gw" that this ingest key is bound to',
    ]);
    const ids = sent.filter((e) => e.time === '2026-11-29T12:30:00.000Z').map((e) => e.id);
    expect(ids).toHaveLength(2);
    expect(new Set(ids).size).toBe(1);
    expect(ids[0]).toMatch(/^q-/);
  });
});

describe('a rejected event of an end user', () => {
  it("is kept with the user's ref in place of the id (metadata too), and its replay carries the ref, not a new id", async () => {
    // Prepare: an event from an hour ahead (refused now, valid an hour later) naming its user twice.
    const at = fixedClock('2026-11-29T12:00:00Z');
    const quarantine = new MemoryQuarantine();
    const queue = new MemoryQueue();
    const userRefs = new MemoryUserRefs();
    const ahead = {
      ...call({ id: 'ua-1', type: 'com.serenity.user.active', time: '2026-11-29T13:00:00Z' }),
      data: { userId: 'usr_q7xk2m', actingFor: 'usr_q7xk2m' },
    };
    const r = await ingestEvents({ requestId: 'req9', events: [ahead] }, { queue, quarantine, clock: at, newId, userRefs });
    const [kept] = [...quarantine.items.values()];
    at.set('2026-11-29T13:05:00Z');
    // Act
    const out = await replayQuarantine({}, { quarantine, queue, clock: at, customers: customersOf(['acme']) });
    const [replayed] = parseMessage(queue.bodies[0]!).events;
    // Assess
    expect(r.rejected).toHaveLength(1);
    expect(JSON.stringify(kept)).not.toContain('usr_q7xk2m');
    expect(kept!.userRef).toMatch(/^ur_/);
    expect(out.replayed).toBe(1);
    expect(replayed!.userRef).toBe(kept!.userRef);
    expect(replayed!.userId).toBeUndefined();
    expect(replayed!.metadata).toEqual({ actingFor: kept!.userRef });
  });

  it('with a userId that is no string (a number, an object) keeps none of it and is not replayable', async () => {
    // Prepare
    const quarantine = new MemoryQuarantine();
    const userRefs = new MemoryUserRefs();
    const events = [
      { ...call({ id: 'n-1', type: 'com.serenity.user.active' }), data: { userId: 4_711_093 } },
      { ...call({ id: 'n-2', type: 'com.serenity.user.active' }), data: { userId: { employee: 'E-58213' } } },
    ];
    // Act
    const r = await ingestEvents({ requestId: 'req10', events }, { queue: new MemoryQueue(), quarantine, clock, newId, userRefs });
    const kept = [...quarantine.items.values()];
    // Assess
    expect(r.rejected).toHaveLength(2);
    expect(kept).toHaveLength(2);
    expect(JSON.stringify(kept)).not.toMatch(/4711093|E-58213/);
    expect(kept.map((k) => [(k.raw as { data: { userId: unknown } }).data.userId, k.replayable])).toEqual([
      ['[user id withheld]', false],
      ['[user id withheld]', false],
    ]);
  });
});
