import { METERS, type Meter } from '../../contract/meters.js';
import { sendPrivacyJob } from '../adapters/aws/privacy-jobs.js';
import { resolveStripeKey, resolveWebhookSecret } from '../adapters/aws/stripe-secret.js';
import { createStripeClient } from '../adapters/stripe/stripe-client-config.js';
import { StripeMeterReporter } from '../adapters/stripe/stripe-meter-reporter.js';
import { StripeWebhookReceiver } from '../adapters/stripe/stripe-webhooks.js';
import { CLOSE_QUEUE, STRIPE_SECRET } from '../resources.js';
import { untilResolved } from './close-services.js';
import { loadStripeConfig, loadStripeWebhookConfig, STRIPE_WEBHOOK_SECRET_ARN_ENV } from './config.js';
import { lazy } from './lazy.js';
import { type Services, services } from './services.js';

/**
 * The api function's services: the pipeline's, plus Stripe for the finance routes when a key (local, tests) or
 * the secret's ARN (AWS) is configured. Built on first use and kept; a failed build (no key in the secret yet,
 * meters not set up) is tried again on the next request. Reconciliation only reads Stripe's meters, never creates them.
 * Stripe's webhooks (`stripeWebhooks`) also need the endpoint's signing secret (STRIPE_WEBHOOK_SECRET_ARN, or
 * STRIPE_WEBHOOK_SECRET locally): the receiver fetches each event with the Stripe key.
 */
export function makeApiServices(given: Services, env: NodeJS.ProcessEnv = process.env): Services {
  const closeQueueUrl = env[CLOSE_QUEUE.env];
  const base: Services = closeQueueUrl
    ? { ...given, privacyJobs: (requestId) => sendPrivacyJob(given.clients.sqs, closeQueueUrl, requestId) }
    : given;
  if (!env.STRIPE_SECRET_KEY && !env[STRIPE_SECRET.env]) return base;
  const webhooks = env.STRIPE_WEBHOOK_SECRET || env[STRIPE_WEBHOOK_SECRET_ARN_ENV];
  return {
    ...base,
    ...(webhooks
      ? {
          stripeWebhooks: untilResolved(async () => {
            const stripe = loadStripeConfig(env);
            const [key, secret] = await Promise.all([resolveStripeKey(stripe), resolveWebhookSecret(loadStripeWebhookConfig(env))]);
            return new StripeWebhookReceiver(createStripeClient({ secretKey: key, apiBase: stripe.apiBase }), secret, base.clock);
          }),
        }
      : {}),
    stripe: untilResolved(async () => {
      const stripe = loadStripeConfig(env);
      const key = await resolveStripeKey(stripe);
      const reporter = new StripeMeterReporter({
        stripe: createStripeClient({ secretKey: key, apiBase: stripe.apiBase }),
        ratePerSecond: stripe.ratePerSecond,
      });
      const meters = await reporter.findMeters();
      return { reporter, meterIds: Object.fromEntries(METERS.map((m) => [m, meters[m].id])) as Record<Meter, string> };
    }),
  };
}

/** What the api function's routes run on (the pipeline's services, `stripe` set when configured). */
export type { Services };

/** The api function's process-wide services, created on first use. */
export const apiServices: () => Services = lazy(() => makeApiServices(services()));
