import { describe, expect, it } from 'vitest';
import type { UsageEvent } from '../../../../contract/event-contract.js';
import { messageKey } from '../../../../contract/queue-message.js';
import { consumeMessage } from '../../../../functions/core/count/consume.js';
import type { UsageFragment } from '../../../../functions/core/count/usage-fragment.js';
import type { UsageStore } from '../../../../functions/core/shared/ports.js';
import { customersOf, MemoryEventStore, MemoryQuarantine, MemoryUserRefs } from '../../../fakes/memory-ports.js';

const ev = (id: string): UsageEvent => ({
  id,
  source: 'gw',
  customerId: 'c1',
  type: 'com.serenity.api.call',
  time: '2026-11-29T10:00:00.000Z',
  quantity: 5,
});

class MemoryUsage implements UsageStore {
  items = new Map<string, UsageFragment>();
  async putFragments(f: readonly UsageFragment[]) {
    for (const x of f) this.items.set(`${x.customerId}|${x.day}|${x.messageKey}`, x);
  }
  async fragments(c: string, d: string) {
    return [...this.items.values()].filter((f) => f.customerId === c && f.day === d);
  }
}

const depsOf = (events: MemoryEventStore, usage: MemoryUsage) => ({
  events,
  usage,
  customers: customersOf(['c1']),
  quarantine: new MemoryQuarantine(),
  clock: { now: () => Date.parse('2026-11-29T12:00:00Z') },
  markLate: async () => {},
  userRefs: new MemoryUserRefs(),
});

const calls = async (u: MemoryUsage) =>
  (await u.fragments('c1', '2026-11-29')).reduce((s, f) => s + Object.values(f.calls).reduce((a, b) => a + b, 0), 0);

describe('consumeMessage against a concurrent consumer', () => {
  it('counts an event once when another message stored it first', async () => {
    // Prepare: message A (events 1-3) is consumed first; message B, a client retry holding events 2-4
    // packed differently (so another message key), comes after.
    const events = new MemoryEventStore();
    const usage = new MemoryUsage();
    const a = [ev('1'), ev('2'), ev('3')];
    const b = [ev('2'), ev('3'), ev('4')];
    expect(messageKey(a)).not.toBe(messageKey(b));
    await consumeMessage('a', { events: a, invalid: [] }, depsOf(events, usage));
    // Act
    const r = await consumeMessage('b', { events: b, invalid: [] }, depsOf(events, usage));
    // Assess: 4 distinct events of 5 calls each.
    expect(await calls(usage)).toBe(20);
    expect(r).toMatchObject({ counted: 1, duplicates: 2 });
  });

  it('counts an event once when two messages of one batch carry it side by side', async () => {
    // Prepare
    const events = new MemoryEventStore();
    const usage = new MemoryUsage();
    const a = [ev('1'), ev('2')];
    const b = [ev('2'), ev('3')];
    // Act: both at once, as the batch processor runs a batch's records.
    const [ra, rb] = await Promise.all([
      consumeMessage('a', { events: a, invalid: [] }, depsOf(events, usage)),
      consumeMessage('b', { events: b, invalid: [] }, depsOf(events, usage)),
    ]);
    // Assess
    expect(await calls(usage)).toBe(15);
    expect(ra.counted + rb.counted).toBe(3);
    expect(ra.duplicates + rb.duplicates).toBe(1);
  });

  it('a redelivered message keeps the event it stored before it crashed, though a retry of it comes first in the batch', async () => {
    // Prepare: message B stored event 2 and died before its fragment; a client retry A holding event 2 arrives in the same batch, ahead of B.
    const events = new MemoryEventStore();
    const usage = new MemoryUsage();
    const a = [ev('1'), ev('2')];
    const b = [ev('2'), ev('3')];
    await events.put([ev('2')], messageKey(b));
    // Act
    await consumeMessage('a', { events: a, invalid: [] }, depsOf(events, usage));
    await consumeMessage('b', { events: b, invalid: [] }, depsOf(events, usage));
    // Assess: events 1, 2 and 3, each once.
    expect(await calls(usage)).toBe(15);
  });

  it('a redelivery of the same message still counts the events it stored before it crashed', async () => {
    // Prepare: message A stored its events, then died before writing its fragment.
    const events = new MemoryEventStore();
    const usage = new MemoryUsage();
    const a = [ev('1'), ev('2')];
    await events.put(a, messageKey(a));
    // Act
    const r = await consumeMessage('a', { events: a, invalid: [] }, depsOf(events, usage));
    // Assess
    expect(await calls(usage)).toBe(10);
    expect(r).toMatchObject({ counted: 2, duplicates: 0 });
  });
});
