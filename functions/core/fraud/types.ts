import type { Meter } from '../../../contract/meters.js';
import type { BillingPeriod } from '../close/billing-period.js';

/** The fraud rules: a closed union, each implemented in its own module under `rules/`. */
export type FraudRule =
  | 'volume_spike'
  | 'leaked_key'
  | 'account_sharing'
  | 'new_account_surge'
  | 'off_hours_burst'
  | 'end_of_period_gaming';

/** Every rule, in the order they run and flags are listed. */
export const FRAUD_RULES: readonly FraudRule[] = [
  'volume_spike',
  'leaked_key',
  'account_sharing',
  'new_account_surge',
  'off_hours_burst',
  'end_of_period_gaming',
];

/** How loud a flag is; severities map to score bands (see `constants.ts`). */
export type FlagSeverity = 'low' | 'medium' | 'high';

/** Severities, lowest first. */
export const FLAG_SEVERITIES: readonly FlagSeverity[] = ['low', 'medium', 'high'];

/** Where a flag stands in review. Only `open` flags can be reviewed. */
export type FlagStatus = 'open' | 'confirmed' | 'dismissed';

/** A half-open `[from, to)` interval, ISO-8601 UTC instants. */
export interface TimeWindow {
  from: string;
  to: string;
}

// ---------------------------------------------------------------------------------------------
// Inputs: what the nightly close reads per customer from its stored rollups.
// ---------------------------------------------------------------------------------------------

/** One API key's traffic on one UTC day. */
export interface KeyDayActivity {
  apiKeyId: string;
  /** API call quantity made with the key. */
  calls: number;
  /** Calls per client IP prefix (`/24` or `/48`, as ingest stores them). */
  ipPrefixes: Readonly<Record<string, number>>;
  /** Calls per country (ISO 3166-1 alpha-2). */
  countries: Readonly<Record<string, number>>;
  /**
   * Distinct countries in each UTC hour, 24 entries. Needed for the scored day (too many countries
   * within one hour); optional on history days, where it only sharpens the key's baseline.
   */
  countriesByHour?: readonly (readonly string[])[];
}

/** One customer's closed UTC day. All counts are integers >= 0. */
export interface CustomerActivityDay {
  /** `YYYY-MM-DD`. */
  day: string;
  /** API call quantity per UTC hour, 24 entries. */
  apiCalls: readonly number[];
  /** Distinct active users per UTC hour, 24 entries. */
  activeUsers: readonly number[];
  /** Distinct active users over the whole day (not the sum of the hours). */
  activeUsersDay: number;
  /** Protected files at the end of each UTC hour, 24 entries. */
  protectedFiles: readonly number[];
  /** Traffic per API key; calls without a key are simply not listed. */
  keys: readonly KeyDayActivity[];
}

/** Quantiles of one meter's daily value among peers at one day of account age. */
export interface AgeQuantiles {
  /** Peers that had reached this age. */
  n: number;
  q50: number;
  q90: number;
  q99: number;
}

/** How other customers used the service in their first 14 days, per meter and day of age (0-13). */
export interface PeerStats {
  /** Accounts the statistics were drawn from (at age 0). */
  accounts: number;
  byAge: Readonly<Record<Meter, readonly AgeQuantiles[]>>;
}

/** Everything the rules see for one customer on one night. */
export interface FraudInput {
  customerId: string;
  /** The closed day being scored (`YYYY-MM-DD`): the last entry of `days`. */
  day: string;
  /** When the account was created, ISO-8601 UTC. */
  createdAt: string;
  /** The customer's billing period holding `day` (`periodContaining(day, anchorDay)`); earlier periods follow from it. */
  period: BillingPeriod;
  /**
   * Consecutive UTC days, oldest first, ending with `day`: the customer's history (the rules use at
   * most the last `MAX_HISTORY_DAYS`). A day without usage is present with zeros; days before the
   * account existed are left out.
   */
  days: readonly CustomerActivityDay[];
  /** Peers' first two weeks, for `new_account_surge`; without it that rule stays silent. */
  peers?: PeerStats;
}

// ---------------------------------------------------------------------------------------------
// Outputs: detections and flags.
// ---------------------------------------------------------------------------------------------

/** One point of an evidence series: what was observed and the baseline band it was judged against. */
export interface EvidencePoint {
  /** Bucket start, ISO-8601 UTC. */
  t: string;
  observed: number;
  expected: number;
  lo: number;
  hi: number;
  /** True when this point is part of the pattern. */
  flagged: boolean;
}

/** A named series shown to the analyst. */
export interface EvidenceSeries {
  /** e.g. `api_calls per hour`, `distinct IP prefixes per day (key k1)`. */
  name: string;
  granularity: 'hour' | 'day';
  points: EvidencePoint[];
}

/** A value with how much traffic it carried, and whether it is new against the baseline. */
export interface RankedValue {
  value: string;
  calls: number;
  /** Not seen in the baseline (for IP prefixes and countries of `leaked_key`). */
  new?: boolean;
}

/** Why a flag was raised, in numbers an analyst can check. */
export interface FlagEvidence {
  /** One sentence: what was seen against what was expected. */
  summary: string;
  /** Which form of the pattern, where a rule has several (e.g. `users_up_calls_flat`). */
  variant?: string;
  /** Observed and expected totals over the flagged buckets, in the rule's unit. */
  observed: number;
  expected: number;
  /** The rule's named measurements (strengths, counts, thresholds). */
  signals: Record<string, number>;
  series: EvidenceSeries[];
  /** API keys involved (leaked_key). */
  apiKeyIds?: string[];
  /** The busiest IP prefixes and countries over the flag's days (new ones marked): the sums of `placesByDay`. */
  topIpPrefixes?: RankedValue[];
  topCountries?: RankedValue[];
  /**
   * A merged flag's top values per UTC day of the detections it took them from, so a day scored again
   * (late events) replaces its own figures instead of being counted twice.
   */
  placesByDay?: Record<string, { topIpPrefixes?: RankedValue[]; topCountries?: RankedValue[] }>;
  /**
   * What else was folded into this flag: other rules that matched the same meter and day, and, for a
   * rule judged per account (`new_account_surge`), the other meters that surged (`meter` set; the flag
   * holds those meters too).
   */
  alsoMatched?: AlsoMatched[];
}

/** A detection folded into another one's flag (see `FlagEvidence.alsoMatched`). */
export interface AlsoMatched {
  rule: FraudRule;
  score: number;
  /** Set when it was about another meter than the flag's; the flag then holds that meter too. */
  meter?: Meter;
  summary?: string;
}

/** One rule's verdict for one customer, meter and window on one night, before deduplication. */
export interface Detection {
  customerId: string;
  rule: FraudRule;
  /** The meter whose usage is suspect: the one a hold keeps from Stripe. */
  meter: Meter;
  window: TimeWindow;
  /** In [0, 1]; 0.5 is the rule's flag threshold. */
  score: number;
  severity: FlagSeverity;
  evidence: FlagEvidence;
}

/** An analyst's note on a flag. */
export interface FlagNote {
  at: string;
  by: string;
  text: string;
}

/** One change in a flag's life. `by` is `system` for the nightly close. */
export interface FlagHistoryEntry {
  at: string;
  by: string;
  /** `claimed`/`released`: an analyst took or gave up the flag (they move its revision, so a close cannot write over a claim). */
  action: 'opened' | 'extended' | 'escalated' | 'confirmed' | 'dismissed' | 'claimed' | 'released';
  note?: string;
  window?: TimeWindow;
  severity?: FlagSeverity;
  score?: number;
}

/** A fraud flag as stored and reviewed. */
export interface Flag extends Detection {
  /** Deterministic: from customer, rule, meter and the window start it was opened with. */
  id: string;
  status: FlagStatus;
  notes: FlagNote[];
  history: FlagHistoryEntry[];
  /** The analyst working on it (see `flag-claims.ts`); a review clears it. */
  claim?: FlagClaim;
  /**
   * The flag's own meter's usage over the UTC days its window touches, as it would be reported (the sum of
   * the stored days' `values`): computed by the nightly close whenever it stores the flag (see `annotateForQueue`).
   */
  heldQuantity?: number;
  /** When a hold of this flag must be decided (see `escalationDeadline`), ISO-8601 UTC; set by the close with the customer's anchor. */
  escalateBy?: string;
}

/** Who took a flag in hand, and when. */
export interface FlagClaim {
  by: string;
  at: string;
}
