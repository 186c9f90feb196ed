/**
 * `account_sharing`: the relation between API calls and active users breaks, on the daily view.
 *
 * Both variants read the production spike detector (daily granularity, online, flagged days teach it
 * nothing) on three daily series of the customer: API calls per active user, active users, API calls.
 *
 * - `calls_per_user`: calls per active user jump (the detector flags the ratio) while calls themselves
 *   do not (a volume surge is `volume_spike`'s): the same work done by fewer logins.
 * - `users_up_calls_flat`: active users jump (the detector flags them) while calls stay within
 *   `flatCallsZ` robust z of their expected value: many more logins doing no more work.
 *
 * A customer expected to have fewer than `minUsers` active users that day is not judged: a ratio of tiny
 * numbers is noise. The meter is `active_users`, the one whose billing the pattern distorts; the
 * strength is the flagging detector's (robust z over its bar). Window: the scored day.
 */
import { DAY_MS } from '../../clock.js';
import { ACCOUNT_SHARING, EVIDENCE_CONTEXT } from '../constants.js';
import { dailyValue, evidenceFromResults, type RuleContext } from '../rule-context.js';
import { round4, scoreOfStrength, severityOfScore } from '../scoring.js';
import type { Detection } from '../types.js';
import { strengthOfResult } from './volume-spike.js';

/** The `account_sharing` detection of the scored day, if either variant crossed. */
export function detectAccountSharing(ctx: RuleContext): Detection[] {
  const i = ctx.dayIndex;
  const ratios = ctx.input.days.map((d) => dailyValue(d, 'api_calls') / Math.max(1, d.activeUsersDay));
  const ratio = ctx.dailyOf('calls_per_user', ratios);
  const users = ctx.daily('active_users');
  const calls = ctx.daily('api_calls');
  const r = ratio[i]!;
  const u = users[i]!;
  const c = calls[i]!;
  if (u.expected < ACCOUNT_SHARING.minUsers) return [];
  const perUser = r.flagged && !c.flagged ? strengthOfResult(r) : 0;
  const usersUp = u.flagged && Math.abs(c.z) <= ACCOUNT_SHARING.flatCallsZ ? strengthOfResult(u) : 0;
  const strength = Math.max(perUser, usersUp);
  const score = scoreOfStrength(strength);
  const severity = severityOfScore(score);
  if (strength < 1 || severity === undefined) return [];
  const variant = perUser >= usersUp ? 'calls_per_user' : 'users_up_calls_flat';
  const from = i - EVIDENCE_CONTEXT.day;
  const today = (k: number) => k === i;
  const ratioText = `${round4(r.value)} calls per active user against ${round4(r.expected)} expected`;
  const usersText = `${u.value} active users against ${Math.round(u.expected)} expected, with ${c.value} calls against ${Math.round(c.expected)}`;
  return [
    {
      customerId: ctx.input.customerId,
      rule: 'account_sharing',
      meter: 'active_users',
      window: { from: new Date(ctx.dayStart).toISOString(), to: new Date(ctx.dayStart + DAY_MS).toISOString() },
      score: round4(score),
      severity,
      evidence: {
        summary: variant === 'calls_per_user' ? `${ratioText} (${usersText})` : `${usersText}: users jumped while calls stayed flat`,
        observed: variant === 'calls_per_user' ? round4(r.value) : u.value,
        expected: round4(variant === 'calls_per_user' ? r.expected : u.expected),
        signals: {
          variant: variant === 'calls_per_user' ? 1 : 2,
          strength: round4(strength),
          callsPerUserStrength: round4(perUser),
          usersUpStrength: round4(usersUp),
          callsZ: round4(c.z),
          usersZ: round4(u.z),
          callsPerUserZ: round4(r.z),
        },
        series: [
          evidenceFromResults('API calls per active user per day', 'day', ratio, from, i + 1, (k) => today(k) && variant === 'calls_per_user'),
          evidenceFromResults('active users per day', 'day', users, from, i + 1, (k) => today(k) && variant === 'users_up_calls_flat'),
          evidenceFromResults('API calls per day', 'day', calls, from, i + 1, () => false),
        ],
      },
    },
  ];
}
