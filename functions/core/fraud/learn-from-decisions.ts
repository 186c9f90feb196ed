import { DAY_MS, utcDay } from '../../../contract/clock.js';
import { LEARNING } from './constants.js';
import { severityAbove, severityRank, withSeverity } from './scoring.js';
import type { Detection, Flag } from './types.js';

/**
 * The analysts' decisions as labels, as Stripe Radar and Sift learn from reviews. Applied to one night's
 * detections of a customer before they are merged into its flags (`mergeFlags`):
 *
 * - **seen before**: a detection of a rule and meter that an analyst dismissed for this customer, starting
 *   within `LEARNING.dismissedDays` (14) days of the dismissed flag's end and at no higher severity than
 *   it had, is flagged `low`, so it does not hold: the customer's own recurring pattern is still listed, as
 *   "seen before", not held again;
 * - **confirmed before**: a detection of a rule an analyst confirmed as fraud for this customer earlier
 *   is one severity higher (a second leaked key at medium is held).
 *
 * Scores are left as the rules measured them; the reason joins the one-sentence summary and
 * `signals.seenBefore` or `signals.confirmedBefore` (1). Detections without such a decision behind them
 * are returned unchanged. Pure.
 *
 * @example learnFromDecisions(storedFlags, detectFraud(input))
 */
export function learnFromDecisions(flags: readonly Flag[], detections: readonly Detection[]): Detection[] {
  const decided = flags.filter((f) => f.status !== 'open');
  if (decided.length === 0) return [...detections];
  return detections.map((d) => {
    const same = decided.filter((f) => f.customerId === d.customerId && f.rule === d.rule);
    const start = Date.parse(d.window.from);
    const dismissed = same.find(
      (f) =>
        f.status === 'dismissed' &&
        f.meter === d.meter &&
        Date.parse(f.window.to) <= start + DAY_MS &&
        start - Date.parse(f.window.to) <= LEARNING.dismissedDays * DAY_MS &&
        severityRank(d.severity) <= severityRank(f.severity),
    );
    if (dismissed)
      return withSeverity(
        d,
        'low',
        { seenBefore: 1 },
        d.severity === 'low' ? seenBefore(dismissed) : `${seenBefore(dismissed)}, so it is low and does not hold`,
      );
    const confirmed = same.find((f) => f.status === 'confirmed' && Date.parse(f.window.from) < start);
    const above = severityAbove(d.severity);
    if (confirmed && above)
      return withSeverity(
        d,
        above,
        { confirmedBefore: 1 },
        `raised to ${above}: a ${d.rule} flag of this customer from ${day(confirmed.window.from)} was confirmed as fraud`,
      );
    return d;
  });
}

const day = (iso: string) => utcDay(Date.parse(iso));
const seenBefore = (f: Flag) => `seen before: a similar flag from ${day(f.window.from)} was dismissed`;
