import { SEVERITY_BY_EVIDENCE } from './constants.js';
import { severityAbove, withSeverity } from './scoring.js';
import type { Detection } from './types.js';

/**
 * Adjusts a detection's severity (its score is left as the rule measured it) by where its API calls came
 * from, which the volume rules cannot see in hourly totals, and by how much of the bill it moves. The
 * default hold policy holds only high flags,
 * so this decides what waits for an analyst and what is billed while it is looked at:
 *
 * - an `off_hours_burst` whose day's calls came from the customer's usual /24 prefixes (less than
 *   `newPlaceShare` from new ones) is at most `medium`: a quiet-hour burst from the customer's own systems
 *   is what a backfill or a batch job looks like; it is flagged for a look and billed meanwhile;
 * - a `volume_spike` of API calls or an `off_hours_burst` with at least `newPlaceShare` of the day's calls
 *   from new prefixes is one level higher: a surge from someone else's addresses is worse than a surge
 *   alone;
 * - an `end_of_period_gaming` drop is one level higher: the protected-files meter bills the period's last
 *   count, so the quantity at stake is the drop over the whole period, not over the days it lasted.
 *
 * The reason joins the flag's one-sentence summary and `signals.severityAdjusted` (-1 or +1), so the
 * console and the CLI show why. Other detections are returned unchanged.
 *
 * @example severityByEvidence(detection).severity // 'medium' for a night burst from the customer's own prefixes
 */
export function severityByEvidence(d: Detection): Detection {
  const above = severityAbove(d.severity);
  if (d.rule === 'end_of_period_gaming' && above)
    return withSeverity(
      d,
      above,
      { severityAdjusted: 1 },
      `raised to ${above}: protected files bill at the period's last count, so a drop this close to its end lowers the whole period's bill`,
    );
  const calls = d.meter === 'api_calls' && (d.rule === 'off_hours_burst' || d.rule === 'volume_spike');
  if (!calls) return d;
  const share = d.evidence.signals.newPlaceShare ?? 0;
  const fromNew = share >= SEVERITY_BY_EVIDENCE.newPlaceShare;
  if (fromNew && above)
    return withSeverity(
      d,
      above,
      { severityAdjusted: 1 },
      `raised to ${above}: ${Math.round(100 * share)} % of the day's calls came from new IP prefixes`,
    );
  if (!fromNew && d.rule === 'off_hours_burst' && d.severity === 'high')
    return withSeverity(
      d,
      'medium',
      { severityAdjusted: -1 },
      "held at medium: the day's calls came from the customer's usual IP prefixes, as its own batch jobs do",
    );
  return d;
}
