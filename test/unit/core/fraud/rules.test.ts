import { describe, expect, it } from 'vitest';
import { DAY_MS } from '../../../../contract/clock.js';
import { SEVERITY_THRESHOLDS } from '../../../../functions/core/anomaly/constants.js';
import { VOLUME_SPIKE } from '../../../../functions/core/fraud/constants.js';
import { detectFraud } from '../../../../functions/core/fraud/detect-fraud.js';
import { validateFraudInput } from '../../../../functions/core/fraud/fraud-input.js';
import { buildRuleContext } from '../../../../functions/core/fraud/rule-context.js';
import { addCalls, addPlaces, cleanDays, copyDays, inputOf, isoAt, runRule, utcHourOf } from '../../../fakes/fraud-fixtures.js';

// Day 35 from the Monday start is a Monday: 35 days of history before it.
const DAY = 35;
const clean = cleanDays(DAY + 1);

describe('volume_spike', () => {
  it('flags one midday hour at 5x, with the baseline band as evidence', () => {
    // Prepare: a Wednesday, 13:00 local at 5x (the day as a whole stays under twice its usual total).
    const wednesday = DAY + 2;
    const base = cleanDays(wednesday + 1);
    const days = copyDays(base);
    const h = utcHourOf(13);
    addCalls(days[wednesday]!, h, days[wednesday]!.apiCalls[h]! * 4);

    // Act
    const found = runRule('volume_spike', inputOf(days));
    const quiet = runRule('volume_spike', inputOf(base));

    // Assess
    expect(quiet).toEqual([]);
    expect(found).toHaveLength(1);
    const d = found[0]!;
    expect(d.meter).toBe('api_calls');
    expect(d.evidence.variant).toBe('hours');
    expect(d.window).toEqual({ from: isoAt(wednesday, h), to: isoAt(wednesday, h + 1) });
    expect(d.score).toBeGreaterThanOrEqual(SEVERITY_THRESHOLDS.low);
    expect(d.evidence.observed).toBeGreaterThan(4 * d.evidence.expected);
    const hourly = d.evidence.series.find((s) => s.granularity === 'hour')!;
    const flagged = hourly.points.filter((p) => p.flagged);
    expect(flagged.map((p) => p.t)).toEqual([isoAt(wednesday, h)]);
    expect(flagged[0]!.observed).toBeGreaterThan(flagged[0]!.hi);
    expect(hourly.points.length).toBeGreaterThan(24);
    expect(hourly.points.every((p) => p.lo <= p.expected && p.expected <= p.hi)).toBe(true);
  });

  it('flags a whole day at 3x from its hours together, and leaves a day at 1.8x (a level shift) alone', () => {
    // Prepare
    const up = copyDays(clean);
    for (let h = 0; h < 24; h++) addCalls(up[DAY]!, h, up[DAY]!.apiCalls[h]! * 2);
    const shifted = copyDays(clean);
    for (let h = 0; h < 24; h++) addCalls(shifted[DAY]!, h, Math.round(shifted[DAY]!.apiCalls[h]! * 0.8));

    // Act
    const found = runRule('volume_spike', inputOf(up));
    const quiet = runRule('volume_spike', inputOf(shifted));

    // Assess
    expect(found.map((d) => [d.meter, d.evidence.variant, d.window.from, d.window.to])).toEqual([
      ['api_calls', 'day', isoAt(DAY), isoAt(DAY + 1)],
    ]);
    expect(found[0]!.evidence.signals.dayZ).toBeGreaterThanOrEqual(VOLUME_SPIKE.wholeDayZ);
    expect(quiet).toEqual([]);
  });

  it("names where the spike day's calls came from: the usual places, or new ones marked new", () => {
    // Prepare: the same 5x hour twice, once from the customer's usual places, once with 3 new /24s in RU carrying most of it.
    const wednesday = DAY + 2;
    const h = utcHourOf(13);
    const usual = copyDays(cleanDays(wednesday + 1));
    addCalls(usual[wednesday]!, h, usual[wednesday]!.apiCalls[h]! * 4);
    const leaked = copyDays(cleanDays(wednesday + 1));
    const extra = leaked[wednesday]!.apiCalls[h]! * 4;
    (leaked[wednesday]!.apiCalls as number[])[h]! += extra;
    const attackers = ['198.51.100.0/24', '198.51.101.0/24', '198.51.102.0/24'].map((prefix) => ({ prefix, country: 'RU' }));
    addPlaces(leaked[wednesday]!.keys[0]!, attackers, Math.round(extra / 3), [h]);

    // Act
    const [fromUsual] = runRule('volume_spike', inputOf(usual));
    const [fromNew] = runRule('volume_spike', inputOf(leaked));

    // Assess
    // (the clean traffic's travellers bring a handful of new prefixes every day, well under 2 % of calls)
    expect(fromUsual!.evidence.signals.newPlaceShare).toBeLessThan(0.02);
    expect(fromUsual!.evidence.topIpPrefixes!.slice(0, 3).some((p) => p.new)).toBe(false);
    expect(fromUsual!.evidence.apiKeyIds).toEqual(
      usual[wednesday]!.keys.filter((k) => k.calls > 0)
        .sort((a, b) => b.calls - a.calls)
        .map((k) => k.apiKeyId)
        .slice(0, 5),
    );
    for (const a of attackers)
      expect(fromNew!.evidence.topIpPrefixes).toContainEqual({ value: a.prefix, calls: Math.round(extra / 3), new: true });
    expect(fromNew!.evidence.topCountries!.find((c) => c.value === 'RU')).toMatchObject({ new: true });
    expect(fromNew!.evidence.signals.newPlaceShare).toBeGreaterThan(0.3);
    expect(fromNew!.evidence.summary).toMatch(/% of the day's calls from IP prefixes new in 28 days$/);
  });

  it('leaves a busy hour at 3x alone even where the detector flags it: a spike is 4x or more', () => {
    // Prepare: a Wednesday's 13:00 local at 3x its calls: 9,534 against the detector's 2,388 expected (3.99x, z 5.4)
    const wednesday = DAY + 2;
    const h = utcHourOf(13);
    const days = copyDays(cleanDays(wednesday + 1));
    addCalls(days[wednesday]!, h, days[wednesday]!.apiCalls[h]! * 2);

    // Act
    const ctx = buildRuleContext(validateFraudInput(inputOf(days)));
    const found = runRule('volume_spike', inputOf(days));

    // Assess: the detector flags the hour, the rule does not
    const hour = ctx.hourly('api_calls')[wednesday * 24 + h]!;
    expect(hour.flagged).toBe(true);
    expect(hour.value / hour.expected).toBeLessThan(VOLUME_SPIKE.minHourlyRatio);
    expect(found).toEqual([]);
  });

  it('flags a whole day at 4x on the daily view', () => {
    // Prepare
    const days = copyDays(clean);
    for (let h = 0; h < 24; h++) addCalls(days[DAY]!, h, days[DAY]!.apiCalls[h]! * 3);

    // Act
    const found = runRule('volume_spike', inputOf(days));

    // Assess
    expect(found.map((d) => [d.meter, d.evidence.variant, d.window.from, d.window.to])).toEqual([
      ['api_calls', 'day', isoAt(DAY), isoAt(DAY + 1)],
    ]);
  });

  it('does not flag protected files coming back to where they stood last week, and does flag them beyond it', () => {
    // Prepare: files halved for two days (a clean-up, or end-of-period gaming), then back at their level on DAY;
    // and the same customer protecting 80 % more files than ever on DAY instead
    const back = copyDays(clean);
    for (const d of [DAY - 2, DAY - 1]) back[d]!.protectedFiles = back[d]!.protectedFiles.map((f) => Math.round(f / 2));
    const beyond = copyDays(clean);
    const peak = Math.max(...clean.slice(DAY - 7, DAY).flatMap((d) => d.protectedFiles));
    beyond[DAY]!.protectedFiles = beyond[DAY]!.protectedFiles.map((f, h) => (h >= 12 ? Math.round(peak * 1.8) : f));

    // Act
    const returned = runRule('volume_spike', inputOf(back)).filter((d) => d.meter === 'protected_files');
    const grown = runRule('volume_spike', inputOf(beyond)).filter((d) => d.meter === 'protected_files');

    // Assess
    expect(returned).toEqual([]);
    expect(grown).toHaveLength(1);
  });

  it('does not let a spike it flagged teach the baseline', () => {
    // Prepare: the same 8x hours on day 28, then a clean day 35.
    const spiked = copyDays(clean);
    const hours = [11, 12, 13].map((x) => utcHourOf(x));
    for (const h of hours) addCalls(spiked[28]!, h, spiked[28]!.apiCalls[h]! * 7);

    // Act
    const flagged = runRule('volume_spike', inputOf(spiked.slice(0, 29)));
    const before = buildRuleContext(validateFraudInput(inputOf(clean))).hourly('api_calls');
    const after = buildRuleContext(validateFraudInput(inputOf(spiked))).hourly('api_calls');

    // Assess: flagged, and a week later the same hours are expected within 10 % of what the clean history expects.
    expect(flagged).toHaveLength(1);
    for (const h of hours) {
      const i = DAY * 24 + h;
      expect(Math.abs(after[i]!.expected - before[i]!.expected) / before[i]!.expected).toBeLessThan(0.1);
    }
  });
});

describe('leaked_key', () => {
  const attackers = Array.from({ length: 12 }, (_, i) => ({ prefix: `198.51.${100 + i}.0/24`, country: ['RU', 'CN', 'BR'][i % 3]! }));

  it('flags a key used from a dozen new prefixes in three new countries, naming them', () => {
    // Prepare: key 0 (a server key) also used from the attackers' prefixes, 02:00-10:00 UTC.
    const days = copyDays(clean);
    const key = days[DAY]!.keys[0]!;
    addPlaces(key, attackers, 60, [2, 3, 4, 5, 6, 7, 8, 9]);

    // Act
    const found = runRule('leaked_key', inputOf(days));
    const quiet = runRule('leaked_key', inputOf(clean));

    // Assess
    expect(quiet).toEqual([]);
    expect(found).toHaveLength(1);
    const d = found[0]!;
    expect(d.meter).toBe('api_calls');
    expect(d.window).toEqual({ from: isoAt(DAY), to: isoAt(DAY + 1) });
    expect(d.evidence.apiKeyIds).toEqual([key.apiKeyId]);
    const newPrefixes = d.evidence.topIpPrefixes!.filter((p) => p.new);
    expect(newPrefixes).toHaveLength(10);
    for (const p of newPrefixes) expect(attackers.map((a) => a.prefix)).toContain(p.value);
    expect(
      d.evidence
        .topCountries!.filter((c) => c.new)
        .map((c) => c.value)
        .sort(),
    ).toEqual(['BR', 'CN', 'RU']);
    expect(d.evidence.signals.newPrefixes).toBe(12);
    expect(d.evidence.observed).toBe(12 * 60);
  });

  it('flags too many countries within one hour', () => {
    // Prepare: a key used every day from four countries, one at a time (each in its own hours); on the
    // scored day all four in the same hour. Nothing about it is new.
    const days = copyDays(clean);
    const countries = ['DE', 'FR', 'NL', 'ES'];
    days.forEach((d, i) => {
      const together = i === DAY;
      d.keys.push({
        apiKeyId: 'k-roaming',
        calls: 400,
        ipPrefixes: Object.fromEntries(countries.map((_c, j) => [`10.0.${j}.0/24`, 100])),
        countries: Object.fromEntries(countries.map((c) => [c, 100])),
        countriesByHour: Array.from({ length: 24 }, (_, h) =>
          together && h === 9 ? countries : h >= 8 && h < 12 ? [countries[h - 8]!] : [],
        ),
      });
    });

    // Act
    const found = runRule('leaked_key', inputOf(days));
    const quiet = runRule('leaked_key', inputOf(days.slice(0, DAY)));

    // Assess
    expect(quiet).toEqual([]);
    expect(found).toHaveLength(1);
    expect(found[0]!.evidence.apiKeyIds).toEqual(['k-roaming']);
    expect(found[0]!.evidence.signals).toMatchObject({ maxHourCountries: 4, hourCountryBar: 4, newPrefixes: 0, newCountries: 0 });
  });

  it("does not flag a server migration: all of a key's prefixes replaced in its own country", () => {
    // Prepare: key 0 moves to three new prefixes; its old ones go quiet.
    const days = copyDays(clean);
    const key = days[DAY]!.keys[0]! as { calls: number; ipPrefixes: Record<string, number> };
    const calls = key.calls;
    key.ipPrefixes = {
      '192.0.2.0/24': Math.round(calls / 3),
      '192.0.3.0/24': Math.round(calls / 3),
      '192.0.4.0/24': calls - 2 * Math.round(calls / 3),
    };

    // Act
    const found = runRule('leaked_key', inputOf(days));

    // Assess
    expect(found).toEqual([]);
  });

  it("counts two new countries only when the new places carry a tenth of the key's calls", () => {
    // Prepare: key 0 (about 12,000 calls a day, all from DE) also used from two prefixes in two new countries,
    // carrying about 5 % of its calls in one case and about 15 % in the other. Two prefixes are below every count
    // bar but the countries' (2).
    const abroad = (callsEach: number) => {
      const days = copyDays(clean);
      addPlaces(
        days[DAY]!.keys[0]!,
        [
          { prefix: '198.51.100.0/24', country: 'NL' },
          { prefix: '198.51.101.0/24', country: 'PL' },
        ],
        callsEach,
        [9],
      );
      return days;
    };

    // Act
    const few = runRule('leaked_key', inputOf(abroad(320)));
    const many = runRule('leaked_key', inputOf(abroad(1100)));

    // Assess
    expect(few).toEqual([]);
    expect(many).toHaveLength(1);
    expect(many[0]!.evidence.signals).toMatchObject({ newPrefixes: 2, newCountries: 2, newCountryBar: 2 });
    expect(many[0]!.evidence.signals.newCallShare).toBeGreaterThan(0.1);
  });

  it("does not flag a new key brought up on new servers in the customer's own country, and does beside a new country", () => {
    // Prepare: on the scored day a key with no history (judged against all the customer's keys, whose user key
    // churns prefixes: a bar of 39) carries 11,000 calls from 44 prefixes the customer never used; in the second
    // case one of them is in a country it never used.
    const newKey = (countryOfLast: string) => {
      const days = copyDays(clean);
      const key = { apiKeyId: 'k-new', calls: 0, ipPrefixes: {}, countries: {} };
      days[DAY]!.keys.push(key);
      const places = Array.from({ length: 44 }, (_, i) => ({ prefix: `203.0.${10 + i}.0/24`, country: i === 43 ? countryOfLast : 'DE' }));
      addPlaces(key, places, 250, [9, 10, 11]);
      return days;
    };

    // Act
    const deployment = runRule('leaked_key', inputOf(newKey('DE')));
    const abroad = runRule('leaked_key', inputOf(newKey('VN')));

    // Assess
    expect(deployment).toEqual([]);
    expect(abroad).toHaveLength(1);
    expect(abroad[0]!.evidence.apiKeyIds).toEqual(['k-new']);
    expect(abroad[0]!.evidence.signals).toMatchObject({ keyBaseline: 0, newPrefixes: 44, newPrefixBar: 39, newCountries: 1 });
  });

  it('flags a key taking a third of its calls from three new prefixes in its own country', () => {
    // Prepare: nothing about the places is foreign and three new prefixes are below the count bar (4);
    // what gives the leak away is how much traffic the new places carry, spread over all three.
    const days = copyDays(clean);
    const key = days[DAY]!.keys[0]!;
    const calls = key.calls;
    const local = [0, 1, 2].map((i) => ({ prefix: `203.0.${113 + i}.0/24`, country: 'DE' }));
    addPlaces(key, local, Math.round(calls / 6), [8, 9, 10, 11]);
    // The same new calls from one new prefix (a server added) and two near-idle ones.
    const added = copyDays(clean);
    const other = added[DAY]!.keys[0]!;
    addPlaces(other, local.slice(0, 1), Math.round(calls / 2), [8, 9, 10, 11]);
    addPlaces(other, local.slice(1), 2, [9]);

    // Act
    const found = runRule('leaked_key', inputOf(days));
    const addedServer = runRule('leaked_key', inputOf(added));

    // Assess
    expect(found).toHaveLength(1);
    expect(found[0]!.evidence.signals).toMatchObject({ newPrefixes: 3, newCountries: 0 });
    expect(found[0]!.evidence.signals.newCallsStrength).toBeGreaterThanOrEqual(1);
    expect(found[0]!.evidence.signals.newCallShare).toBeCloseTo(1 / 3, 2);
    expect(addedServer).toEqual([]);
  });

  it("keeps a flagged day out of the key's baseline, so the same attackers are new again a week later", () => {
    // Prepare
    const days = copyDays(clean);
    for (const d of [28, DAY]) addPlaces(days[d]!.keys[0]!, attackers, 60, [2, 3, 4]);

    // Act
    const found = runRule('leaked_key', inputOf(days));

    // Assess
    expect(found).toHaveLength(1);
    expect(found[0]!.evidence.signals.newPrefixes).toBe(12);
  });
});

describe('account_sharing', () => {
  const scaleUsers = (days: ReturnType<typeof copyDays>, k: number, day = DAY) => {
    const d = days[day]!;
    d.activeUsers = d.activeUsers.map((u) => Math.round(u * k));
    d.activeUsersDay = Math.max(Math.round(d.activeUsersDay * k), ...d.activeUsers);
  };

  it('flags active users falling to 30 % while calls stay flat (calls per user jump)', () => {
    // Prepare
    const days = copyDays(clean);
    scaleUsers(days, 0.3);

    // Act
    const found = runRule('account_sharing', inputOf(days));
    const quiet = runRule('account_sharing', inputOf(clean));

    // Assess
    expect(quiet).toEqual([]);
    expect(found.map((d) => [d.meter, d.evidence.variant])).toEqual([['active_users', 'calls_per_user_up']]);
    expect(found[0]!.evidence.series.map((s) => s.name)).toContain('API calls per active user per day');
  });

  it('still flags the fourth day of a sharing pattern: its first days do not become the bar', () => {
    // Prepare
    const days = copyDays(clean);
    for (let day = DAY - 3; day <= DAY; day++) scaleUsers(days, 0.3, day);

    // Act
    const found = runRule('account_sharing', inputOf(days));

    // Assess
    expect(found.map((d) => [d.meter, d.evidence.variant])).toEqual([['active_users', 'calls_per_user_up']]);
  });

  it('flags active users jumping 4x while calls stay flat', () => {
    // Prepare
    const days = copyDays(clean);
    scaleUsers(days, 4);

    // Act
    const found = runRule('account_sharing', inputOf(days));

    // Assess
    expect(found.map((d) => d.evidence.variant)).toEqual(['users_up_calls_flat']);
  });

  it('does not flag users and calls falling together (an outage)', () => {
    // Prepare
    const days = copyDays(clean);
    scaleUsers(days, 0.3);
    const d = days[DAY]!;
    d.apiCalls = d.apiCalls.map((c) => Math.round(c * 0.3));

    // Act
    const found = runRule('account_sharing', inputOf(days));

    // Assess
    expect(found).toEqual([]);
  });
});

describe('off_hours_burst', () => {
  it('flags a burst at 03:00 local the size of the busy hour, and not a clean night', () => {
    // Prepare
    const days = copyDays(clean);
    const busy = Math.max(...days[DAY - 1]!.apiCalls, ...days[DAY - 3]!.apiCalls);
    const h = utcHourOf(3);
    addCalls(days[DAY]!, h, busy);

    // Act
    const found = runRule('off_hours_burst', inputOf(days));
    const quiet = runRule('off_hours_burst', inputOf(clean));

    // Assess
    expect(quiet).toEqual([]);
    expect(found).toHaveLength(1);
    expect(found[0]!.window).toEqual({ from: isoAt(DAY, h), to: isoAt(DAY, h + 1) });
    expect(found[0]!.severity).toBe('high');
    expect(found[0]!.evidence.signals.busyHour).toBeGreaterThan(0);
  });

  it('never flags a customer busy around the clock', () => {
    // Prepare
    const days = copyDays(cleanDays(DAY + 1, { shape: 'always_on', weekendFactor: 0.9 }));
    const h = utcHourOf(3);
    addCalls(days[DAY]!, h, days[DAY]!.apiCalls[h]!);

    // Act
    const found = runRule('off_hours_burst', inputOf(days));

    // Assess
    expect(found).toEqual([]);
  });
});

describe('end_of_period_gaming', () => {
  // Calendar periods: February ends 2026-03-01; its last three days are 02-26..02-28 (days 52-54).
  const long = cleanDays(55);
  const unprotect = (days: ReturnType<typeof copyDays>, d: number, share: number) => {
    for (let i = d; i < days.length; i++) {
      const f = days[i]!.protectedFiles;
      for (let h = i === d ? utcHourOf(14) : 0; h < 24; h++) f[h] = Math.round(f[h]! * (1 - share));
    }
  };

  it('flags half the files unprotected two days before the period ends', () => {
    // Prepare
    const days = copyDays(long.slice(0, 54));
    unprotect(days, 53, 0.5);

    // Act
    const found = runRule('end_of_period_gaming', inputOf(days));
    const quiet = runRule('end_of_period_gaming', inputOf(long.slice(0, 54)));

    // Assess
    expect(quiet).toEqual([]);
    expect(found).toHaveLength(1);
    expect(found[0]!.meter).toBe('protected_files');
    expect(found[0]!.evidence.signals.dropShare).toBeCloseTo(0.5, 1);
    expect(found[0]!.severity).toBe('medium');
  });

  it('does not flag the same clean-up in the middle of the period', () => {
    // Prepare: day 42 is 2026-02-16.
    const days = copyDays(long.slice(0, 43));
    unprotect(days, 42, 0.5);

    // Act
    const found = runRule('end_of_period_gaming', inputOf(days));

    // Assess
    expect(found).toEqual([]);
  });
});

describe('detectFraud', () => {
  it('folds a volume spike into the more specific rule on the same meter', () => {
    // Prepare: an off-hours burst is a volume spike too.
    const days = copyDays(clean);
    addCalls(days[DAY]!, utcHourOf(3), Math.max(...days[DAY - 1]!.apiCalls));

    // Act
    const found = detectFraud(inputOf(days));

    // Assess
    expect(found.map((d) => d.rule)).toEqual(['off_hours_burst']);
    expect(found[0]!.evidence.alsoMatched?.map((m) => m.rule)).toEqual(['volume_spike']);
  });

  it('reports every problem with its input at once', () => {
    // Prepare: a typo'd field, a short hour list, a gap between days, a scored day that is not last.
    const days = copyDays(clean.slice(0, 10));
    days[2]!.apiCalls = [1, 2, 3];
    const broken = { ...inputOf([...days.slice(0, 5), ...days.slice(6)]), day: days[8]!.day, peerz: {} };

    // Act
    let error: unknown;
    try {
      detectFraud(broken as never);
    } catch (e) {
      error = e;
    }

    // Assess
    const fields = (error as { errors: { field: string }[] }).errors.map((e) => e.field);
    expect(fields).toEqual(expect.arrayContaining(['peerz', 'days[2].apiCalls', 'days[5].day', 'days']));
    expect((error as { retryable: boolean }).retryable).toBe(false);
  });

  it('judges a young account only against peers', () => {
    // Prepare: an account created 5 days before the scored day, with a volume spike its own history would see.
    const days = copyDays(clean.slice(DAY - 5));
    addCalls(days[5]!, utcHourOf(12), days[5]!.apiCalls[utcHourOf(12)]! * 10);
    const createdAt = new Date(Date.parse(`${days[0]!.day}T00:00:00Z`)).toISOString();

    // Act
    const found = detectFraud(inputOf(days, { createdAt }));

    // Assess: no peers given, so nothing; and no own-history rule ran.
    expect(found).toEqual([]);
  });

  it('cuts the history to the last 8 weeks', () => {
    // Prepare / Act
    const found = detectFraud(inputOf(cleanDays(70)));

    // Assess: it ran (no error) on the cut history, and the clean customer stays quiet.
    expect(found).toEqual([]);
    expect(DAY_MS).toBe(86_400_000);
  });
});
