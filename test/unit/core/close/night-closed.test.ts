import { describe, expect, it } from 'vitest';
import { fixedClock } from '../../../../contract/clock.js';
import { checkNightClosed, NIGHT_NOT_CLOSED_CODE } from '../../../../functions/core/close/night-closed.js';

const logged: { message: string; fields?: Record<string, unknown> }[] = [];
const log = {
  info: () => undefined,
  warn: () => undefined,
  error: (message: string, fields?: Record<string, unknown>) => void logged.push({ message, fields }),
};
const at0300 = fixedClock('2026-12-04T03:00:00Z');
const check = (closedThrough: string | undefined) =>
  checkNightClosed({ rollups: { closedThrough: async () => closedThrough }, clock: at0300, log });

describe('checkNightClosed (03:00 UTC)', () => {
  it('is closed once the watermark reached yesterday, the day the 00:30 close closes', async () => {
    expect(await check('2026-12-03')).toEqual({ day: '2026-12-03', closedThrough: '2026-12-03', closed: true });
  });

  it('is not closed when the watermark is still at the day before, or there is none, and says so in an error line', async () => {
    logged.length = 0;
    expect(await check('2026-12-02')).toMatchObject({ day: '2026-12-03', closed: false });
    expect(await check(undefined)).toEqual({ day: '2026-12-03', closed: false });
    expect(logged.map((l) => l.fields?.code)).toEqual([NIGHT_NOT_CLOSED_CODE, NIGHT_NOT_CLOSED_CODE]);
  });
});
