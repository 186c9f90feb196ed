import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { UsageEvent } from '../../../../contract/event-contract.js';
import { MAX_MESSAGE_BYTES, messageKey, packMessages, parseMessage } from '../../../../contract/queue-message.js';

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
