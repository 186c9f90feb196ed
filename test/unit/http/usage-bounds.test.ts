import { describe, expect, it } from 'vitest';
import type { ValidationError } from '../../../contract/errors.js';
import type { FileOp, UsageFragment } from '../../../functions/core/count/usage-fragment.js';
import { parseUsageQuery, usageReport } from '../../../functions/core/count/usage-query.js';

/** The field and message of each problem `parseUsageQuery` finds, or none. */
function problems(q: Record<string, string>): string[] {
  try {
    parseUsageQuery(q);
    return [];
  } catch (err) {
    return (err as ValidationError).errors.map((e) => `${e.field}: ${e.message}`);
  }
}

describe('GET /v1/usage: bounded ranges and reads (defect 9)', () => {
  it('refuses a range wider than 93 days of days or 31 days of hours, naming `to`', () => {
    // Act / Assess
    expect(problems({ customer: 'c', from: '2026-01-01T00:00:00Z', to: '2026-04-04T00:00:00Z' })).toEqual([]);
    expect(problems({ customer: 'c', from: '2026-01-01T00:00:00Z', to: '2026-04-05T00:00:00Z' })).toEqual([
      'to: must be at most 93 days after from with granularity=day',
    ]);
    expect(problems({ customer: 'c', from: '2026-01-01T00:00:00Z', to: '2026-02-01T00:00:00Z', granularity: 'hour' })).toEqual([]);
    expect(problems({ customer: 'c', from: '2026-01-01T00:00:00Z', to: '2026-02-01T01:00:00Z', granularity: 'hour' })).toEqual([
      'to: must be at most 31 days after from with granularity=hour',
    ]);
    // A registered customer's whole life at day granularity was one request before: two years of days.
    expect(problems({ customer: 'c', from: '2024-12-01T00:00:00Z', to: '2026-12-01T00:00:00Z' })).toHaveLength(1);
  });

  it("reads the range's days and a week before, not every day since registration, and still counts files protected long ago", async () => {
    // Prepare: a customer registered two years ago, who protected a file 300 days ago (the close's history holds it)
    // and unprotected another one this week (only fragments hold that: the close has not run since)
    const now = Date.parse('2026-12-02T12:00:00Z');
    const customer = { id: 'old-co', createdAt: '2024-12-01T00:00:00Z', updatedAt: '2024-12-01T00:00:00Z' };
    const oldOp: FileOp = ['f-old', '+', Date.parse('2026-02-05T10:00:00Z'), 'k1'];
    const weekOp: FileOp = ['f-week', '+', Date.parse('2026-11-28T10:00:00Z'), 'k2'];
    const fragment = (day: string, fileOps: FileOp[], calls: Record<string, number>): UsageFragment => ({
      customerId: 'old-co',
      day,
      messageKey: `m-${day}`,
      calls,
      users: {},
      fileOps,
      events: 1,
    });
    const stored = new Map<string, UsageFragment[]>([
      ['2026-02-05', [fragment('2026-02-05', [oldOp], {})]],
      ['2026-11-28', [fragment('2026-11-28', [weekOp], {})]],
      ['2026-12-02', [fragment('2026-12-02', [], { '10': 7 })]],
    ]);
    const read: string[] = [];
    const usage = {
      putFragments: async () => {},
      fragments: async (_c: string, day: string) => {
        read.push(day);
        return stored.get(day) ?? [];
      },
    };
    const files = { fileHistory: async () => new Map<string, FileOp[]>([['f-old', [oldOp]]]) };

    // Act
    const q = parseUsageQuery({ customer: 'old-co', from: '2026-12-02T00:00:00Z', to: '2026-12-03T00:00:00Z' });
    const report = await usageReport(q, customer, usage, now, files);

    // Assess: 8 days read (the day asked and the 7 before it), where all 767 since the horizon were read before
    expect([read.length, read[0], read.at(-1)]).toEqual([8, '2026-11-25', '2026-12-02']);
    expect(report.totals).toEqual({ api_calls: 7, active_users: 0, protected_files: 2 });
  });
});
