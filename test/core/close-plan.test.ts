import { describe, expect, it } from 'vitest';
import { dayToClose, planChunks } from '../../functions/core/close-plan.js';
import { consumeMessage } from '../../functions/core/consume.js';
import { parseMessage, packMessages } from '../../functions/core/queue-message.js';
import { fixedClock } from '../../functions/core/clock.js';
import type { Customer, EventStore, UsageStore } from '../../functions/core/ports.js';
import type { UsageEvent } from '../../functions/core/event-contract.js';
import { MemoryQuarantine, customersOf } from '../support/memory-ports.js';

const customer = (id: string): Customer => ({ id, createdAt: '2026-01-01T00:00:00Z', updatedAt: '2026-01-01T00:00:00Z' });

describe('planChunks', () => {
  it('splits customers into chunks and hands each its own earlier late days, once each', () => {
    // Act
    const chunks = planChunks('run', '2026-03-05', ['a', 'b', 'c'].map(customer), [
      { customerId: 'b', day: '2026-03-01' },
      { customerId: 'b', day: '2026-03-01' },
      { customerId: 'c', day: '2026-03-05' }, // the day being closed is not "late"
    ], 2);
    // Assess
    expect(chunks.map((c) => c.customers)).toEqual([
      [{ id: 'a', lateDays: [] }, { id: 'b', lateDays: ['2026-03-01'] }],
      [{ id: 'c', lateDays: [] }],
    ]);
  });

  it('closes yesterday when run at 00:30', () => {
    expect(dayToClose(Date.parse('2026-03-01T00:30:00Z'))).toBe('2026-02-28');
  });
});

describe('late-day markers from the consumer', () => {
  it('marks the customer-days of events that arrive after their UTC day ended', async () => {
    // Prepare: one event from two days ago, one from today
    const ev = (id: string, time: string): UsageEvent => ({ id, source: 's', customerId: 'acme', type: 'com.serenity.api.call', time, quantity: 1 });
    const body = packMessages([ev('old', '2026-03-03T10:00:00.000Z'), ev('new', '2026-03-05T09:00:00.000Z')])[0]!.body;
    const marks: { customerId: string; day: string }[] = [];
    const events: EventStore = { owners: async () => new Map(), put: async () => {}, listDay: async () => [] };
    const usage: UsageStore = { putFragments: async () => {}, fragments: async () => [] };
    // Act
    await consumeMessage(body, parseMessage(body), {
      events,
      usage,
      customers: customersOf(['acme']),
      quarantine: new MemoryQuarantine(),
      clock: fixedClock('2026-03-05T12:00:00Z'),
      markLate: async (m) => void marks.push(...m),
    });
    // Assess
    expect(marks).toEqual([{ customerId: 'acme', day: '2026-03-03' }]);
  });
});
