import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { UsageEvent } from '../../../../contract/event-contract.js';
import { MAX_MESSAGE_BYTES, messageKey, packMessages, parseMessage } from '../../../../contract/queue-message.js';
import { batchSkips } from '../../../../functions/core/count/consume.js';
import { claimEvents } from '../../../../functions/core/count/ownership.js';

const ev = (id: string, customerId = 'c1', over: Partial<UsageEvent> = {}): UsageEvent => ({
  id,
  source: 'gw',
  customerId,
  type: 'com.serenity.api.call',
  time: '2026-11-29T10:00:00.000Z',
  quantity: 1,
  ...over,
});

describe('packMessages', () => {
  it('keeps every message under the SQS limit and carries every event exactly once', () => {
    // Prepare: 2,000 events of ~300 bytes over 3 customers
    const events = Array.from({ length: 2000 }, (_, i) => ev(`e${i}`, `c${i % 3}`, { operation: 'x'.repeat(200) }));
    // Act
    const packed = packMessages(events);
    // Assess
    expect(packed.every((p) => Buffer.byteLength(p.body) < MAX_MESSAGE_BYTES)).toBe(true);
    expect(packed.flatMap((p) => p.indexes).sort((a, b) => a - b)).toEqual(events.map((_, i) => i));
    expect(packed.length).toBeLessThan(5);
    const roundTrip = packed.flatMap((p) => parseMessage(p.body).events);
    expect(roundTrip).toHaveLength(2000);
  });

  it("groups a customer's events together", () => {
    // Prepare: a budget that fits two events per message
    const events = [ev('a', 'x'), ev('b', 'y'), ev('c', 'x')];
    const two = Buffer.byteLength(JSON.stringify(events[0])) * 2 + 30;
    // Act
    const packed = packMessages(events, two);
    // Assess: x's events share the first message, y gets its own
    expect(packed.map((p) => p.customerIds)).toEqual([['x'], ['y']]);
    expect(packed[0]!.indexes).toEqual([0, 2]);
  });
});

describe('messageKey', () => {
  it('depends on the set of events, not their order', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.string({ minLength: 1 }), { minLength: 1 }), (ids) => {
        const events = ids.map((id) => ev(id));
        expect(messageKey([...events].reverse())).toBe(messageKey(events));
      }),
    );
    expect(messageKey([ev('a')])).not.toBe(messageKey([ev('b')]));
  });
});

describe('parseMessage', () => {
  it('reports a malformed body and invalid events with field paths', () => {
    expect(parseMessage('nope').invalid[0]!.errors).toEqual([{ field: 'body', message: 'is not valid JSON' }]);
    const r = parseMessage(JSON.stringify({ v: 1, events: [ev('a'), { ...ev('b'), quantity: -1 }] }));
    expect(r.events).toHaveLength(1);
    expect(r.invalid[0]!.errors[0]!.field).toBe('quantity');
  });
});

describe('claimEvents', () => {
  it("owns new events, recounts its own stored ones, and leaves others' to them", () => {
    // Prepare
    const events = [ev('new'), ev('mine'), ev('theirs'), ev('new')];
    const existing = new Map([
      ['gw#mine', 'M1'],
      ['gw#theirs', 'M2'],
    ]);
    // Act
    const c = claimEvents('M1', events, existing);
    // Assess
    expect(c.owned.map((e) => e.id)).toEqual(['new', 'mine']);
    expect(c.toWrite.map((e) => e.id)).toEqual(['new']);
    expect(c.duplicates.map((e) => e.id)).toEqual(['theirs', 'new']);
  });

  it('yields a new event to an earlier message of the batch but keeps one it stored itself', () => {
    const c = claimEvents(
      'M2',
      [ev('shared'), ev('stored-by-me')],
      new Map([['gw#stored-by-me', 'M2']]),
      new Set(['gw#shared', 'gw#stored-by-me']),
    );
    expect(c.owned.map((e) => e.id)).toEqual(['stored-by-me']);
    expect(c.duplicates.map((e) => e.id)).toEqual(['shared']);
  });
});

describe('batchSkips', () => {
  it('gives each later message the keys an earlier one carries', () => {
    const skips = batchSkips([
      { id: 'm1', events: [ev('a'), ev('b')] },
      { id: 'm2', events: [ev('b'), ev('c')] },
      { id: 'm3', events: [ev('c')] },
    ]);
    expect([...skips.get('m1')!]).toEqual([]);
    expect([...skips.get('m2')!]).toEqual(['gw#b']);
    expect([...skips.get('m3')!]).toEqual(['gw#c']);
  });
});
