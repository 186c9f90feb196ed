import { SEVERITY_THRESHOLDS } from '../anomaly/constants.js';
import { scoreOf } from '../anomaly/spike-detector.js';
import type { Detection, FlagSeverity } from './types.js';

/**
 * One calibration for every rule. Each rule reduces what it saw to a *strength*: its measurement
 * divided by the rule's flag threshold, so strength 1 is exactly at the threshold (for rules built on
 * the spike detector, strength = robust z / the detector's bar). The score is the spike detector's
 * mapping of that ratio, `s^2 / (s^2 + 1)`:
 *
 * | strength | score | severity |
 * | --- | --- | --- |
 * | < 1 | < 0.5 | no flag |
 * | 1 (at the threshold) | 0.5 | low |
 * | 1.5 | 0.69 | medium |
 * | 2.5 | 0.86 | high |
 *
 * so a severity means the same distance past the threshold whatever the rule, and it is the spike
 * detector's own `SEVERITY_THRESHOLDS`.
 */

/** Score in [0, 1] of a strength (measurement / threshold): 0.5 at 1, 0.69 at 1.5, 0.86 at 2.5. */
export function scoreOfStrength(strength: number): number {
  return Number.isFinite(strength) ? scoreOf(strength, 1) : strength > 0 ? 1 : 0;
}

/** The severity of a score, or undefined below the flag threshold (0.5). */
export function severityOfScore(score: number): FlagSeverity | undefined {
  if (score >= SEVERITY_THRESHOLDS.high) return 'high';
  if (score >= SEVERITY_THRESHOLDS.medium) return 'medium';
  if (score >= SEVERITY_THRESHOLDS.low) return 'low';
  return undefined;
}

/** Order of severities, for "raise to the higher one". */
export function severityRank(severity: FlagSeverity): number {
  return severity === 'high' ? 3 : severity === 'medium' ? 2 : 1;
}

/** The severity one level above, or undefined above `high`. */
export function severityAbove(severity: FlagSeverity): FlagSeverity | undefined {
  return severity === 'low' ? 'medium' : severity === 'medium' ? 'high' : undefined;
}

/**
 * A detection at another severity (its score stays as the rule measured it), with the reason appended to
 * its one-sentence summary and `signals` recording the adjustment.
 */
export function withSeverity(d: Detection, severity: FlagSeverity, signals: Record<string, number>, why: string): Detection {
  return {
    ...d,
    severity,
    evidence: { ...d.evidence, summary: `${d.evidence.summary}; ${why}`, signals: { ...d.evidence.signals, ...signals } },
  };
}

/** Rounds for evidence: four significant decimals are plenty for an analyst and keep flags stable to compare. */
export function round4(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}
