import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../../contract/errors.js';
import {
  applyFileOps,
  compactFileHistory,
  emptyFileState,
  type FileHistory,
  type FileTimelineState,
  fileStateAt,
  fileTimeline,
  mergeFileOps,
  recomputeDays,
} from '../../../../functions/core/close/file-timeline.js';
import { compareFileOps, type FileOp } from '../../../../functions/core/count/usage-fragment.js';

const DAY = '2026-03-09';
const DAY_START = `${DAY}T00:00:00.000Z`;
const NEXT_DAY = '2026-03-10T00:00:00.000Z';
const t = (hhmmss: string, day = DAY) => Date.parse(`${day}T${hhmmss}Z`);
let seq = 0;
/** A file operation with a fresh event key unless one is given. */
const op = (fileId: string, kind: '+' | '-', time: number, key = `s#${String(seq++).padStart(6, '0')}`): FileOp => [
  fileId,
  kind,
  time,
  key,
];
const stateWith = (ids: string[], asOf = DAY_START): FileTimelineState => ({ asOf, protectedFiles: new Set(ids) });
const historyOf = (ops: FileOp[]): FileHistory => mergeFileOps(new Map(), ops).history;

describe('applyFileOps: one day', () => {
  it.each([
    {
      name: 'toggled many times within one hour',
      start: [] as string[],
      ops: [
        op('f1', '+', t('10:00:00')), // 1
        op('f1', '-', t('10:05:00')), // 0
        op('f1', '+', t('10:10:00')), // 1
        op('f2', '+', t('10:15:00')), // 2
        op('f1', '-', t('10:20:00')), // 1
        op('f2', '+', t('10:25:00')), // re-protect: 1
        op('f3', '-', t('10:30:00')), // unknown file: 1
        op('f1', '+', t('10:40:00')), // 2
        op('f2', '-', t('10:50:00')), // 1
      ],
      expected: { start: 0, end: 1, peak: 2 },
    },
    {
      name: 'carried-over files count from the first instant',
      start: ['a', 'b', 'c'],
      ops: [op('a', '-', t('08:00:00')), op('d', '+', t('09:00:00')), op('e', '+', t('10:00:00'))],
      expected: { start: 3, end: 4, peak: 4 },
    },
    {
      name: 'an unprotect at 00:00:00.000 applies at the day start, so the start count is no peak',
      start: ['a', 'b'],
      ops: [op('a', '-', t('00:00:00.000'))],
      expected: { start: 2, end: 1, peak: 1 },
    },
    {
      name: 'a protect at 23:59:59.999 counts in this day',
      start: [],
      ops: [op('a', '+', t('23:59:59.999'))],
      expected: { start: 0, end: 1, peak: 1 },
    },
    {
      name: 'a swap of two files within one millisecond is no peak',
      start: ['a'],
      ops: [op('b', '+', t('12:00:00'), 's#1'), op('a', '-', t('12:00:00'), 's#2')],
      expected: { start: 1, end: 1, peak: 1 },
    },
    {
      name: 'one file twice in one millisecond: the later event key wins (protect last)',
      start: [],
      ops: [op('a', '+', t('12:00:00'), 's#b'), op('a', '-', t('12:00:00'), 's#a')],
      expected: { start: 0, end: 1, peak: 1 },
    },
    {
      name: 'one file twice in one millisecond: the later event key wins (unprotect last)',
      start: [],
      ops: [op('a', '+', t('12:00:00'), 's#a'), op('a', '-', t('12:00:00'), 's#b')],
      expected: { start: 0, end: 0, peak: 0 },
    },
    { name: 'no operations', start: ['a'], ops: [], expected: { start: 1, end: 1, peak: 1 } },
  ])('$name', ({ start, ops, expected }) => {
    // Act: the input order must not matter
    const forward = applyFileOps(stateWith(start), ops, NEXT_DAY);
    const backward = applyFileOps(stateWith(start), [...ops].reverse(), NEXT_DAY);
    // Assess
    expect(forward.counts).toEqual(expected);
    expect(backward.counts).toEqual(expected);
    expect(forward.state.asOf).toBe(NEXT_DAY);
    expect(forward.state.protectedFiles.size).toBe(expected.end);
  });

  it('leaves the state it was given untouched', () => {
    // Prepare
    const start = stateWith(['a']);
    // Act
    const next = applyFileOps(start, [op('a', '-', t('01:00:00')), op('b', '+', t('02:00:00'))], NEXT_DAY);
    // Assess
    expect([...start.protectedFiles]).toEqual(['a']);
    expect([...next.state.protectedFiles]).toEqual(['b']);
  });

  it('rejects operations outside [asOf, until)', () => {
    // Act / Assess
    try {
      applyFileOps(stateWith([]), [op('a', '+', t('23:59:59.999', '2026-03-08')), op('b', '+', Date.parse(NEXT_DAY))], NEXT_DAY);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ValidationError);
      expect((err as ValidationError).errors.map((e) => e.field)).toEqual(['ops[0]', 'ops[1]']);
    }
  });
});

describe('late operations', () => {
  it('a late unprotect lowers a closed day’s peak, and later days follow', () => {
    // Prepare: f1 10:00-12:00 and f2 from 11:00 overlap, so the peak of day 1 is 2
    const day1 = [op('f1', '+', t('10:00:00')), op('f2', '+', t('11:00:00')), op('f1', '-', t('12:00:00'))];
    const day2 = [op('f3', '+', t('09:00:00', '2026-03-10'))];
    const before = historyOf([...day1, ...day2]);
    expect(recomputeDays(before, [DAY, '2026-03-10'])).toEqual(
      new Map([
        [DAY, { start: 0, end: 1, peak: 2 }],
        ['2026-03-10', { start: 1, end: 2, peak: 2 }],
      ]),
    );
    // Act: an unprotect of f1 at 10:30, stamped in the closed day 1, arrives
    const merged = mergeFileOps(before, [op('f1', '-', t('10:30:00'))]);
    const after = recomputeDays(merged.history, [DAY, '2026-03-10']);
    // Assess
    expect(merged.earliestAddedMs).toBe(t('10:30:00'));
    expect(after.get(DAY)).toEqual({ start: 0, end: 1, peak: 1 });
    expect(after.get('2026-03-10')).toEqual({ start: 1, end: 2, peak: 2 });
  });

  it('a late protect before a file’s unprotect raises the later days’ starts', () => {
    // Prepare: g was unprotected (unknown) on day 1; the late protect at 08:00 of day 1 carries over
    const before = historyOf([op('f', '+', t('09:00:00'))]);
    // Act
    const after = recomputeDays(mergeFileOps(before, [op('g', '+', t('08:00:00'))]).history, [DAY, '2026-03-10', '2026-03-11']);
    // Assess
    expect([...after.values()]).toEqual([
      { start: 0, end: 2, peak: 2 },
      { start: 2, end: 2, peak: 2 },
      { start: 2, end: 2, peak: 2 },
    ]);
  });

  it('merging operations already held adds nothing, and a clash on one event key is reported', () => {
    // Prepare
    const ops = [op('f', '+', t('10:00:00'), 's#1'), op('f', '-', t('11:00:00'), 's#2')];
    const history = historyOf(ops);
    // Act
    const again = mergeFileOps(history, ops);
    // Assess
    expect(again.added).toBe(0);
    expect(again.earliestAddedMs).toBeUndefined();
    expect(again.history.get('f')).toEqual(ops);
    expect(() => mergeFileOps(history, [op('f', '-', t('10:00:00'), 's#1')])).toThrow(ValidationError);
  });

  it('recomputeDays rejects a malformed day', () => {
    // Act / Assess
    expect(() => recomputeDays(new Map(), ['2026-02-30'])).toThrow(ValidationError);
  });
});

describe('fileStateAt and compactFileHistory', () => {
  it('reads the files protected before an instant', () => {
    // Prepare
    const h = historyOf([
      op('a', '+', t('01:00:00')),
      op('b', '+', t('02:00:00')),
      op('a', '-', t('03:00:00')),
      op('c', '-', t('01:00:00')),
    ]);
    // Act / Assess
    expect([...fileStateAt(h, `${DAY}T02:00:00.000Z`).protectedFiles]).toEqual(['a']);
    expect([...fileStateAt(h, `${DAY}T02:00:00.001Z`).protectedFiles].sort()).toEqual(['a', 'b']);
    expect([...fileStateAt(h, NEXT_DAY).protectedFiles]).toEqual(['b']);
  });

  it('compaction keeps one protect per protected file and drops unprotected ones', () => {
    // Prepare
    const h = historyOf([
      op('a', '+', t('01:00:00')),
      op('a', '-', t('02:00:00')),
      op('b', '+', t('01:00:00')),
      op('b', '+', t('02:00:00')),
      op('b', '-', t('20:00:00')),
    ]);
    // Act
    const c = compactFileHistory(h, `${DAY}T12:00:00.000Z`);
    // Assess
    expect(c.has('a')).toBe(false);
    expect(c.get('b')!.map((o) => o[1])).toEqual(['+', '-']);
  });
});

// Operations over three days with times from a small set, so that ties within a millisecond are common.
const DAYS = ['2026-03-08', '2026-03-09', '2026-03-10'];
const opsArb = fc
  .array(
    fc.record({
      file: fc.constantFrom('a', 'b', 'c', 'd'),
      kind: fc.constantFrom<'+' | '-'>('+', '-'),
      day: fc.integer({ min: 0, max: 2 }),
      slot: fc.constantFrom(0, 1, 3_600_000, 3_600_001, 43_200_000, 86_399_999),
    }),
    { maxLength: 40 },
  )
  .map((rows) =>
    rows.map((r, i): FileOp => [r.file, r.kind, Date.parse(`${DAYS[r.day]}T00:00:00Z`) + r.slot, `s#${String(i).padStart(3, '0')}`]),
  );

/** The definition, evaluated from scratch at one instant: files whose latest operation at or before t is a protect. */
function countByDefinition(ops: FileOp[], at: number): number {
  const latest = new Map<string, FileOp>();
  for (const o of ops) {
    if (o[2] > at) continue;
    const l = latest.get(o[0]);
    if (!l || compareFileOps(o, l) > 0) latest.set(o[0], o);
  }
  return [...latest.values()].filter((o) => o[1] === '+').length;
}

describe('properties', () => {
  it('recomputeDays agrees with the definition at every instant where the count can change', () => {
    fc.assert(
      fc.property(opsArb, (ops) => {
        // Act
        const days = recomputeDays(historyOf(ops), DAYS);
        // Assess
        for (const day of DAYS) {
          const s = Date.parse(`${day}T00:00:00Z`);
          const instants = [s, ...ops.map((o) => o[2]).filter((x) => x >= s && x < s + 86_400_000)];
          expect(days.get(day)).toEqual({
            start: countByDefinition(ops, s - 1),
            end: countByDefinition(ops, s + 86_399_999),
            peak: Math.max(...instants.map((x) => countByDefinition(ops, x))),
          });
        }
      }),
    );
  });

  it('chaining applyFileOps day by day, in any op order, equals recomputing from the history', () => {
    fc.assert(
      fc.property(opsArb, fc.integer(), (ops, salt) => {
        // Prepare: a shuffled copy of the operations
        const rank = (i: number) => (Math.imul(i + 1, 2_654_435_761) ^ salt) >>> 0;
        const shuffled = ops
          .map((o, i) => [rank(i), o] as const)
          .sort((x, y) => x[0] - y[0])
          .map(([, o]) => o);
        const expected = recomputeDays(historyOf(ops), DAYS);
        // Act
        let state = emptyFileState('2026-03-08T00:00:00.000Z');
        for (const day of DAYS) {
          const s = Date.parse(`${day}T00:00:00Z`);
          const step = applyFileOps(
            state,
            shuffled.filter((o) => o[2] >= s && o[2] < s + 86_400_000),
            new Date(s + 86_400_000).toISOString(),
          );
          // Assess
          expect(step.counts).toEqual(expected.get(day));
          expect([...step.state.protectedFiles].sort()).toEqual([...fileStateAt(historyOf(ops), step.state.asOf).protectedFiles].sort());
          state = step.state;
        }
      }),
    );
  });

  it('merging in two parts equals merging at once, and compaction changes no count at or after its instant', () => {
    fc.assert(
      fc.property(opsArb, fc.nat(), (ops, cut) => {
        // Prepare
        const k = ops.length === 0 ? 0 : cut % ops.length;
        const whole = historyOf(ops);
        // Act
        const parts = mergeFileOps(historyOf(ops.slice(0, k)), ops.slice(k)).history;
        const compacted = compactFileHistory(whole, '2026-03-09T00:00:00.000Z');
        // Assess
        const a = fileTimeline(whole);
        const b = fileTimeline(parts);
        const c = fileTimeline(compacted);
        for (const o of ops) expect(b.countAt(o[2])).toBe(a.countAt(o[2]));
        expect(recomputeDays(compacted, DAYS.slice(1))).toEqual(recomputeDays(whole, DAYS.slice(1)));
        expect(c.endCount).toBe(a.endCount);
      }),
    );
  });
});
