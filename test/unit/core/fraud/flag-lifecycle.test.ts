import { describe, expect, it } from 'vitest';
import { DAY_MS, HOUR_MS } from '../../../../contract/clock.js';
import { ValidationError } from '../../../../contract/errors.js';
import type { Meter } from '../../../../contract/meters.js';
import { holdEscalations, holdsFromFlags, releasedDays } from '../../../../functions/core/fraud/holds.js';
import { flagId, mergeFlags } from '../../../../functions/core/fraud/merge-flags.js';
import { FlagAlreadyReviewedError, reviewFlag, sameReview } from '../../../../functions/core/fraud/review-flag.js';
import type { Detection, Flag, FlagSeverity, FraudRule } from '../../../../functions/core/fraud/types.js';

const T0 = Date.parse('2026-03-09T00:00:00Z');
const iso = (day: number, hour = 0) => new Date(T0 + day * DAY_MS + hour * HOUR_MS).toISOString();
const NIGHT = (day: number) => iso(day + 1, 0.5);

const SCORES: Record<FlagSeverity, number> = { low: 0.55, medium: 0.75, high: 0.9 };

function detection(
  day: number,
  options: { severity?: FlagSeverity; rule?: FraudRule; meter?: Meter; customerId?: string; hours?: [number, number] } = {},
): Detection {
  const { severity = 'high', rule = 'volume_spike', meter = 'api_calls', customerId = 'cus-1', hours = [0, 24] } = options;
  return {
    customerId,
    rule,
    meter,
    window: { from: iso(day, hours[0]), to: iso(day, hours[1]) },
    score: SCORES[severity],
    severity,
    evidence: {
      summary: `day ${day}`,
      observed: 100 + day,
      expected: 10,
      signals: { strength: 2 },
      series: [
        {
          name: `${meter} per hour`,
          granularity: 'hour',
          points: [{ t: iso(day, 12), observed: 100, expected: 10, lo: 0, hi: 30, flagged: true }],
        },
      ],
      topCountries: [{ value: 'RU', calls: 50 + day, new: true }],
    },
  };
}

/** Runs nights one after another, storing what each one creates or updates. */
function runNights(nights: Detection[][], stored: Flag[] = []): { stored: Flag[]; results: ReturnType<typeof mergeFlags>[] } {
  const results: ReturnType<typeof mergeFlags>[] = [];
  let flags = stored;
  nights.forEach((found, n) => {
    const r = mergeFlags(flags, found, NIGHT(n));
    results.push(r);
    const byId = new Map(flags.map((f) => [f.id, f]));
    for (const f of [...r.created, ...r.updated]) byId.set(f.id, f);
    flags = [...byId.values()];
  });
  return { stored: flags, results };
}

describe('mergeFlags', () => {
  it('opens one flag and extends it while the pattern continues on consecutive days', () => {
    // Prepare / Act: the same pattern on days 0, 1 and 2, louder on day 1.
    const { stored, results } = runNights([
      [detection(0, { severity: 'medium' })],
      [detection(1, { severity: 'high' })],
      [detection(2, { severity: 'low' })],
    ]);

    // Assess
    expect(results.map((r) => [r.created.length, r.updated.length])).toEqual([
      [1, 0],
      [0, 1],
      [0, 1],
    ]);
    expect(stored).toHaveLength(1);
    const f = stored[0]!;
    expect(f.id).toBe(flagId('cus-1', 'volume_spike', 'api_calls', iso(0)));
    expect(f.window).toEqual({ from: iso(0), to: iso(3) });
    expect([f.severity, f.score]).toEqual(['high', SCORES.high]);
    expect(f.status).toBe('open');
    expect(f.history.map((h) => h.action)).toEqual(['opened', 'extended', 'extended']);
    expect(f.evidence.series[0]!.points.map((p) => p.t)).toEqual([iso(0, 12), iso(1, 12), iso(2, 12)]);
    expect(f.evidence.topCountries).toEqual([{ value: 'RU', calls: 153, new: true }]);
  });

  it("replaces a day's top values when that day is scored again, rather than counting it twice", () => {
    // Prepare: days 0 and 1 flagged (RU 50 and 51 calls); late events then make day 1 louder, RU 80
    const { stored } = runNights([[detection(0, { severity: 'medium' })], [detection(1, { severity: 'medium' })]]);
    const rescored = { ...detection(1), evidence: { ...detection(1).evidence, topCountries: [{ value: 'RU', calls: 80, new: true }] } };

    // Act
    const { updated } = mergeFlags(stored, [rescored], NIGHT(2));

    // Assess
    expect(stored[0]!.evidence.topCountries).toEqual([{ value: 'RU', calls: 101, new: true }]);
    expect(updated[0]!.evidence.topCountries).toEqual([{ value: 'RU', calls: 130, new: true }]);
    expect(Object.keys(updated[0]!.evidence.placesByDay ?? {})).toEqual(['2026-03-09', '2026-03-10']);
  });

  it('adds nothing when the same night runs again', () => {
    // Prepare
    const first = runNights([[detection(0)], [detection(1)]]);

    // Act: night 1 again, with the same detections.
    const again = mergeFlags(first.stored, [detection(1)], NIGHT(1));

    // Assess
    expect(again).toEqual({ created: [], updated: [], suppressed: [] });
  });

  it('opens a new flag after a quiet day, and keeps rules, meters and customers apart', () => {
    // Prepare / Act: days 0 and 2 (a gap), plus another meter, rule and customer on day 0.
    const { stored } = runNights([
      [
        detection(0),
        detection(0, { meter: 'active_users' }),
        detection(0, { rule: 'off_hours_burst', hours: [2, 4] }),
        detection(0, { customerId: 'cus-2' }),
      ],
      [],
      [detection(2)],
    ]);

    // Assess
    expect(stored).toHaveLength(5);
    expect(new Set(stored.map((f) => f.id)).size).toBe(5);
  });

  it('merges a night that scores several days (late ones too) oldest first, into one flag, and adds nothing on a rerun', () => {
    // Prepare: day 3 flagged on its night; late events then make days 1 and 2 suspicious too
    const { stored } = runNights([[detection(3, { severity: 'medium' })]]);
    const night = [detection(3, { severity: 'medium' }), detection(2, { severity: 'high' }), detection(1, { severity: 'low' })];

    // Act: one night scores days 1, 2 and 3 (given out of order), then runs again
    const r = mergeFlags(stored, night, NIGHT(3));
    const again = mergeFlags(r.updated, night, NIGHT(3));

    // Assess: the stored flag grows back over days 2 and 1 (its id stays), at the louder severity; no
    // second flag opens on day 1 although day 1 alone does not touch the stored flag
    expect([r.created.length, r.updated.length]).toEqual([0, 1]);
    const f = r.updated[0]!;
    expect(f.id).toBe(flagId('cus-1', 'volume_spike', 'api_calls', iso(3)));
    expect(f.window).toEqual({ from: iso(1), to: iso(4) });
    expect(f.severity).toBe('high');
    expect(f.history.map((h) => [h.action, h.window?.from])).toEqual([
      ['opened', iso(3)],
      ['extended', iso(2)],
      ['extended', iso(1)],
    ]);
    expect(again).toEqual({ created: [], updated: [], suppressed: [] });
  });

  it('keeps one new_account_surge flag per account: other meters and later days fold into it, and it holds every meter', () => {
    // Prepare / Act: a new account surges on calls on day 1, on users on day 4 (after quiet days), and on calls again on day 6.
    const surge = (day: number, meter: Meter, severity: FlagSeverity) => detection(day, { rule: 'new_account_surge', meter, severity });
    const { stored, results } = runNights([
      [surge(1, 'api_calls', 'high')],
      [],
      [],
      [surge(4, 'active_users', 'medium')],
      [],
      [surge(6, 'api_calls', 'low')],
    ]);
    const again = mergeFlags(stored, [surge(6, 'api_calls', 'low')], NIGHT(5));

    // Assess: one flag, opened on calls, extended to day 6, holding calls and users over days 1-6.
    expect(results.map((r) => [r.created.length, r.updated.length])).toEqual([
      [1, 0],
      [0, 0],
      [0, 0],
      [0, 1],
      [0, 0],
      [0, 1],
    ]);
    expect(stored).toHaveLength(1);
    const f = stored[0]!;
    expect([f.meter, f.severity, f.window]).toEqual(['api_calls', 'high', { from: iso(1), to: iso(7) }]);
    expect(f.evidence.alsoMatched).toEqual([{ rule: 'new_account_surge', meter: 'active_users', score: SCORES.medium, summary: 'day 4' }]);
    expect(f.history.map((h) => h.action)).toEqual(['opened', 'extended', 'extended']);
    expect(again).toEqual({ created: [], updated: [], suppressed: [] });
    expect(holdsFromFlags(stored)).toEqual([
      { customerId: 'cus-1', meter: 'api_calls', from: '2026-03-10', to: '2026-03-16' },
      { customerId: 'cus-1', meter: 'active_users', from: '2026-03-10', to: '2026-03-16' },
    ]);
  });

  it('continues a flag across midnight: hours 20-24 one day, 00-03 the next', () => {
    // Prepare / Act
    const { stored } = runNights([[detection(0, { hours: [20, 24] })], [detection(1, { hours: [0, 3] })]]);

    // Assess
    expect(stored.map((f) => f.window)).toEqual([{ from: iso(0, 20), to: iso(1, 3) }]);
  });

  it('keeps extending a confirmed flag, and holds back a continuation of a dismissed one unless it is louder', () => {
    // Prepare: flags on days 0 of two customers, one confirmed, one dismissed.
    const { stored } = runNights([[detection(0, { severity: 'medium' }), detection(0, { severity: 'medium', customerId: 'cus-2' })]]);
    const reviewed = stored.map((f) =>
      reviewFlag(f, { decision: f.customerId === 'cus-1' ? 'confirm' : 'dismiss', note: 'checked', reviewer: 'ana', at: iso(1, 9) }),
    );

    // Act
    const sameLevel = mergeFlags(
      reviewed,
      [detection(1, { severity: 'medium' }), detection(1, { severity: 'medium', customerId: 'cus-2' })],
      NIGHT(1),
    );
    const louder = mergeFlags(reviewed, [detection(1, { severity: 'high', customerId: 'cus-2' })], NIGHT(1));

    // Assess
    expect(sameLevel.updated.map((f) => [f.customerId, f.status, f.window.to])).toEqual([['cus-1', 'confirmed', iso(2)]]);
    expect(sameLevel.created).toEqual([]);
    expect(sameLevel.suppressed.map((d) => d.customerId)).toEqual(['cus-2']);
    expect(louder.created.map((f) => [f.customerId, f.status, f.window.from])).toEqual([['cus-2', 'open', iso(1)]]);
  });

  it('opens a flag of its own for a louder detection starting where a dismissed flag started, once', () => {
    // Prepare: a medium flag on 14:00-16:00 of day 0, dismissed; late events then make the day score high from 14:00 on.
    const { stored } = runNights([[detection(0, { severity: 'medium', hours: [14, 16] })]]);
    const dismissed = reviewFlag(stored[0]!, { decision: 'dismiss', note: 'looked fine', reviewer: 'ana', at: iso(1, 9) });
    const louder = detection(0, { severity: 'high', hours: [14, 20] });

    // Act
    const night = mergeFlags([dismissed], [louder], NIGHT(1));
    const rerun = mergeFlags([dismissed, ...night.created], [louder], NIGHT(1));

    // Assess
    expect(night.suppressed).toEqual([]);
    expect(night.created.map((f) => [f.status, f.severity, f.window.from, f.window.to])).toEqual([
      ['open', 'high', iso(0, 14), iso(0, 20)],
    ]);
    expect(night.created[0]!.id).toBe(flagId('cus-1', 'volume_spike', 'api_calls', iso(0, 14), 1));
    expect(night.created[0]!.id).not.toBe(dismissed.id);
    expect([rerun.created, rerun.updated]).toEqual([[], []]);
  });

  it('refuses a detection with a backwards window or a score out of range', () => {
    // Prepare
    const bad = { ...detection(0), window: { from: iso(1), to: iso(0) }, score: 2 };

    // Act / Assess
    expect(() => mergeFlags([], [bad], 'not a time')).toThrow(ValidationError);
  });
});

describe('sameReview', () => {
  it('recognises a retried confirmation after the close extended the confirmed flag, and nothing else', () => {
    // Prepare: confirmed on day 1; the pattern continues on day 1, which extends the confirmed flag
    const open = mergeFlags([], [detection(0)], NIGHT(0)).created[0]!;
    const confirmed = reviewFlag(open, { decision: 'confirm', note: 'key leaked', reviewer: 'ana', at: iso(1, 9) });
    const extended = mergeFlags([confirmed], [detection(1)], NIGHT(1)).updated[0]!;

    // Act / Assess
    expect(extended.history.map((h) => h.action)).toEqual(['opened', 'confirmed', 'extended']);
    expect(sameReview(extended, { decision: 'confirm', note: ' key leaked ', reviewer: 'ana' })).toMatchObject({
      action: 'confirmed',
      by: 'ana',
    });
    expect(sameReview(extended, { decision: 'confirm', note: 'key leaked', reviewer: 'bo' })).toBeUndefined();
    expect(sameReview(extended, { decision: 'dismiss', note: 'key leaked', reviewer: 'ana' })).toBeUndefined();
    expect(sameReview(extended, { decision: 'confirm', note: 'another note', reviewer: 'ana' })).toBeUndefined();
  });
});

describe('reviewFlag', () => {
  const open = mergeFlags([], [detection(0)], NIGHT(0)).created[0]!;

  it('confirms an open flag, recording the reviewer, note and time, without changing the input', () => {
    // Prepare
    const before = structuredClone(open);

    // Act
    const confirmed = reviewFlag(open, {
      decision: 'confirm',
      note: '  scraping from a leaked key ',
      reviewer: 'ana@serenity',
      at: '2026-03-10T09:15:00Z',
    });

    // Assess
    expect(open).toEqual(before);
    expect(confirmed.status).toBe('confirmed');
    expect(confirmed.notes).toEqual([{ at: '2026-03-10T09:15:00.000Z', by: 'ana@serenity', text: 'scraping from a leaked key' }]);
    expect(confirmed.history.at(-1)).toEqual({
      at: '2026-03-10T09:15:00.000Z',
      by: 'ana@serenity',
      action: 'confirmed',
      note: 'scraping from a leaked key',
    });
  });

  it('refuses to review a flag twice, naming who reviewed it', () => {
    // Prepare
    const dismissed = reviewFlag(open, { decision: 'dismiss', note: 'launch day', reviewer: 'bo', at: '2026-03-10T09:00:00Z' });

    // Act
    let error: unknown;
    try {
      reviewFlag(dismissed, { decision: 'confirm', note: 'on second thought', reviewer: 'ana', at: '2026-03-10T10:00:00Z' });
    } catch (e) {
      error = e;
    }

    // Assess
    expect(error).toBeInstanceOf(FlagAlreadyReviewedError);
    expect((error as FlagAlreadyReviewedError).retryable).toBe(false);
    expect((error as Error).message).toContain('already dismissed by bo at 2026-03-10T09:00:00.000Z');
  });

  it('reports every problem with a review at once, and never stores a card number in a note', () => {
    // Prepare
    const bad = { decision: 'approve', note: 'card 4111 1111 1111 1111', reviewer: '', at: 'yesterday', extra: 1 } as never;

    // Act
    let error: unknown;
    try {
      reviewFlag(open, bad);
    } catch (e) {
      error = e;
    }

    // Assess
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).errors.map((e) => e.field)).toEqual(['extra', 'decision', 'note', 'reviewer', 'at']);
    expect((error as Error).message).not.toContain('4111');
    expect(() => reviewFlag(open, { decision: 'dismiss', note: '   ', reviewer: 'ana', at: '2026-03-10T09:00:00Z' })).toThrow(
      /note: is required/,
    );
  });
});

describe('holdsFromFlags', () => {
  const flagOf = (d: Detection) => mergeFlags([], [d], NIGHT(0)).created[0]!;

  it("holds open flags of the policy's severities, over the UTC days their windows touch", () => {
    // Prepare: a high flag 10:00-13:00 on day 0; a medium one on day 3; a low one on day 5.
    const flags = [
      flagOf(detection(0, { hours: [10, 13] })),
      flagOf(detection(3, { severity: 'medium' })),
      flagOf(detection(5, { severity: 'low' })),
    ];

    // Act
    const byDefault = holdsFromFlags(flags);
    const wider = holdsFromFlags(flags, { holdSeverities: ['medium', 'high'] });

    // Assess
    expect(byDefault).toEqual([{ customerId: 'cus-1', meter: 'api_calls', from: '2026-03-09', to: '2026-03-10' }]);
    expect(wider).toEqual([
      { customerId: 'cus-1', meter: 'api_calls', from: '2026-03-09', to: '2026-03-10' },
      { customerId: 'cus-1', meter: 'api_calls', from: '2026-03-12', to: '2026-03-13' },
    ]);
  });

  it('keeps confirmed flags held whatever their severity, releases dismissed ones, and merges adjacent holds', () => {
    // Prepare
    const review = (f: Flag, decision: 'confirm' | 'dismiss') => reviewFlag(f, { decision, note: 'n', reviewer: 'ana', at: iso(9) });
    const flags = [
      review(flagOf(detection(0, { severity: 'low', meter: 'protected_files', rule: 'end_of_period_gaming' })), 'confirm'),
      flagOf(detection(1, { meter: 'protected_files', rule: 'volume_spike' })),
      review(flagOf(detection(0, { meter: 'active_users' })), 'dismiss'),
    ];

    // Act
    const holds = holdsFromFlags(flags);

    // Assess
    expect(holds).toEqual([{ customerId: 'cus-1', meter: 'protected_files', from: '2026-03-09', to: '2026-03-11' }]);
  });

  it('refuses an unknown severity or option', () => {
    // Prepare / Act / Assess
    expect(() => holdsFromFlags([], { holdSeverities: ['severe' as FlagSeverity] })).toThrow(ValidationError);
    expect(() => holdsFromFlags([], { holdSeverities: ['high'], holdAll: true } as never)).toThrow(/holdAll: unknown option/);
  });
});

describe('holdEscalations', () => {
  const hold = { customerId: 'cus-1', meter: 'api_calls' as const, from: '2026-03-09', to: '2026-03-11' };

  it('escalates a hold once its first day is 28 days old: 7 days before Stripe stops taking it', () => {
    // Prepare
    const at28 = T0 + 28 * DAY_MS;

    // Act
    const before = holdEscalations([hold], at28 - 1);
    const at = holdEscalations([hold], at28);
    const lastDay = holdEscalations([hold], T0 + 34 * DAY_MS + 12 * HOUR_MS);

    // Assess
    expect(before).toEqual([]);
    expect(at).toEqual([{ ...hold, deadline: '2026-04-13T00:00:00.000Z', daysLeft: 7 }]);
    expect(lastDay[0]!.daysLeft).toBe(0);
  });
});

describe('releasedDays', () => {
  it('marks every UTC day a dismissed flag touches for the next close, and nothing for an open or confirmed one', () => {
    // Prepare: a flag from 20:00 on day 0 to 03:00 on day 1
    const flag = mergeFlags([], [detection(0, { hours: [20, 27] })], NIGHT(1)).created[0]!;
    const dismissed = reviewFlag(flag, { decision: 'dismiss', note: 'backfill', reviewer: 'ana', at: NIGHT(2) });
    const confirmed = reviewFlag(flag, { decision: 'confirm', note: 'leak', reviewer: 'ana', at: NIGHT(2) });

    // Act / Assess
    expect(releasedDays(dismissed)).toEqual([
      { customerId: 'cus-1', day: '2026-03-09' },
      { customerId: 'cus-1', day: '2026-03-10' },
    ]);
    expect(releasedDays(flag)).toEqual([]);
    expect(releasedDays(confirmed)).toEqual([]);
  });
});
