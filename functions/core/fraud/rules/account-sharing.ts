/**
 * `account_sharing`: active users move while API calls stay where they were, on the daily view.
 *
 * It reads the production spike detector (daily granularity, online, flagged days teach it nothing)
 * on the customer's daily active users, in both directions, and on its daily API calls:
 *
 * - `calls_per_user_up`: active users fall far below their baseline while calls stay within
 *   `flatCallsZ` robust z of theirs: the same work through fewer logins, so API calls per active user
 *   jump;
 * - `users_up_calls_flat`: active users jump while calls stay flat: many more logins doing no more work.
 *
 * Users and calls that move together (growth, a team leaving, an outage, a holiday) are not flagged,
 * and a ratio that jumps because calls jumped is `volume_spike`'s. The users detector's count model
 * keeps small teams from being flagged for the noise of small numbers, and a customer expected to
 * have fewer than `minUsers` active users that day is not judged. The meter is `active_users`, the one
 * whose billing the pattern distorts; strength = the users detector's (robust z over its bar).
 * Window: the scored day.
 */
import { DAY_MS } from '../../clock.js';
import { ACCOUNT_SHARING, EVIDENCE_CONTEXT } from '../constants.js';
import { dailyValue, evidenceFromResults, type RuleContext } from '../rule-context.js';
import { round4, scoreOfStrength, severityOfScore } from '../scoring.js';
import type { Detection, EvidencePoint } from '../types.js';
import { strengthOfResult } from './volume-spike.js';

/** The `account_sharing` detection of the scored day, if users moved and calls did not. */
export function detectAccountSharing(ctx: RuleContext): Detection[] {
  const i = ctx.dayIndex;
  const users = ctx.dailyOf('active_users:both', ctx.input.days.map((d) => dailyValue(d, 'active_users')), { direction: 'both' });
  const calls = ctx.daily('api_calls');
  const u = users[i]!;
  const c = calls[i]!;
  if (u.expected < ACCOUNT_SHARING.minUsers || !u.flagged || Math.abs(c.z) > ACCOUNT_SHARING.flatCallsZ) return [];
  const strength = strengthOfResult(u);
  const score = scoreOfStrength(strength);
  const severity = severityOfScore(score);
  if (strength < 1 || severity === undefined) return [];
  const fewer = u.z < 0;
  const from = i - EVIDENCE_CONTEXT.day;
  const perUser = (k: number) => calls[k]!.value / Math.max(1, users[k]!.value);
  const expectedPerUser = (k: number) => calls[k]!.expected / Math.max(1, users[k]!.expected);
  const ratioPoints: EvidencePoint[] = [];
  for (let k = Math.max(0, from); k <= i; k++) {
    const e = expectedPerUser(k);
    ratioPoints.push({ t: new Date(ctx.historyStart + k * DAY_MS).toISOString(), observed: round4(perUser(k)), expected: round4(e), lo: round4(calls[k]!.band[0] / Math.max(1, users[k]!.band[1])), hi: round4(calls[k]!.band[1] / Math.max(1, users[k]!.band[0])), flagged: k === i });
  }
  return [
    {
      customerId: ctx.input.customerId,
      rule: 'account_sharing',
      meter: 'active_users',
      window: { from: new Date(ctx.dayStart).toISOString(), to: new Date(ctx.dayStart + DAY_MS).toISOString() },
      score: round4(score),
      severity,
      evidence: {
        summary:
          `${u.value} active users against ${Math.round(u.expected)} expected while API calls stayed flat (${c.value} against ${Math.round(c.expected)}): ` +
          `${round4(perUser(i))} calls per user against ${round4(expectedPerUser(i))}`,
        variant: fewer ? 'calls_per_user_up' : 'users_up_calls_flat',
        observed: u.value,
        expected: round4(u.expected),
        signals: { strength: round4(strength), usersZ: round4(u.z), callsZ: round4(c.z), callsPerUser: round4(perUser(i)), expectedCallsPerUser: round4(expectedPerUser(i)) },
        series: [
          evidenceFromResults('active users per day', 'day', users, from, i + 1, (k) => k === i),
          evidenceFromResults('API calls per day', 'day', calls, from, i + 1, () => false),
          { name: 'API calls per active user per day', granularity: 'day', points: ratioPoints },
        ],
      },
    },
  ];
}
