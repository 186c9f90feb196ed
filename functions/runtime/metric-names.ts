/**
 * The custom metrics the functions publish (Powertools Metrics, EMF) and the alarms read: one definition,
 * shared by `functions/runtime/metrics.ts` and `lib/constructs/ops-alarms.ts`. Every metric is a count, in
 * the namespace below, with the dimension `service`: the handler's one name (`METER_FUNCTION`).
 */
export const METRICS_NAMESPACE = 'Serenity/Metering';

export const METRIC = {
  // ingest (POST /v1/events)
  eventsAccepted: 'EventsAccepted',
  eventsRejected: 'EventsRejected',
  /** Ingest and the consumer both quarantine; the `service` dimension tells them apart. */
  eventsQuarantined: 'EventsQuarantined',
  // consume
  eventsCounted: 'EventsCounted',
  eventsDuplicate: 'EventsDuplicate',
  recordsFailed: 'RecordsFailed',
  // close-planner
  closePlannedCustomers: 'ClosePlannedCustomers',
  /** 1 when the 03:00 UTC check finds last night's close completed, 0 when not. */
  nightClosed: 'NightClosed',
  // close-worker: a chunk's counts
  closeCustomers: 'CloseCustomers',
  closeRecordsPlanned: 'CloseRecordsPlanned',
  closeRecordsSent: 'CloseRecordsSent',
  closeRecordsFailed: 'CloseRecordsFailed',
  closeRecordsUnreportable: 'CloseRecordsUnreportable',
  closeHeldReports: 'CloseHeldReports',
  flagsOpened: 'FlagsOpened',
  /** Holds within 7 days of their escalation deadline (a flag's `escalateBy`), as the close found them. */
  holdsNearEscalation: 'HoldsNearEscalation',
  /** Ledger records the close leaves pending that were recorded over 12 hours ago. */
  ledgerPendingOver12h: 'LedgerPendingOver12h',
  // close-worker: Stripe calls by outcome (each attempt is one call)
  stripeCalls: 'StripeCalls',
  stripeRetries: 'StripeRetries',
  stripeCallsOk: 'StripeCallsOk',
  stripeCallsDuplicate: 'StripeCallsDuplicate',
  stripeCallsRateLimited: 'StripeCallsRateLimited',
  stripeCallsTransient: 'StripeCallsTransient',
  stripeCallsSessionExpired: 'StripeCallsSessionExpired',
  stripeCallsPermanent: 'StripeCallsPermanent',
} as const;

export type MetricName = (typeof METRIC)[keyof typeof METRIC];
