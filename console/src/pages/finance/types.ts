/**
 * The shapes the Finance pages read from `/v1/*` (issue 11's spec). The console never imports the
 * server's code, so these restate only the fields it shows.
 */

export interface PeriodRow {
  customerId: string;
  name?: string;
  meter: string;
  metered: number;
  reported: number;
  /** Null when Stripe was not asked or could not be read. */
  inStripe: number | null;
  held: number;
  /** Usage closed after the invoice deadline: it can no longer be reported. */
  unreportable: number;
  /** metered - reported - held - unreportable. */
  difference: number;
  status: string;
  /** Per row when customers' anchor days differ. */
  deadline?: string;
}

export interface PeriodView {
  period: string;
  deadline?: string;
  rows: PeriodRow[];
  cursor?: string;
}

export interface ReportLine {
  identifier: string;
  day: string;
  revision: number;
  value: number;
  state: string;
  sentAt?: string;
  lastError?: string;
  runId: string;
}

export interface Hold {
  customerId: string;
  meter: string;
  /** UTC days, half-open `[from, to)`. */
  from: string;
  to: string;
}

export interface MeterStatement {
  meter: string;
  formula: 'sum' | 'last';
  billed: number;
  reportedTotal: number;
  unreported: number;
  daily: { day: string; value: number; dayFigure?: number }[];
  reports: ReportLine[];
  corrections: ReportLine[];
  pending: ReportLine[];
  errors: ReportLine[];
  held: Hold[];
}

export interface Statement {
  customer: { id: string; name?: string; stripeCustomerId?: string; anchorDay: number };
  period: { key: string; start: string; end: string };
  closedThrough: string | null;
  meters: MeterStatement[];
}

export interface ReconcileRow {
  customerId: string;
  periodKey: string;
  meter: string;
  metered: number;
  reported: number;
  stripe: number | null;
  status: string;
  action: string;
  note: string;
}

export interface FixOutcome {
  customerId: string;
  meter: string;
  kind: string;
  day: string;
  identifier: string;
  value: number;
  state: string;
  error?: string;
}

export interface ReconcileResult {
  period: string;
  rows: ReconcileRow[];
  before?: ReconcileRow[];
  fixes: FixOutcome[];
  unrepairable: { customerId: string; meter: string; day?: string }[];
  differences: number;
}

export interface LedgerRow {
  identifier: string;
  meter: string;
  day: string;
  revision: number;
  value: number;
  state: string;
  attempts: number;
  lastError?: string;
  sentAt?: string;
  createdAt: string;
  runId: string;
  periodKey: string;
}

/** A row of GET /v1/flags, as far as the statement needs it to link a hold to its flag. */
export interface FlagRow {
  id: string;
  customerId: string;
  meter: string;
  rule: string;
  window: { from: string; to: string };
  status: string;
  holding: boolean;
}
