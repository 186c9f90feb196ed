// The shapes of the /v1/flags answers, as the console reads them (see functions/http/routes/flags.ts).

export type Severity = 'low' | 'medium' | 'high';
export type FlagStatus = 'open' | 'confirmed' | 'dismissed';

export const RULE_LABELS: Record<string, string> = {
  volume_spike: 'Volume spike',
  leaked_key: 'Leaked key',
  account_sharing: 'Account sharing',
  new_account_surge: 'New account surge',
  off_hours_burst: 'Off-hours burst',
  end_of_period_gaming: 'End-of-period gaming',
};
export const METERS = ['api_calls', 'active_users', 'protected_files'] as const;
export const SEVERITIES: Severity[] = ['low', 'medium', 'high'];
export const STATUSES: FlagStatus[] = ['open', 'confirmed', 'dismissed'];

export function ruleLabel(rule: string): string {
  return RULE_LABELS[rule] ?? rule;
}

export interface Claim {
  by: string;
  at: string;
}

export interface FlagRow {
  id: string;
  customerId: string;
  rule: string;
  meter: string;
  window: { from: string; to: string };
  severity: Severity;
  score: number;
  status: FlagStatus;
  holding: boolean;
  heldQuantity: number;
  escalateBy?: string;
  daysLeft?: number;
  claim?: Claim;
  evidence: { summary: string; observed: number; expected: number };
}

export interface FlagPage {
  flags: FlagRow[];
  cursor?: string;
}

export interface EvidencePoint {
  t: string;
  observed: number;
  expected: number;
  lo: number;
  hi: number;
  flagged: boolean;
}
export interface Ranked {
  value: string;
  calls: number;
  new?: boolean;
}

export interface ExpectedActivity {
  id: string;
  customerId: string;
  from: string;
  to: string;
  rules?: string[];
  meters?: string[];
  meter?: string;
  reason?: string;
  note?: string;
  createdBy?: string;
  createdAt?: string;
  withdrawnBy?: string;
  withdrawnAt?: string;
}

export interface FlagDetail extends FlagRow {
  evidence: FlagRow['evidence'] & {
    series: { name: string; granularity: 'hour' | 'day'; points: EvidencePoint[] }[];
    topIpPrefixes?: Ranked[];
    topCountries?: Ranked[];
    signals?: Record<string, number>;
    alsoMatched?: { rule: string; score: number; meter?: string; summary?: string }[];
  };
  notes: { at: string; by: string; text: string }[];
  history: { at: string; by: string; action: string; note?: string; severity?: string; score?: number }[];
  impact: { confirm: string; dismiss: string };
  expectedActivity: ExpectedActivity[];
}
