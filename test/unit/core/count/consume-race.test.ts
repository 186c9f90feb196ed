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

const calls = async (u: MemoryUsage) =>
  (await u.fragments('c1', '2026-11-29')).reduce((s, f) => s + Object.values(f.calls).reduce((a, b) => a + b, 0), 0);

describe('consumeMessage against a concurrent consumer', () => {
  it('counts an event once when another message stored it between our owner read and our write', async () => {
    // Prepare: message A (events 1-3) is consumed first; message B (a client retry holding events 2-4,
    // so another message key) read the owners before A wrote, so its read saw none of them.
    const events = new MemoryEventStore();
    const usage = new MemoryUsage();
    const deps = (store: MemoryEventStore) => ({
      events: store,
      usage,
      customers: customersOf(['c1']),
      quarantine: new MemoryQuarantine(),
      clock: { now: () => Date.parse('2026-11-29T12:00:00Z') },
      markLate: async () => {},
      userRefs: new MemoryUserRefs(),
    });
    const a = [ev('1'), ev('2'), ev('3')];
    const b = [ev('2'), ev('3'), ev('4')];
    expect(messageKey(a)).not.toBe(messageKey(b));
    await consumeMessage('a', { events: a, invalid: [] }, deps(events));
    const staleRead = Object.assign(Object.create(events) as MemoryEventStore, { owners: async () => new Map<string, string>() });
    // Act
    const r = await consumeMessage('b', { events: b, invalid: [] }, deps(staleRead));
    // Assess: 4 distinct events of 5 calls each, whatever the read saw.
    expect(await calls(usage)).toBe(20);
    expect(r).toMatchObject({ counted: 1, duplicates: 2 });
  });

  it('a redelivery of the same message still counts the events it stored before it crashed', async () => {
    // Prepare: message A stored its events, then died before writing its fragment.
    const events = new MemoryEventStore();
    const usage = new MemoryUsage();
    const a = [ev('1'), ev('2')];
    await events.put(a, messageKey(a));
    const deps = {
      events,
      usage,
      customers: customersOf(['c1']),
      quarantine: new MemoryQuarantine(),
      clock: { now: () => Date.parse('2026-11-29T12:00:00Z') },
      markLate: async () => {},
      userRefs: new MemoryUserRefs(),
    };
    // Act
    const r = await consumeMessage('a', { events: a, invalid: [] }, deps);
    // Assess
    expect(await calls(usage)).toBe(10);
    expect(r).toMatchObject({ counted: 2, duplicates: 0 });
  });
});
