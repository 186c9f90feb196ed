import Stripe from 'stripe';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { type StripeTestServer, type StripeTestServerOptions, startStripeTestServer } from '../../local/stripe-test-server/index.js';

/** An hour-aligned instant every suite freezes the server clock at. */
export const T0_MS = Date.parse('2026-03-10T12:00:00.000Z');
/** `T0_MS` in Unix seconds. */
export const T0 = T0_MS / 1000;
/** One hour in seconds. */
export const HOUR = 3600;
/** One day in seconds. */
export const DAY = 86_400;

/** Starts a server on a free port, frozen at `T0_MS` unless the caller hands in its own clock. */
export async function startServer(opts: StripeTestServerOptions = {}): Promise<StripeTestServer> {
  const server = await startStripeTestServer(opts);
  if (!opts.clock) server.clock.set(T0_MS);
  return server;
}

/**
 * One server for a test file: started before its tests and closed after them, reset and frozen at
 * `T0_MS` before each (before the file's own `beforeEach`, which runs next). Hands the server and the
 * SDK (made with `config`) to `use` once started.
 */
export function useServer(use: (server: StripeTestServer, stripe: Stripe) => void, config: Stripe.StripeConfig = {}): void {
  let server: StripeTestServer | undefined;
  beforeAll(async () => {
    server = await startServer();
    use(server, sdkFor(server, config));
  });
  afterAll(() => server?.close());
  beforeEach(() => {
    server!.reset();
    server!.clock.set(T0_MS);
  });
}

/** The official SDK pointed at the test server; no automatic retries unless asked for. */
export function sdkFor(server: StripeTestServer, config: Stripe.StripeConfig = {}, key = 'sk_test_serenity'): Stripe {
  return new Stripe(key, { ...server.stripeConfig, maxNetworkRetries: 0, ...config });
}

/** Resolves to the error the promise rejects with; fails the test if it resolves. */
export async function caught(promise: Promise<unknown>): Promise<Stripe.errors.StripeError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof Stripe.errors.StripeError) return error;
    throw error;
  }
  throw new Error('expected the call to be rejected, but it succeeded');
}

/** Calls the `/_test/...` control surface the way the CLI does; `T` is the body the endpoint answers with. */
export async function control<T = unknown>(
  server: StripeTestServer,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as T };
}

/** A customer plus a meter with the default payload keys. */
export async function customerAndMeter(
  stripe: Stripe,
  meter: Partial<Stripe.Billing.MeterCreateParams> = {},
): Promise<{ customerId: string; meter: Stripe.Billing.Meter }> {
  const customer = await stripe.customers.create({ email: 'ops@example.com' });
  const created = await stripe.billing.meters.create({
    display_name: 'API calls',
    event_name: 'api_calls',
    default_aggregation: { formula: 'sum' },
    ...meter,
  });
  return { customerId: customer.id, meter: created };
}
