import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { UsageEvent } from '../../../../contract/event-contract.js';
import { consumeMessage } from '../../../../functions/core/count/consume.js';
import { distinctUsers, type UsageFragment } from '../../../../functions/core/count/usage-fragment.js';
import type { UsageStore } from '../../../../functions/core/shared/ports.js';
import { asQueued } from '../../../../functions/core/shared/pseudonyms.js';
import { customersOf, MemoryEventStore, MemoryQuarantine, MemoryUserRefs } from '../../../fakes/memory-ports.js';

class MemoryUsage implements UsageStore {
  items: UsageFragment[] = [];
  async putFragments(f: readonly UsageFragment[]) {
    this.items.push(...structuredClone(f));
  }
  async fragments(c: string, d: string) {
    return this.items.filter((f) => f.customerId === c && f.day === d);
  }
}

const DAY = '2026-11-29';
// User ids that no other stored text can hold by chance: a fixed prefix and a random tail.
const userId = fc.stringMatching(/^[a-z]{3}[0-9a-z]{6}$/).map((s) => `usr_${s}`);
const user = (id: string, customerId: string, u: string, metadata?: Record<string, string>): UsageEvent => ({
  id,
  source: 'gw',
  customerId,
  type: 'com.serenity.user.active',
  time: `${DAY}T10:00:00.000Z`,
  quantity: 1,
  userId: u,
  ...(metadata ? { metadata } : {}),
});

function deps(refs = new MemoryUserRefs()) {
  return {
    events: new MemoryEventStore(),
    usage: new MemoryUsage(),
    customers: customersOf(['c1', 'c2']),
    quarantine: new MemoryQuarantine(),
    clock: { now: () => Date.parse(`${DAY}T12:00:00Z`) },
    markLate: async () => {},
    userRefs: refs,
  };
}

describe('the consumer stores end users by ref, never by id', () => {
  it('no stored event, fragment or quarantined event holds a user id, and distinct users stay exact (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.constantFrom('c1', 'c2', 'ghost'), userId, fc.boolean()), { minLength: 1, maxLength: 30 }),
        async (rows) => {
          // Prepare: users of two customers and of an unregistered one, some naming another user of theirs in metadata
          // (user ids are a customer's own: a value naming another customer's user names nobody of this one).
          const d = deps();
          const firstOf = (c: string) => rows.find(([rc]) => rc === c)![1];
          const events = rows.map(([c, u, named], i) => user(`e${i}`, c, u, named ? { onBehalfOf: firstOf(c) } : undefined));
          // Act
          await consumeMessage('body', { events, invalid: [] }, d);
          // Assess
          const stored = JSON.stringify([
            await d.events.listDay('c1', DAY),
            await d.events.listDay('c2', DAY),
            d.usage.items,
            [...d.quarantine.items.values()],
          ]);
          for (const [, u] of rows) expect(stored).not.toContain(u);
          for (const c of ['c1', 'c2']) {
            const truth = new Set(rows.filter(([rc]) => rc === c).map(([, u]) => u)).size;
            expect(distinctUsers(await d.usage.fragments(c, DAY)).size).toBe(truth);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('gives one user the same ref in every message, and two customers different refs for the same id', async () => {
    // Prepare
    const d = deps();
    // Act
    await consumeMessage('a', { events: [user('a1', 'c1', 'usr_same'), user('a2', 'c2', 'usr_same')], invalid: [] }, d);
    await consumeMessage('b', { events: [user('b1', 'c1', 'usr_same')], invalid: [] }, d);
    const [a1, b1] = [...(await d.events.listDay('c1', DAY))].sort((x, y) => (x.id < y.id ? -1 : 1));
    const [a2] = await d.events.listDay('c2', DAY);
    // Assess
    expect(a1!.userId).toMatch(/^ur_/);
    expect(b1!.userId).toBe(a1!.userId);
    expect(a2!.userId).not.toBe(a1!.userId);
  });

  it('a replayed quarantined event carries its ref, which is kept and not taken for a new id', async () => {
    // Prepare: an unknown customer's event is quarantined with its ref; the customer registers; it is replayed.
    const refs = new MemoryUserRefs();
    const first = deps(refs);
    await consumeMessage('q', { events: [user('q1', 'ghost', 'usr_ghost1')], invalid: [] }, first);
    const kept = [...first.quarantine.items.values()][0]!.event!;
    const later = { ...deps(refs), customers: customersOf(['ghost']) };
    // Act
    await consumeMessage('r', { events: [kept], invalid: [] }, later);
    const [stored] = await later.events.listDay('ghost', DAY);
    // Assess
    expect(kept.userId).toBeUndefined();
    expect(kept.userRef).toMatch(/^ur_/);
    expect(stored!.userId).toBe(kept.userRef);
    expect(refs.mapping.size).toBe(1);
    expect(asQueued(stored!)).toEqual(kept);
  });

  it('an invalid event of a known customer keeps its ref in place of the id; one without a customer withholds it', async () => {
    // Prepare
    const d = deps();
    const invalid = [
      { index: 0, raw: { customerId: 'c1', userId: 'usr_invalid1', quantity: -1, metadata: { who: 'usr_invalid1' } }, errors: [] },
      { index: 1, raw: { customerId: 'bad id', userId: 'usr_invalid2' }, errors: [] },
      // A number is no id a ref is given to, but may be an employee number: withheld too.
      { index: 2, raw: { customerId: 'c1', userId: 4_711_093, quantity: 1 }, errors: [] },
    ];
    // Act
    await consumeMessage('body', { events: [], invalid }, d);
    const stored = JSON.stringify([...d.quarantine.items.values()]);
    // Assess
    expect(stored).not.toContain('usr_invalid');
    expect(stored).not.toContain('4711093');
    expect(stored.match(/\[user id withheld\]/g)?.length).toBe(2);
    expect(stored.match(/ur_[A-Za-z0-9_-]{22}/g)?.length).toBe(2);
  });
});
