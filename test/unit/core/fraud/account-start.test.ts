import { describe, expect, it } from 'vitest';
import { type ActivityReader, closeFraudStep } from '../../../../functions/core/fraud/close-fraud-step.js';
import type { CustomerActivityDay } from '../../../../functions/core/fraud/types.js';
import { accountStart, buildCustomer } from '../../../../functions/core/shared/customers.js';
import { addCalls, addPlaces, cleanDays, copyDays, isoAt, PROFILE, utcHourOf } from '../../../fakes/fraud-fixtures.js';
import { MemoryFlagStore } from '../../../fakes/memory-ports.js';

// Defect 17: a customer registered today with weeks of backfilled usage was taken for a new account (its age
// counted from registration), so only new_account_surge ran and an established account's spike or leaked key went unflagged.
const DAY = 28; // 28 days of history before the scored day
const wednesday = DAY + 2; // the fixture starts on a Monday

/** The scored day with an abuse: a midday hour at 8x, or key 0 used from 12 new prefixes in three new countries. */
function abusedHistory(abuse: 'spike' | 'leak'): CustomerActivityDay[] {
  const days = copyDays(cleanDays(wednesday + 1));
  const day = days[wednesday]!;
  const h = utcHourOf(13);
  if (abuse === 'spike') addCalls(day, h, day.apiCalls[h]! * 7);
  const attackers = Array.from({ length: 12 }, (_, i) => ({ prefix: `198.51.${100 + i}.0/24`, country: ['RU', 'CN', 'BR'][i % 3]! }));
  if (abuse === 'leak') addPlaces(day.keys[0]!, attackers, 60, [2, 3, 4, 5, 6, 7, 8, 9]);
  return days;
}

/** The close's reader over fixed days: days before the history are left out, as before the data begins. */
const readerOf =
  (days: readonly CustomerActivityDay[]): ActivityReader =>
  async (_id, from, to) =>
    new Map(days.filter((d) => d.day >= from && d.day <= to).map((d) => [d.day, d]));

/** The rules that fired on the scored day, for each abuse. */
async function rulesFired(customer: { id: string; createdAt: string; startedAt?: string }): Promise<string[]> {
  const fired = await Promise.all(
    (['spike', 'leak'] as const).map(async (abuse) => {
      const days = abusedHistory(abuse);
      const step = await closeFraudStep(
        customer,
        [days.at(-1)!.day],
        PROFILE.anchorDay,
        { activity: readerOf(days), flags: new MemoryFlagStore() },
        Date.parse(isoAt(wednesday + 1)),
      );
      return step.detections.map((d) => d.rule);
    }),
  );
  return [...new Set(fired.flat())].sort();
}

describe("an account's start (defect 17)", () => {
  it('without a start given, counts age from the earliest usage held: a customer registered today with 4 weeks of history is established', async () => {
    // Act: registered on the scored day itself
    const rules = await rulesFired({ id: PROFILE.customerId, createdAt: isoAt(wednesday, 1) });

    // Assess: the established-account rules ran and found the spike and the leaked key
    expect(rules).toEqual(expect.arrayContaining(['leaked_key', 'volume_spike']));
    expect(rules).not.toContain('new_account_surge');
  });

  it('with a start given at registration, counts age from it', async () => {
    // Act
    const rules = await rulesFired({ id: PROFILE.customerId, createdAt: isoAt(wednesday, 1), startedAt: isoAt(0) });

    // Assess
    expect(rules).toEqual(expect.arrayContaining(['leaked_key', 'volume_spike']));
  });

  it('takes the start given, else the earlier of registration and the earliest usage', () => {
    // Prepare
    const created = '2026-03-20T10:00:00.000Z';

    // Act / Assess
    expect(accountStart({ createdAt: created, startedAt: '2026-01-01T00:00:00.000Z' }, Date.parse('2026-02-01'))).toBe(
      Date.parse('2026-01-01'),
    );
    expect(accountStart({ createdAt: created }, Date.parse('2026-02-01'))).toBe(Date.parse('2026-02-01'));
    expect(accountStart({ createdAt: created }, Date.parse('2026-03-25'))).toBe(Date.parse(created));
    expect(accountStart({ createdAt: created })).toBe(Date.parse(created));
  });

  it('registration accepts a start as a date or an instant, and names the field when it is not one, or in the future', () => {
    // Prepare
    const now = Date.parse('2026-03-20T10:00:00Z');
    const fieldsOf = (startedAt: string) => {
      try {
        buildCustomer({ id: 'c1', startedAt }, undefined, now);
        return [];
      } catch (err) {
        return (err as { errors: { field: string; message: string }[] }).errors;
      }
    };

    // Act / Assess
    expect(buildCustomer({ id: 'c1', startedAt: '2026-02-01' }, undefined, now).startedAt).toBe('2026-02-01T00:00:00.000Z');
    expect(buildCustomer({ id: 'c1', startedAt: '2026-02-01T05:00:00+02:00' }, undefined, now).startedAt).toBe('2026-02-01T03:00:00.000Z');
    expect(fieldsOf('last tuesday')).toEqual([{ field: 'startedAt', message: expect.stringContaining('ISO-8601') }]);
    expect(fieldsOf('2026-02-01T05:00:00')).toEqual([{ field: 'startedAt', message: expect.stringContaining('offset') }]);
    expect(fieldsOf('2026-04-01')).toEqual([{ field: 'startedAt', message: 'must not be in the future' }]);
    expect(fieldsOf('0026-04-01')).toEqual([{ field: 'startedAt', message: 'must be 2000-01-01 or later' }]);
  });
});
