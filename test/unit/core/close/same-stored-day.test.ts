import { describe, expect, it } from 'vitest';
import { sameStoredDay } from '../../../../functions/core/close/same-stored-day.js';
import type { StoredDay } from '../../../../functions/core/shared/ports.js';

const stored: StoredDay = {
  customerId: 'acme',
  day: '2026-03-04',
  periodKey: '2026-03',
  anchorDay: 1,
  eventCount: 3,
  apiCalls: 10,
  apiCallsByHour: Array.from({ length: 24 }, (_, h) => (h === 9 ? 10 : 0)),
  activeUsers: 1,
  activeUsersByHour: Array.from({ length: 24 }, (_, h) => (h === 9 ? 1 : 0)),
  files: { start: 3, end: 4, peak: 4 },
  filesByHour: Array.from({ length: 24 }, (_, h) => (h < 10 ? 3 : 4)),
  keys: [
    { apiKeyId: 'k1', calls: 10, ipPrefixes: { '192.0.2.0/24': 10 }, countries: {}, countriesByHour: Array.from({ length: 24 }, () => []) },
  ],
  ptd: { apiCalls: 40, activeUsers: 1, filesPeak: 4, filesEnd: 4 },
  values: { api_calls: 10, active_users: 1, protected_files: 4 },
  computedAt: '2026-03-05T00:30:00.000Z',
};
const recomputed = (change: Partial<StoredDay> = {}): StoredDay => ({
  ...structuredClone(stored),
  computedAt: '2026-03-09T00:30:00.000Z',
  ...change,
});

describe('sameStoredDay', () => {
  it('is true for the same values computed later, whatever the key order or an undefined property', () => {
    const { ptd, values, ...rest } = recomputed();
    expect(sameStoredDay({ values, ptd, ...rest }, stored)).toBe(true);
    expect(sameStoredDay({ ...recomputed(), keys: undefined } as StoredDay, { ...stored, keys: undefined } as StoredDay)).toBe(true);
  });

  it('is false for a day never stored', () => {
    expect(sameStoredDay(recomputed(), undefined)).toBe(false);
  });

  it.each([
    ['an own total', { apiCalls: 11 }],
    ['a period-to-date figure only', { ptd: { ...stored.ptd, activeUsers: 2 } }],
    ['a reported value only', { values: { ...stored.values, protected_files: 5 } }],
    ['one hour of an hourly series', { filesByHour: stored.filesByHour!.map((n, h) => (h === 23 ? n + 1 : n)) }],
    ['a nested per-key figure', { keys: [{ ...stored.keys![0]!, ipPrefixes: { '192.0.2.0/24': 9, '198.51.100.0/24': 1 } }] }],
  ])('is false when %s differs', (_what, change: Partial<StoredDay>) => {
    expect(sameStoredDay(recomputed(), { ...stored, ...change })).toBe(false);
    expect(sameStoredDay(recomputed(change), stored)).toBe(false);
  });

  it('is false for a row stored before a field was kept, so it is written once with it', () => {
    const { activeUsersByHour: _dropped, ...older } = stored;
    expect(sameStoredDay(recomputed(), older)).toBe(false);
  });
});
