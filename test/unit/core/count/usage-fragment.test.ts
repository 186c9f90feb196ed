import { describe, expect, it } from 'vitest';
import type { ValidationError } from '../../../../contract/errors.js';
import type { UsageEvent } from '../../../../contract/event-contract.js';
import { buildFragments, distinctUsers, foldUsage } from '../../../../functions/core/count/usage-fragment.js';
import { parseUsageQuery, usageReport } from '../../../../functions/core/count/usage-query.js';

let n = 0;
const at = (time: string, over: Partial<UsageEvent>): UsageEvent => ({
  id: `e${n++}`,
  source: 's',
  customerId: 'c',
  type: 'com.serenity.api.call',
  time,
  quantity: 1,
  ...over,
});
const file = (time: string, fileId: string, op: '+' | '-') =>
  at(time, { type: op === '+' ? 'com.serenity.file.protected' : 'com.serenity.file.unprotected', fileId });
const user = (time: string, userId: string) => at(time, { type: 'com.serenity.user.active', userId });

describe('buildFragments', () => {
  it('splits by customer and UTC day and sums calls per hour', () => {
    // Act
    const f = buildFragments('M', [
      at('2026-11-28T23:10:00.000Z', { quantity: 5 }),
      at('2026-11-29T00:10:00.000Z', { quantity: 2 }),
      at('2026-11-29T00:50:00.000Z', { quantity: 3 }),
      at('2026-11-29T00:50:00.000Z', { customerId: 'd', quantity: 1 }),
    ]);
    // Assess
    expect(f.map((x) => [x.customerId, x.day, x.calls])).toEqual([
      ['c', '2026-11-28', { '23': 5 }],
      ['c', '2026-11-29', { '00': 5 }],
      ['d', '2026-11-29', { '00': 1 }],
    ]);
  });
});

describe('foldUsage', () => {
  const day = Date.parse('2026-11-29T00:00:00Z');
  const H = 3_600_000;

  it('counts distinct users per bucket and protected files at each bucket end', () => {
    // Prepare
    const frags = buildFragments('M', [
      user('2026-11-29T01:05:00.000Z', 'u1'),
      user('2026-11-29T01:55:00.000Z', 'u1'),
      user('2026-11-29T02:05:00.000Z', 'u1'),
      user('2026-11-29T02:06:00.000Z', 'u2'),
      file('2026-11-29T01:00:00.000Z', 'f1', '+'),
      file('2026-11-29T01:30:00.000Z', 'f2', '+'),
      file('2026-11-29T01:40:00.000Z', 'f2', '+'), // re-protecting counts once
      file('2026-11-29T02:30:00.000Z', 'f1', '-'),
      file('2026-11-29T02:40:00.000Z', 'f9', '-'), // unprotecting an unknown file changes nothing
    ]);
    // Act
    const b = foldUsage(frags, { from: day + H, to: day + 3 * H, granularity: 'hour' });
    // Assess
    expect(b.map((x) => [x.active_users, x.protected_files])).toEqual([
      [1, 2],
      [2, 1],
    ]);
    expect(distinctUsers(frags).size).toBe(2);
  });

  it('applies file operations in time order whatever order the fragments arrive in', () => {
    const late = buildFragments('M2', [file('2026-11-29T05:00:00.000Z', 'f', '-')]);
    const early = buildFragments('M1', [file('2026-11-29T04:00:00.000Z', 'f', '+')]);
    const b = foldUsage([...late, ...early], { from: day, to: day + 24 * H, granularity: 'day' });
    expect(b[0]!.protected_files).toBe(0);
    const mid = foldUsage([...late, ...early], { from: day, to: day + 5 * H - 1, granularity: 'day' });
    expect(mid[0]!.protected_files).toBe(1);
  });
});

describe('parseUsageQuery', () => {
  it('widens the range to whole buckets', () => {
    const q = parseUsageQuery({ customer: 'c', from: '2026-11-29T10:15:00Z', to: '2026-11-29T12:05:00Z', granularity: 'hour' });
    expect([new Date(q.from).toISOString(), new Date(q.to).toISOString()]).toEqual([
      '2026-11-29T10:00:00.000Z',
      '2026-11-29T13:00:00.000Z',
    ]);
  });

  it('names every bad field', () => {
    try {
      parseUsageQuery({ from: 'x', granularity: 'week' });
      expect.unreachable();
    } catch (err) {
      expect((err as ValidationError).errors.map((e) => e.field)).toEqual(['customer', 'from', 'to', 'granularity']);
    }
  });

  it('refuses a time without its offset, a bare number, and a customer id longer than 256 characters', () => {
    // Act
    const problems = (q: Record<string, string>) => {
      try {
        parseUsageQuery(q);
        return [];
      } catch (err) {
        return (err as ValidationError).errors.map((e) => `${e.field}: ${e.message}`);
      }
    };

    // Assess
    expect(problems({ customer: 'c', from: '1', to: '2026-11-29T00:00:00' })).toEqual([
      'from: must be an ISO-8601 timestamp with its offset, e.g. 2026-03-09T00:00:00Z',
      'to: must be an ISO-8601 timestamp with its offset, e.g. 2026-03-09T00:00:00Z',
    ]);
    expect(problems({ customer: 'c'.repeat(257), from: '2026-11-28', to: '2026-11-29' })).toEqual([
      'customer: must be at most 256 characters',
    ]);
    expect(problems({ customer: 'c', from: '2026-11-28', to: '2026-11-29T00:00:00+01:00' })).toEqual([]);
  });
});

describe('usageReport', () => {
  it('reads only the days the customer can have usage on, however far the asked range lies', async () => {
    // Prepare: a customer registered 2026-11-01; a store that records which days were read
    const read: string[] = [];
    const usage = {
      putFragments: async () => {},
      fragments: async (_c: string, day: string) => {
        read.push(day);
        return [];
      },
    };
    const customer = { id: 'c', createdAt: '2026-11-01T00:00:00Z', updatedAt: '2026-11-01T00:00:00Z' };
    const now = Date.parse('2026-11-29T12:00:00Z');
    const files = { fileHistory: async () => new Map() };

    // Act
    await usageReport(
      parseUsageQuery({ customer: 'c', from: '1970-01-01T00:00:00Z', to: '1970-01-02T00:00:00Z' }),
      customer,
      usage,
      now,
      files,
    );
    const past = read.length;
    await usageReport(
      parseUsageQuery({ customer: 'c', from: '2999-01-01T00:00:00Z', to: '2999-01-02T00:00:00Z' }),
      customer,
      usage,
      now,
      files,
    );
    const future = read.length - past;
    await usageReport(
      parseUsageQuery({ customer: 'c', from: '2026-11-28T00:00:00Z', to: '2026-12-05T00:00:00Z' }),
      customer,
      usage,
      now,
      files,
    );
    const recent = read.slice(past + future);

    // Assess: nothing before the registration's 35-day horizon or after now; the recent range reads its own days and the file lookback's, up to today
    expect([past, future]).toEqual([0, 0]);
    expect([recent[0], recent.at(-1), recent.length]).toEqual(['2026-11-21', '2026-11-29', 9]);
  });
});
