import Stripe from 'stripe';
import { z } from 'zod';
import { ConfigError } from '../../../contract/errors.js';

/** What `new Stripe(apiKey, config)` needs; built once from the environment. */
export interface StripeClientSettings {
  apiKey: string;
  config: Stripe.StripeConfig;
}

const envSchema = z.object({
  STRIPE_SECRET_KEY: z
    .string({ error: 'is required' })
    .regex(/^(sk|rk)_(test|live)_\S+$/, { error: 'must be a secret or restricted key (sk_test_…, sk_live_…, rk_…)' }),
  STRIPE_API_BASE: z
    .url({ protocol: /^https?$/, error: 'must be an http(s) URL such as http://127.0.0.1:12111' })
    .refine((u) => ['', '/'].includes(new URL(u).pathname) && !new URL(u).search, {
      error: 'must have no path or query (the SDK adds /v1, /v2)',
    })
    .optional(),
});

/**
 * SDK settings from `STRIPE_SECRET_KEY` and the optional `STRIPE_API_BASE`. Without a base the SDK
 * talks to api.stripe.com (and meter-events.stripe.com for the stream); with one, to that host for both.
 * The SDK's own retries are off: the reporter retries itself, with the same idempotency key.
 * @example stripeClientConfig({ STRIPE_SECRET_KEY: 'sk_test_x', STRIPE_API_BASE: 'http://127.0.0.1:12111' }).config // { host: '127.0.0.1', port: 12111, protocol: 'http', maxNetworkRetries: 0, … }
 */
export function stripeClientConfig(env: Readonly<Record<string, string | undefined>>): StripeClientSettings {
  const parsed = envSchema.safeParse({ STRIPE_SECRET_KEY: env.STRIPE_SECRET_KEY, STRIPE_API_BASE: env.STRIPE_API_BASE || undefined });
  if (!parsed.success) {
    // Never echo the key itself into the error.
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`Stripe configuration is invalid: ${problems.join('; ')}`, {
      variables: parsed.error.issues.map((i) => i.path.join('.')),
    });
  }
  const base: Stripe.StripeConfig = { maxNetworkRetries: 0, appInfo: { name: 'serenity-metering' } };
  const apiBase = parsed.data.STRIPE_API_BASE;
  if (apiBase === undefined) return { apiKey: parsed.data.STRIPE_SECRET_KEY, config: base };
  const url = new URL(apiBase);
  const protocol = url.protocol === 'http:' ? 'http' : 'https';
  return {
    apiKey: parsed.data.STRIPE_SECRET_KEY,
    config: {
      ...base,
      host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: url.port === '' ? (protocol === 'http' ? 80 : 443) : Number(url.port),
      protocol,
    },
  };
}

/** A Stripe client from the environment; create it once at module scope and inject it. */
export function createStripeClient(env: Readonly<Record<string, string | undefined>>): Stripe {
  const { apiKey, config } = stripeClientConfig(env);
  return new Stripe(apiKey, config);
}
