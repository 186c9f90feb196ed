import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { filterEvents, type MeterEventFilter, makeControl, resetAll } from './control-routes.js';
import { FaultController, type FaultControls } from './faults.js';
import { requestListener } from './http-server.js';
import { IdempotencyStore } from './idempotency.js';
import { RequestRecorder } from './request-log.js';
import { Router } from './router.js';
import { customerRoutes } from './routes-customers.js';
import { meterEventRoutes } from './routes-meter-events.js';
import { meterRoutes } from './routes-meters.js';
import { v2Routes } from './routes-v2.js';
import { StripeState } from './state.js';
import { type ClockControl, makeClockControl } from './test-clock.js';
import type {
  ClockSource,
  CustomerRecord,
  EndpointStats,
  ErrorReport,
  MeterRecord,
  RecordedMeterEvent,
  RequestLogEntry,
  WebhookDelivery,
  WebhookEndpoint,
} from './types.js';
import { eventRoutes, type StoredEvent, WebhookSender } from './webhooks.js';

export type { MeterEventFilter } from './control-routes.js';
export type { FaultControls, FaultSettings } from './faults.js';
export type { ClockControl } from './test-clock.js';
export type * from './types.js';
export type { StoredEvent } from './webhooks.js';

/** Where and on what clock to run. */
export interface StripeTestServerOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1: the server is for this machine only. */
  host?: string;
  /** Time source in ms; defaults to the wall clock. Tests pass a fixed one or steer `server.clock`. */
  clock?: ClockSource;
}

/** A running fake of Stripe's Billing Meters API plus the handles tests use to steer and inspect it. */
export interface StripeTestServer {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  readonly port: number;
  readonly host: string;
  /** Options for the official SDK: `new Stripe('sk_test_x', server.stripeConfig)`. */
  readonly stripeConfig: { host: string; port: number; protocol: 'http' };
  /** Fault queue, latency, rate limiter and concurrency check. */
  readonly faults: FaultControls;
  /** The server's "now", used for timestamps windows, idempotency expiry and sessions. */
  readonly clock: ClockControl;
  /** Accepted meter events (all API versions), oldest first. */
  meterEvents(filter?: MeterEventFilter): RecordedMeterEvent[];
  /** Stream events that were accepted over HTTP but failed validation afterwards. */
  errorReports(): ErrorReport[];
  /**
   * The event destination: `setEndpoint({ url, secret })` makes every stream rejection in Stripe's error enum
   * a signed thin event POSTed to `url` (webhooks.ts); `events()` and `deliveries()` show what was made and
   * sent; `flush()` waits for deliveries under way.
   */
  readonly webhooks: {
    setEndpoint(endpoint: WebhookEndpoint | null): void;
    events(): StoredEvent[];
    deliveries(): WebhookDelivery[];
    flush(): Promise<void>;
  };
  /** Customers held, oldest first. */
  customers(): CustomerRecord[];
  /** Meters held, oldest first. */
  meters(): MeterRecord[];
  /** API calls seen (control calls excluded), oldest first. */
  requestLog(): RequestLogEntry[];
  /** Calls per endpoint template with counts per status. */
  stats(): Record<string, EndpointStats>;
  /** Forgets all objects, idempotency keys, faults and logs (not the clock). */
  reset(): void;
  /** Stops listening and drops open keep-alive connections. */
  close(): Promise<void>;
}

/** Starts a Stripe-compatible Billing Meters test server on node:http. */
export async function startStripeTestServer(opts: StripeTestServerOptions = {}): Promise<StripeTestServer> {
  const host = opts.host ?? '127.0.0.1';
  const state = new StripeState();
  const clock = makeClockControl(opts.clock ?? { now: () => Date.now() });
  const faults = new FaultController();
  const idempotency = new IdempotencyStore();
  const recorder = new RequestRecorder();
  const webhooks = new WebhookSender(state, clock);
  const router = new Router([
    ...customerRoutes(state),
    ...meterRoutes(state),
    ...meterEventRoutes(state),
    ...v2Routes(state, webhooks),
    ...eventRoutes(webhooks),
  ]);
  const parts = { state, clock, faults, idempotency, recorder, webhooks };
  const server = createServer(requestListener({ ...parts, router, control: makeControl(parts) }));

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;

  return {
    url: `http://${urlHost}:${port}`,
    port,
    host,
    stripeConfig: { host, port, protocol: 'http' },
    faults,
    clock,
    meterEvents: (filter) => filterEvents(state, filter),
    errorReports: () => state.errorReports.map((r) => ({ ...r })),
    webhooks: {
      setEndpoint: (endpoint) => webhooks.setEndpoint(endpoint),
      events: () => webhooks.allEvents(),
      deliveries: () => webhooks.deliveries(),
      flush: () => webhooks.flush(),
    },
    customers: () => [...state.customers.values()].map((c) => ({ ...c, metadata: { ...c.metadata } })),
    meters: () => [...state.meters.values()].map((m) => ({ ...m })),
    requestLog: () => recorder.log(),
    stats: () => recorder.stats(),
    reset: () => resetAll(parts),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // The SDK keeps sockets alive; without this, close() would wait for them to idle out.
        server.closeAllConnections();
      }),
  };
}
