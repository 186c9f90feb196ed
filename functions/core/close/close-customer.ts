import { type Clock, HOUR_MS } from '../../../contract/clock.js';
import { type RecordReportsDeps, recordReports, sendRecords } from '../billing/report-usage.js';
import { billableUntil, type DeferredReport, type Hold, type UnreportableReport } from '../billing/reporting-plan.js';
import type { MeterEventReporter } from '../billing/stripe-reporting.js';
import { closeFraudStep, daysToScore, type FraudStepResult, rollupActivity } from '../fraud/close-fraud-step.js';
import type { ExpectedDetection } from '../fraud/expected-activity.js';
import { type HoldEscalation, type HoldPolicy, holdEscalations, holdsFromFlags } from '../fraud/holds.js';
import type { Flag, PeerStats } from '../fraud/types.js';
import type { Customer, EventStore, FlagStore, LedgerStore, RollupStore } from '../shared/ports.js';
import { computeRollups } from './compute-rollups.js';
import type { MeterSettings } from './daily-rollup.js';

/** What closing a customer reads and writes. */
export interface CloseDeps extends RecordReportsDeps {
  events: Pick<EventStore, 'listDay'>;
  rollups: RollupStore;
  ledger: LedgerStore;
  /** Absent: plan and record only (a dry run, or no Stripe configured). */
  reporter?: MeterEventReporter;
  clock: Clock;
  settings?: MeterSettings;
  /** The Stripe account's invoice finalisation grace period (`STRIPE_INVOICE_GRACE_HOURS`); default 1 hour, Stripe's. */
  invoiceGraceMs?: number;
  /** Usage held back from Stripe by other means than fraud flags (planned once released). */
  holds?: (customerId: string) => Promise<Hold[]>;
  /** Fraud detection: the rules score the closed day and its late days on the customer's history before anything is planned. */
  fraud?: {
    // The close never reads the queue.
    flags: Omit<FlagStore, 'queue'>;
    policy?: HoldPolicy;
    peers?: PeerStats;
    /** Told of the flags a night opened as soon as they are stored, so they are announced even if the rest of the close then fails (a retry finds them stored and opens nothing). */
    onOpened?: (flags: readonly Flag[]) => void;
  };
}

export interface CustomerCloseResult {
  customerId: string;
  /** Days whose values were (re)computed. */
  days: string[];
  /** Those of `days` whose values changed, so their rows were written; the others were left as stored. */
  written: string[];
  planned: number;
  sent: number;
  failed: { identifier: string; state: 'pending' | 'error'; reason: string }[];
  unreportable: UnreportableReport[];
  /** What a hold kept back this time. */
  deferred: DeferredReport[];
  /** Flags this night opened or extended, and what the rules found inside the customer's expected activity (not flagged). */
  flags: { created: Flag[]; updated: Flag[]; expected: ExpectedDetection[] };
  /** Holds close to Stripe's 35-day limit: finance must decide now. */
  escalations: HoldEscalation[];
  /** Ledger records this close left pending that were recorded `STALE_PENDING_MS` or longer ago (the operators' alarm). */
  stalePending: number;
}

/** How long a ledger record may stay pending before the close counts it in `stalePending`. */
export const STALE_PENDING_MS = 12 * HOUR_MS;

/**
 * Closes one customer's day, in four named steps. (1) `computeRollups`: recomputes the day, every late
 * day, and every day of their periods that the store lacks, and stores those whose values changed. (2) With `deps.fraud`,
 * `closeFraudStep`: scores the day and its late days (`daysToScore`) with the fraud rules, sets aside
 * what the customer's expected activity covers, merges the rest into the customer's flags; the flags
 * then hold what they cover. Fraud comes first so that usage a flag holds does not reach Stripe in this
 * very run, and late days are scored again with their late events, so fraud that arrives late is
 * flagged, and held, like fraud on time. (3) `recordReports`: records the meter events to send in the
 * ledger *before* sending them. (4) `sendRecords`: sends every pending (or retryably failed) record.
 * Rerunning it for the same day plans nothing new, opens no new flag, and resends only what is still
 * pending, under the same identifiers, so Stripe receives each value once.
 */
export async function closeCustomer(
  customer: Customer,
  day: string,
  lateDays: readonly string[],
  runId: string,
  deps: CloseDeps,
): Promise<CustomerCloseResult> {
  const now = deps.clock.now();
  const anchor = customer.anchorDay ?? 1;
  const { days, written } = await computeRollups(customer, day, lateDays, deps, now);

  const fraud: Omit<FraudStepResult, 'detections'> = deps.fraud
    ? await closeFraudStep(
        customer,
        daysToScore(day, lateDays, customer.startedAt),
        anchor,
        {
          activity: rollupActivity(deps.rollups),
          ...deps.fraud,
          queueFigures: deps.invoiceGraceMs !== undefined ? { invoiceGraceMs: deps.invoiceGraceMs } : {},
        },
        now,
      )
    : { created: [], updated: [], expected: [], all: [] };
  if (fraud.created.length > 0) deps.fraud?.onOpened?.(fraud.created);
  const held = [...(deps.holds ? await deps.holds(customer.id) : []), ...holdsFromFlags(fraud.all, deps.fraud?.policy)];

  const recorded = await recordReports(customer, days, held, runId, deps, now);
  const result: CustomerCloseResult = {
    customerId: customer.id,
    days: days.map((d) => d.day),
    written,
    planned: recorded.planned,
    sent: 0,
    failed: [],
    unreportable: recorded.unreportable,
    deferred: recorded.deferred,
    flags: { created: fraud.created, updated: fraud.updated, expected: fraud.expected },
    escalations: holdEscalations(held, now, (d) => billableUntil(d, anchor, deps.invoiceGraceMs)),
    stalePending: 0,
  };
  const { toSend } = recorded;
  if (toSend.length === 0 || !deps.reporter) return result;
  if (!customer.stripeCustomerId) {
    await deps.ledger.update(toSend.map((r) => ({ ...r, state: 'error' as const, lastError: 'no_stripe_customer' })));
    for (const r of toSend) result.failed.push({ identifier: r.identifier, state: 'error', reason: 'no_stripe_customer' });
    return result;
  }
  for (const rec of await sendRecords(toSend, customer.stripeCustomerId, { reporter: deps.reporter, ledger: deps.ledger }, now)) {
    if (rec.state === 'sent') result.sent++;
    else result.failed.push({ identifier: rec.identifier, state: rec.state, reason: rec.lastError ?? '' });
    if (rec.state === 'pending' && now - Date.parse(rec.createdAt) >= STALE_PENDING_MS) result.stalePending++;
  }
  return result;
}
