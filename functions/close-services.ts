import { loadCloseConfig, type CloseConfig } from './config.js';
import { createStripeClient } from './adapters/stripe-client-config.js';
import { StripeMeterReporter } from './adapters/stripe-meter-reporter.js';
import { SqsEventQueue } from './adapters/sqs-event-queue.js';
import { services, type Services } from './services.js';

/** What the nightly close's functions add to the pipeline's services. */
export interface CloseServices extends Services {
  close: CloseConfig;
  reporter: StripeMeterReporter;
  closeQueue: SqsEventQueue;
}

/** Builds the close's services on top of the pipeline's, from the environment. */
export function makeCloseServices(base: Services, env: NodeJS.ProcessEnv = process.env): CloseServices {
  const close = loadCloseConfig(env);
  const stripe = createStripeClient({ STRIPE_SECRET_KEY: close.stripeSecretKey, STRIPE_API_BASE: close.stripeApiBase });
  return {
    ...base,
    close,
    // The reporter paces calls by the wall clock; the business clock (fixed in tests and benches) is not a timer.
    reporter: new StripeMeterReporter({ stripe, ratePerSecond: close.stripeRatePerSecond }),
    closeQueue: new SqsEventQueue(base.clients.sqs, close.queueUrl, close.dlqUrl),
  };
}

let cached: CloseServices | undefined;
/** The process-wide close services, created on first use. */
export function closeServices(): CloseServices {
  return (cached ??= makeCloseServices(services()));
}
