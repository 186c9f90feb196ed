/**
 * `account_sharing`: active users move while API calls stay where they were, on the daily view.
 *
 * The series judged is the customer's daily active users *adjusted for activity*: users x (the median
 * daily calls of the days before) / that day's calls, over the days whose calls were flat (below). Users
 * that move with calls (growth, a team leaving, weekends) leave it flat; users that move alone do not;
 * days of a backfill or an outage are left out, so they neither teach it nor raise its bar. It stays a count at the
 * scale of the users, so the production spike detector (daily granularity, online, flagged days teach
 * it nothing) judges it, in both directions, with its count-noise floor keeping small teams from being
 * flagged for the noise of small numbers:
 *
 * - `calls_per_user_up`: adjusted users fall far below baseline: the same work through fewer logins,
 *   so API calls per active user jump;
 * - `users_up_calls_flat`: adjusted users jump: many more logins doing no more work.
 *
 * Either way calls must stay flat: not flagged by the daily calls detector, not below `-flatCallsZ`
 * robust z, and within `flatCallsRatio` (0.6-1.8x) of expected (a ratio that moves because calls
 * jumped is `volume_spike`'s; one that moves because calls collapsed is an outage). A customer expected to have fewer than `minUsers` active users
 * is not judged. The adjusted-users detector flags at robust z `zFlag` (4, below the daily detector's
 * own 5: the series is a steady ratio and the pattern holds for days), and only when adjusted users
 * moved by `minUsersRatio` (1.8x) or more either way. The meter is `active_users`, the one whose billing
 * the pattern distorts; strength = the adjusted-users detector's (robust z over its bar). Window: the
 * scored day.
 */
import { DAY_MS } from '../../../../contract/clock.js';
import { scoreSeries } from '../../anomaly/spike-detector.js';
import type { SpikeResult } from '../../anomaly/types.js';
import { ACCOUNT_SHARING, EVIDENCE_CONTEXT } from '../constants.js';
import { dailyValue, evidenceFromResults, type RuleContext } from '../rule-context.js';
import { round4, scoreOfStrength, severityOfScore } from '../scoring.js';
import { median } from '../stats.js';
import type { Detection, EvidencePoint } from '../types.js';
import { strengthOfResult } from './volume-spike.js';

/** The `account_sharing` detection of the scored day, if users moved and calls did not. */
export function detectAccountSharing(ctx: RuleContext): Detection[] {
  const i = ctx.dayIndex;
  const calls = ctx.daily('api_calls');
  const [lo, hi] = ACCOUNT_SHARING.flatCallsRatio;
  const flat = (c: SpikeResult) =>
    !c.warm || (!c.flagged && c.z >= -ACCOUNT_SHARING.flatCallsZ && c.value >= lo * c.expected && c.value <= hi * c.expected);
  const raw = ctx.daily('active_users')[i]!;
  const c = calls[i]!;
  if (!c.warm || !flat(c) || raw.expected < ACCOUNT_SHARING.minUsers) return [];
  const callsPerDay = ctx.input.days.map((d) => dailyValue(d, 'api_calls'));
  const usual = median(callsPerDay.slice(0, i));
  if (!(usual > 0)) return [];
  // Only days whose calls stayed flat enter the series: a backfill or an outage would swing it for reasons that are not the users'.
  const points = ctx.input.days.flatMap((d, k) =>
    flat(calls[k]!)
      ? [{ t: ctx.historyStart + k * DAY_MS, value: Math.round((d.activeUsersDay * usual) / Math.max(1, callsPerDay[k]!)) }]
      : [],
  );
  const users = scoreSeries(points, {
    granularity: 'day',
    direction: 'both',
    tuning: {
      zFlag: ACCOUNT_SHARING.zFlag,
      tailLag: ACCOUNT_SHARING.patternDays,
      shiftAfter: ACCOUNT_SHARING.patternDays + 1,
    },
  });
  const u = users[users.length - 1]!;
  if (!u.flagged) return [];
  const moved = u.value / Math.max(1, u.expected);
  if (moved > 1 / ACCOUNT_SHARING.minUsersRatio && moved < ACCOUNT_SHARING.minUsersRatio) return [];
  const strength = strengthOfResult(u);
  const score = scoreOfStrength(strength);
  const severity = severityOfScore(score);
  if (strength < 1 || severity === undefined) return [];
  const fewer = u.z < 0;
  const from = i - EVIDENCE_CONTEXT.day;
  const fromPoint = users.findIndex((r) => r.t >= ctx.historyStart + from * DAY_MS);
  // Calls per user as the analyst reads it: usual calls / adjusted users; expected and band from the adjusted detector.
  const perUser = (x: number) => usual / Math.max(1, x);
  const ratioPoints: EvidencePoint[] = users.slice(fromPoint).map((r, k, all) => ({
    t: new Date(r.t).toISOString(),
    observed: round4(perUser(r.value)),
    expected: round4(perUser(r.expected)),
    lo: round4(perUser(r.band[1])),
    hi: round4(perUser(r.band[0])),
    flagged: k === all.length - 1,
  }));
  const dayUsers = ctx.input.days[i]!.activeUsersDay;
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
          `${dayUsers} active users (${Math.round(raw.expected)} expected) while API calls stayed flat (${c.value} against ${Math.round(c.expected)} expected): ` +
          `${round4(callsPerDay[i]! / Math.max(1, dayUsers))} calls per active user, against about ${round4(perUser(u.expected))}`,
        variant: fewer ? 'calls_per_user_up' : 'users_up_calls_flat',
        observed: dayUsers,
        expected: round4(raw.expected),
        signals: {
          strength: round4(strength),
          adjustedUsers: u.value,
          expectedAdjustedUsers: round4(u.expected),
          adjustedUsersZ: round4(u.z),
          callsZ: round4(c.z),
          usualDailyCalls: round4(usual),
        },
        series: [
          evidenceFromResults(
            "active users per day, adjusted for the day's calls",
            'day',
            users,
            fromPoint,
            users.length,
            (k) => k === users.length - 1,
          ),
          evidenceFromResults('active users per day', 'day', ctx.daily('active_users'), from, i + 1, () => false),
          evidenceFromResults('API calls per day', 'day', calls, from, i + 1, () => false),
          { name: 'API calls per active user per day', granularity: 'day', points: ratioPoints },
        ],
      },
    },
  ];
}
