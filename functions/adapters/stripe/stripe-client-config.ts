import Stripe from 'stripe';
import type { StripeConfig } from '../../runtime/config.js';

/** What `new Stripe(apiKey, config)` needs. */
export interface StripeClientSettings {
  apiKey: string;
  config: Stripe.StripeConfig;
}

/** The settings a client is built from: `loadStripeConfig`'s, with the key resolved (`resolveStripeKey`). */
export type StripeClientInput = Pick<StripeConfig, 'apiBase'> & { secretKey: string };

/**
 * SDK settings from parsed Stripe settings (`loadStripeConfig` is their only parser). Without a base the
 * SDK talks to api.stripe.com (and meter-events.stripe.com for the stream); with one, to that host for
 * both. The SDK's own retries are off: the reporter retries itself, with the same idempotency key.
 * @example stripeClientConfig({ secretKey: 'sk_test_x', apiBase: 'http://127.0.0.1:12111' }).config // { host: '127.0.0.1', port: 12111, protocol: 'http', maxNetworkRetries: 0, … }
 */
export function stripeClientConfig(s: StripeClientInput): StripeClientSettings {
  const base: Stripe.StripeConfig = { maxNetworkRetries: 0, appInfo: { name: 'serenity-metering' } };
  if (s.apiBase === undefined) return { apiKey: s.secretKey, config: base };
  const url = new URL(s.apiBase);
  const protocol = url.protocol === 'http:' ? 'http' : 'https';
  return {
    apiKey: s.secretKey,
    config: {
      ...base,
      host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: url.port === '' ? (protocol === 'http' ? 80 : 443) : Number(url.port),
      protocol,
    },
  };
}

/** A Stripe client from parsed settings; create it once at module scope and inject it. */
export function createStripeClient(s: StripeClientInput): Stripe {
  const { apiKey, config } = stripeClientConfig(s);
  return new Stripe(apiKey, config);
}
