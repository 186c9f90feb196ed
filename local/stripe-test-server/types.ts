/** Milliseconds since the epoch; the same shape as the pipeline's core `Clock`, so one can be handed in. */
export interface ClockSource {
  now(): number;
}

/** The only aggregation formulas a Stripe billing meter offers. */
export type Formula = 'sum' | 'count' | 'last';

/** Windows for `event_time_window` and `value_grouping_window`. */
export type TimeWindow = 'hour' | 'day';

/** Which API surface accepted a meter event. */
export type EventSource = 'v1' | 'v2' | 'v2_stream';

/** A customer as the server holds it. */
export interface CustomerRecord {
  id: string;
  created: number;
  email: string | null;
  name: string | null;
  description: string | null;
  metadata: Record<string, string>;
}

/** A billing meter as the server holds it. */
export interface MeterRecord {
  id: string;
  created: number;
  updated: number;
  displayName: string;
  eventName: string;
  formula: Formula;
  customerKey: string;
  valueKey: string;
  eventTimeWindow: TimeWindow | null;
  status: 'active' | 'inactive';
  deactivatedAt: number | null;
}

/** An accepted meter event; `value` is null only for `count` meters sent without a value. */
export interface RecordedMeterEvent {
  seq: number;
  identifier: string;
  eventName: string;
  meterId: string;
  customerId: string;
  value: number | null;
  /** Event time, Unix seconds, as sent (or the receive time when absent). */
  timestamp: number;
  receivedAtMs: number;
  payload: Record<string, string>;
  source: EventSource;
  cancelledAtMs: number | null;
}

/** An event the v2 stream accepted over HTTP but rejected when validating it afterwards. */
export interface ErrorReport {
  seq: number;
  code: string;
  message: string;
  eventName: string | null;
  identifier: string | null;
  receivedAtMs: number;
  source: EventSource;
}

/**
 * One queued fault. It answers the next `count` requests whose path starts with `path`
 * (and whose method is `method`, when given), then is gone.
 */
export interface FaultSpec {
  /** Answer with this status (429 carries Stripe's rate-limit body, 5xx an api_error). */
  status?: 429 | 500 | 503;
  /** Destroy the socket instead of answering: the client sees a connection error. */
  reset?: boolean;
  /** How many matching requests this fault consumes; default 1. */
  count?: number;
  /** Path prefix to match, e.g. `/v1/billing/meter_events`; default every API path. */
  path?: string;
  method?: string;
  /** Hold the request this long before answering (alone, it just slows the call). */
  delayMs?: number;
  /** Run the request for real first, then lose its answer: models "Stripe did it, you never heard". */
  processed?: boolean;
  /** Sets `Stripe-Should-Retry` to this value; absent means the header is not sent. */
  shouldRetry?: boolean;
}

/** One API call as the server saw it. */
export interface RequestLogEntry {
  seq: number;
  atMs: number;
  method: string;
  path: string;
  /** Route template such as `POST /v1/billing/meters/:id`, or method and path when no route matched. */
  endpoint: string;
  status: number;
  durationMs: number;
  idempotencyKey: string | null;
  replayed: boolean;
  fault: string | null;
}

/** Call counts for one endpoint. */
export interface EndpointStats {
  total: number;
  byStatus: Record<string, number>;
}

/** Where the account's event destination sends meter error events, and the secret it signs them with (`whsec_…`). */
export interface WebhookEndpoint {
  url: string;
  secret: string;
}

/** One attempt to deliver an event to the endpoint. */
export interface WebhookDelivery {
  eventId: string;
  type: string;
  url: string;
  attempt: number;
  /** The endpoint's HTTP status; null when the request failed (refused connection, reset). */
  status: number | null;
  error?: string;
  atMs: number;
}
