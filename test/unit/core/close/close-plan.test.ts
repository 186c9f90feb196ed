import { describe, expect, it } from 'vitest';
import { fixedClock } from '../../../../contract/clock.js';
import type { UsageEvent } from '../../../../contract/event-contract.js';
import { packMessages, parseMessage } from '../../../../contract/queue-message.js';
import { dayToClose, peerCandidates, peerStats, planChunks } from '../../../../functions/core/close/close-plan.js';
import { consumeMessage } from '../../../../functions/core/count/consume.js';
import type { Customer, EventStore, UsageStore } from '../../../../functions/core/shared/ports.js';
import { customersOf, MemoryQuarantine, MemoryUserRefs } from '../../../fakes/memory-ports.js';

const customer = (id: string): Customer => ({ id, createdAt: '2026-01-01T00:00:00Z', updatedAt: '2026-01-01T00:00:00Z' });

describe('planChunks', () => {
  it('splits customers into chunks and hands each its own earlier late days, once each', () => {
    // Act
    const chunks = planChunks(
      'run',
      '2026-03-05',
      ['a', 'b', 'c'].map(customer),
      [
        { customerId: 'b', day: '2026-03-01' },
        { customerId: 'b', day: '2026-03-01' },
        { customerId: 'c', day: '2026-03-05' }, // the day being closed is not "late"
      ],
      2,
    );
    // Assess
    expect(chunks.map((c) => c.customers)).toEqual([
      [
        { id: 'a', lateDays: [] },
        { id: 'b', lateDays: ['2026-03-01'] },
      ],
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
    const ev = (id: string, time: string): UsageEvent => ({
      id,
      source: 's',
      customerId: 'acme',
      type: 'com.serenity.api.call',
      time,
      quantity: 1,
    });
    const body = packMessages([ev('old', '2026-03-03T10:00:00.000Z'), ev('new', '2026-03-05T09:00:00.000Z')])[0]!.body;
    const marks: { customerId: string; day: string }[] = [];
    const events: EventStore = {
      put: async () => {},
      claim: async () => new Set(),
      listDay: async () => [],
    };
    const usage: UsageStore = { putFragments: async () => {}, fragments: async () => [] };
    // Act
    await consumeMessage(body, parseMessage(body), {
      events,
      usage,
      customers: customersOf(['acme']),
      quarantine: new MemoryQuarantine(),
      clock: fixedClock('2026-03-05T12:00:00Z'),
      markLate: async (m) => void marks.push(...m),
      userRefs: new MemoryUserRefs(),
    });
    // Assess
    expect(marks).toEqual([{ customerId: 'acme', day: '2026-03-03' }]);
  });
});

describe('peer statistics for the new-account rule', () => {
  const day = (d: string, calls: number) => ({
    customerId: 'x',
    day: d,
    periodKey: '2026-03',
    anchorDay: 1,
    eventCount: 1,
    apiCalls: calls,
    apiCallsByHour: [],
    activeUsers: 2,
    files: { start: 0, end: 5, peak: 5 },
    ptd: { apiCalls: 0, activeUsers: 0, filesPeak: 0, filesEnd: 0 },
    values: { api_calls: calls, active_users: 2, protected_files: 5 },
    computedAt: '',
  });
  it('draws recent cohorts and summarises their daily values by account age', () => {
    // Prepare: three peers created 2026-03-01, each with a second day of 10, 20 or 30 calls
    const peer = (id: string, createdAt: string): Customer => ({ id, createdAt, updatedAt: createdAt });
    const fraudster = {
      ...peer('bad', '2026-03-01T00:00:00Z'),
      financeReview: { flagId: 'f', rule: 'new_account_surge', by: 'ana', at: '2026-03-05T00:00:00Z' },
    };
    // 'young' is still in its first two weeks on 2026-03-20: the account the rule judges, not a peer of itself.
    const all = [
      peer('p1', '2026-03-01T00:00:00Z'),
      peer('p2', '2026-03-01T00:00:00Z'),
      peer('p3', '2026-03-01T00:00:00Z'),
      peer('old', '2025-01-01T00:00:00Z'),
      peer('young', '2026-03-10T00:00:00Z'),
      fraudster,
    ];
    // Act
    const candidates = peerCandidates(all, '2026-03-20');
    const stats = peerStats(
      candidates.map((c, i) => ({ customer: c, days: [day('2026-03-02', 10 * (i + 1))] })),
      '2026-03-20',
    );
    // Assess
    expect(candidates.map((c) => c.id).sort()).toEqual(['p1', 'p2', 'p3']);
    expect(stats!.byAge.api_calls[1]).toMatchObject({ n: 3, q50: 20 });
    expect(stats!.byAge.protected_files[1]!.q50).toBe(5);
    expect(peerStats([], '2026-03-20')).toBeUndefined();
  });

  it('takes a customer registered today with an earlier given start into its cohort, and ages it from that start', () => {
    // Prepare: both registered on the night closed; the migrated one started 30 days before
    const migrated: Customer = { ...customer('migrated'), createdAt: '2026-03-20T08:00:00Z', startedAt: '2026-02-19T00:00:00Z' };
    const fresh: Customer = { ...customer('fresh'), createdAt: '2026-03-20T08:00:00Z' };
    // Act
    const candidates = peerCandidates([migrated, fresh], '2026-03-20');
    const stats = peerStats([{ customer: migrated, days: [day('2026-02-20', 40)] }], '2026-03-20');
    // Assess: only the migrated customer's first two weeks are over; its first day counts as its day 1 (age 1)
    expect(candidates.map((c) => c.id)).toEqual(['migrated']);
    expect(stats!.byAge.api_calls[1]).toMatchObject({ n: 1, q50: 40 });
  });
});
