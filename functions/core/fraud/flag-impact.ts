import { DAY_MS } from '../../../contract/clock.js';
import type { Meter } from '../../../contract/meters.js';
import { heldDays } from './flag-queue.js';
import type { Flag } from './types.js';

/** What each decision on a flag does to billing, in words for the analyst. */
export interface FlagImpact {
  confirm: string;
  dismiss: string;
}

/** A meter's quantity as people say it. */
const METER_WORDS: Record<Meter, string> = {
  api_calls: 'API calls',
  active_users: 'active users',
  protected_files: 'protected files',
};

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

/**
 * The days a hold covers, as a person writes them: "3 March", "3-4 March", "28 February-2 March";
 * the year only when the days straddle two years (the console shows the window's dates beside it).
 */
export function dayRange(fromDay: string, toDayExclusive: string): string {
  const a = new Date(`${fromDay}T00:00:00Z`);
  const b = new Date(Date.parse(`${toDayExclusive}T00:00:00Z`) - DAY_MS);
  const day = (d: Date) => d.getUTCDate();
  const month = (d: Date) => MONTHS[d.getUTCMonth()]!;
  if (a.getTime() >= b.getTime()) return `${day(a)} ${month(a)}`;
  if (a.getUTCFullYear() !== b.getUTCFullYear())
    return `${day(a)} ${month(a)} ${a.getUTCFullYear()}-${day(b)} ${month(b)} ${b.getUTCFullYear()}`;
  if (a.getUTCMonth() !== b.getUTCMonth()) return `${day(a)} ${month(a)}-${day(b)} ${month(b)}`;
  return `${day(a)}-${day(b)} ${month(b)}`;
}

/**
 * What confirming and dismissing `flag` would do, given whether it holds its usage now (`isHolding`).
 * A holding flag: dismissing releases the held usage at the next close; confirming keeps it held for
 * finance. A flag that holds nothing: dismissing changes no report; confirming starts holding what of
 * those days is not reported yet (confirmed flags always hold).
 *
 * @example flagImpact(flag, true).dismiss // 'Dismissing releases 48,120 API calls, dated 3-4 March, at the next close.'
 */
export function flagImpact(flag: Pick<Flag, 'meter' | 'window' | 'heldQuantity'>, holding: boolean): FlagImpact {
  const days = heldDays(flag.window);
  const words = METER_WORDS[flag.meter];
  // A flag stored before the close computed quantities has none: name the usage without a number.
  const usage = flag.heldQuantity === undefined ? `the ${words}` : `${Math.round(flag.heldQuantity).toLocaleString('en-US')} ${words}`;
  const dated = `${usage}, dated ${dayRange(days.from, days.to)},`;
  if (holding)
    return {
      confirm: `Confirming keeps ${dated} held for finance.`,
      dismiss: `Dismissing releases ${dated} at the next close.`,
    };
  return {
    confirm: `This flag holds no usage; confirming holds ${dated} for finance from the next close (what was already reported stays reported).`,
    dismiss: 'This flag holds no usage; dismissing closes it and changes nothing that is reported.',
  };
}
