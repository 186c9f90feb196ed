import { describe, expect, it } from 'vitest';
import { DAY_MS, HOUR_MS } from '../../../../contract/clock.js';
import { METERS, type Meter } from '../../../../contract/meters.js';
import { createRandom } from '../../../../eval/prng.js';
import { simulateCustomer } from '../../../../eval/synthetic-traffic.js';
import { detectFraud } from '../../../../functions/core/fraud/detect-fraud.js';
import { type PeerAccount, peerStatsFrom } from '../../../../functions/core/fraud/peer-stats.js';
import { dailyValue } from '../../../../functions/core/fraud/rule-context.js';
import { comparableValue } from '../../../../functions/core/fraud/rules/new-account-surge.js';
import { addCalls, inputOf, NO_BENIGN, PROFILE, runRule, START_MS } from '../../../fakes/fraud-fixtures.js';

/** Forty peers of assorted sizes, each simulated through its own first two weeks, long ago. */
function peers(): PeerAccount[] {
  return Array.from({ length: 40 }, (_, i) => {
    const createdAt = START_MS - 300 * DAY_MS + i * DAY_MS + 9 * HOUR_MS;
    const profile = {
      ...PROFILE,
      customerId: `peer-${i}`,
      dailyCalls: 2_000 + 1_000 * i,
      users: 10 + 5 * i,
      files: 200 + 100 * i,
      createdAt,
    };
    const days = simulateCustomer(profile, Math.floor(createdAt / DAY_MS) * DAY_MS, 14, createRandom(100 + i), NO_BENIGN).days;
    return {
      customerId: profile.customerId,
      createdAt: new Date(createdAt).toISOString(),
      days: days.map((d) => ({
        day: d.day,
        values: Object.fromEntries(METERS.map((m) => [m, dailyValue(d, m)])) as Record<Meter, number>,
      })),
    };
  });
}

/** A new account created at 09:00 on the start day, typical in size, `age + 1` days of it. */
function youngAccount(age: number) {
  const createdAt = START_MS + 9 * HOUR_MS;
  const profile = { ...PROFILE, dailyCalls: 8_000, users: 40, files: 800, createdAt };
  return {
    createdAt: new Date(createdAt).toISOString(),
    days: simulateCustomer(profile, START_MS, age + 1, createRandom(3), NO_BENIGN).days,
  };
}

describe('new_account_surge', () => {
  const stats = peerStatsFrom(peers());

  it('flags a 5-day-old account calling far above what new accounts call at that age', () => {
    // Prepare: on day 5 of its life, 150,000 extra calls over the day.
    const { createdAt, days } = youngAccount(5);
    const clean = structuredClone(days);
    for (let h = 0; h < 24; h++) addCalls(days[5]!, h, 6_250);

    // Act
    const found = runRule('new_account_surge', inputOf(days, { createdAt, peers: stats }));
    const quiet = runRule('new_account_surge', inputOf(clean, { createdAt, peers: stats }));

    // Assess
    expect(quiet).toEqual([]);
    expect(found.map((d) => d.meter)).toEqual(['api_calls']);
    const d = found[0]!;
    expect(d.evidence.signals.ageDays).toBe(5);
    expect(d.evidence.observed).toBeGreaterThan(2 * d.evidence.signals.peerQ99!);
    expect(d.evidence.series[0]!.points.map((p) => p.t)).toHaveLength(6);
    expect(d.evidence.series[0]!.points.at(-1)!.hi).toBe(d.evidence.signals.bar);
  });

  it('makes one detection for an account surging on several meters: the strongest, the others folded in', () => {
    // Prepare: on day 5, 150,000 extra calls and twenty times the users.
    const { createdAt, days } = youngAccount(5);
    for (let h = 0; h < 24; h++) addCalls(days[5]!, h, 6_250);
    days[5] = { ...days[5]!, activeUsersDay: days[5]!.activeUsersDay * 20, activeUsers: days[5]!.activeUsers.map((u) => u * 20) };

    // Act
    const found = runRule('new_account_surge', inputOf(days, { createdAt, peers: stats }));

    // Assess
    expect(found).toHaveLength(1);
    const d = found[0]!;
    const other = d.meter === 'api_calls' ? 'active_users' : 'api_calls';
    expect(d.evidence.alsoMatched?.map((m) => [m.rule, m.meter])).toEqual([['new_account_surge', other]]);
    expect(d.evidence.alsoMatched![0]!.score).toBeLessThanOrEqual(d.score);
    expect(d.evidence.series.map((s) => s.name).sort()).toEqual([
      'active_users per day of account age, against peers',
      'api_calls per day of account age, against peers',
    ]);
  });

  it('stays silent without enough peers, and leaves accounts of 14 days or more to the other rules', () => {
    // Prepare
    const { createdAt, days } = youngAccount(5);
    for (let h = 0; h < 24; h++) addCalls(days[5]!, h, 6_250);
    const fewPeers = peerStatsFrom(peers().slice(0, 10));
    const old = youngAccount(15);
    for (let h = 0; h < 24; h++) addCalls(old.days[15]!, h, 6_250);

    // Act
    const withFew = runRule('new_account_surge', inputOf(days, { createdAt, peers: fewPeers }));
    const tooOld = runRule('new_account_surge', inputOf(old.days, { createdAt: old.createdAt, peers: stats }));

    // Assess
    expect(fewPeers.byAge.api_calls[5]!.n).toBe(10);
    expect(withFew).toEqual([]);
    expect(tooOld).toEqual([]);
  });

  it('judges the creation day as a full day: 200 calls in its last 6 hours count as 800', () => {
    // Prepare / Act
    const dayStart = START_MS;
    const value = comparableValue(200, 'api_calls', dayStart, dayStart + 18 * HOUR_MS);
    const late = comparableValue(200, 'api_calls', dayStart, dayStart + 23 * HOUR_MS);
    const files = comparableValue(200, 'protected_files', dayStart, dayStart + 18 * HOUR_MS);

    // Assess: at least 6 hours of exposure are assumed; files are a level and never scaled.
    expect(value).toBe(800);
    expect(late).toBe(800);
    expect(files).toBe(200);
  });

  it('is the only rule that judges a young account', () => {
    // Prepare
    const { createdAt, days } = youngAccount(5);
    for (let h = 0; h < 24; h++) addCalls(days[5]!, h, 6_250);

    // Act
    const found = detectFraud(inputOf(days, { createdAt, peers: stats }));

    // Assess
    expect(found.map((d) => d.rule)).toEqual(['new_account_surge']);
  });
});

describe('peerStatsFrom', () => {
  it('counts only days before 14 of age and up to the night being run, leaving out the excluded', () => {
    // Prepare: three peers created on the start day, one of them excluded.
    const mk = (id: string, calls: number): PeerAccount => ({
      customerId: id,
      createdAt: new Date(START_MS).toISOString(),
      days: Array.from({ length: 20 }, (_, i) => ({
        day: new Date(START_MS + i * DAY_MS).toISOString().slice(0, 10),
        values: { api_calls: calls + i, active_users: 1, protected_files: 10 },
      })),
    });

    // Act
    const stats = peerStatsFrom([mk('a', 100), mk('b', 300), mk('c', 1_000_000)], {
      throughDay: new Date(START_MS + 9 * DAY_MS).toISOString().slice(0, 10),
      exclude: ['c'],
    });

    // Assess
    expect(stats.accounts).toBe(2);
    expect(stats.byAge.api_calls).toHaveLength(14);
    expect(stats.byAge.api_calls[3]).toEqual({ n: 2, q50: 203, q90: 283, q99: 301 });
    expect(stats.byAge.api_calls[10]!.n).toBe(0);
  });
});
