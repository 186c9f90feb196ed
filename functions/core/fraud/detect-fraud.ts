import { METERS } from '../../../contract/meters.js';
import { NEW_ACCOUNT_DAYS } from './constants.js';
import { validateFraudInput } from './fraud-input.js';
import { buildRuleContext, type RuleContext } from './rule-context.js';
import { detectAccountSharing } from './rules/account-sharing.js';
import { detectEndOfPeriodGaming } from './rules/end-of-period-gaming.js';
import { detectLeakedKey } from './rules/leaked-key.js';
import { accountAgeDays, detectNewAccountSurge } from './rules/new-account-surge.js';
import { detectOffHoursBurst } from './rules/off-hours-burst.js';
import { detectVolumeSpike } from './rules/volume-spike.js';
import { severityByEvidence } from './severity-by-evidence.js';
import { type Detection, FRAUD_RULES, type FraudInput, type FraudRule } from './types.js';

/** Every rule, by name. */
export const RULES: Readonly<Record<FraudRule, (ctx: RuleContext) => Detection[]>> = {
  volume_spike: detectVolumeSpike,
  leaked_key: detectLeakedKey,
  account_sharing: detectAccountSharing,
  new_account_surge: detectNewAccountSurge,
  off_hours_burst: detectOffHoursBurst,
  end_of_period_gaming: detectEndOfPeriodGaming,
};

/**
 * Runs every rule on one customer's closed day and returns its detections, before deduplication
 * against stored flags (`mergeFlags`). Pure and online: only `input.days` (ending with the scored day)
 * is read, and every window lies inside the scored day.
 *
 * Young accounts (younger than `NEW_ACCOUNT_DAYS`, or with less history than that) are judged only by
 * `new_account_surge`, against peers; older ones only by the rules that read their own history.
 *
 * One pattern, one flag: when a more specific rule explains a meter's day, a `volume_spike` on the same
 * meter and day is folded into it (listed under `evidence.alsoMatched`) rather than raised beside it.
 * Then each detection's severity is adjusted by where its calls came from and by how much of the bill it
 * moves (`severityByEvidence`).
 *
 * @example const detections = detectFraud({ customerId, day: '2026-03-09', createdAt, period, days, peers })
 */
export function detectFraud(input: FraudInput): Detection[] {
  const ctx = buildRuleContext(validateFraudInput(input));
  const young =
    accountAgeDays(ctx.dayStart, Date.parse(ctx.input.createdAt)) < NEW_ACCOUNT_DAYS || ctx.input.days.length < NEW_ACCOUNT_DAYS;
  const all = FRAUD_RULES.filter((rule) => (rule === 'new_account_surge') === young).flatMap((rule) => RULES[rule](ctx));
  const specific = all.filter((d) => d.rule !== 'volume_spike');
  const out = [...specific];
  for (const d of all.filter((x) => x.rule === 'volume_spike')) {
    const strongest = specific.filter((o) => o.meter === d.meter).sort((a, b) => b.score - a.score)[0];
    if (strongest === undefined) out.push(d);
    else strongest.evidence.alsoMatched = [...(strongest.evidence.alsoMatched ?? []), { rule: d.rule, score: d.score }];
  }
  return out
    .map(severityByEvidence)
    .sort((a, b) => FRAUD_RULES.indexOf(a.rule) - FRAUD_RULES.indexOf(b.rule) || METERS.indexOf(a.meter) - METERS.indexOf(b.meter));
}
