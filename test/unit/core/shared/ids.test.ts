import { decodeTime, isValid } from 'ulid';
import { describe, expect, it } from 'vitest';
import { stableUlid } from '../../../../functions/core/shared/ids.js';

describe('stableUlid', () => {
  it('gives the same operation the same valid ULID, at its own time, and another key another id', () => {
    // Prepare
    const at = Date.parse('2026-03-10T09:00:00Z');

    // Act
    const a = stableUlid(at, 'flag.review|flg_1|2');
    const again = stableUlid(at, 'flag.review|flg_1|2');
    const other = stableUlid(at, 'flag.review|flg_2|2');
    const later = stableUlid(at + 1, 'flag.review|flg_1|2');

    // Assess
    expect([isValid(a), a.length, decodeTime(a)]).toEqual([true, 26, at]);
    expect(again).toBe(a);
    expect(other).not.toBe(a);
    expect(later > a).toBe(true);
  });
});
