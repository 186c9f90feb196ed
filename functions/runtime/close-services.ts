import { SNSClient } from '@aws-sdk/client-sns';
import { SnsFlagPublisher } from '../adapters/aws/sns-flag-publisher.js';
import { SqsEventQueue } from '../adapters/aws/sqs-event-queue.js';
import { resolveStripeKey } from '../adapters/aws/stripe-secret.js';
import { createStripeClient } from '../adapters/stripe/stripe-client-config.js';
import { StripeMeterReporter } from '../adapters/stripe/stripe-meter-reporter.js';
import type { FlagPublisher } from '../core/shared/ports.js';
import { FLAG_TOPIC } from '../resources.js';
import { type CloseConfig, loadCloseConfig, loadStripeConfig } from './config.js';
import { lazy } from './lazy.js';
import { type Services, services } from './services.js';

/** What the nightly close's functions add to the pipeline's services. */
export interface CloseServices extends Services {
  close: CloseConfig;
  closeQueue: SqsEventQueue;
  /** Where new flags are announced: SNS when FLAG_TOPIC_ARN is set, else the log only. */
  flagPublisher?: FlagPublisher;
  /**
   * The Stripe reporter, built on first use (the planner never needs Stripe or its secret) and kept once
   * built; a failed build (no key yet, a Secrets Manager error) is tried again on the next call.
   */
  reporter: () => Promise<StripeMeterReporter>;
}

/** Builds the close's services on top of the pipeline's, from the environment. */
export function makeCloseServices(base: Services, env: NodeJS.ProcessEnv = process.env): CloseServices {
  const close = loadCloseConfig(env);
  return {
    ...base,
    close,
    closeQueue: new SqsEventQueue(base.clients.sqs, close.queueUrl, close.dlqUrl),
    ...(env[FLAG_TOPIC.env]
      ? { flagPublisher: new SnsFlagPublisher(new SNSClient({ region: base.config.region }), env[FLAG_TOPIC.env]!) }
      : {}),
    reporter: untilResolved(async () => {
      const stripe = loadStripeConfig(env);
      const key = await resolveStripeKey(stripe);
      // The reporter paces calls by the wall clock; the business clock (fixed in tests and benches) is not a timer.
      return new StripeMeterReporter({
        stripe: createStripeClient({ secretKey: key, apiBase: stripe.apiBase }),
        ratePerSecond: stripe.ratePerSecond,
        mode: stripe.meterMode,
      });
    }),
  };
}

/**
 * Like `lazy`, for a promise: the first success is kept; a rejection is not, so the next call tries again.
 * A warm worker whose first chunk met a missing secret (deployed before the key was put in) or one Secrets
 * Manager error reports on its next chunk instead of failing every chunk until the next cold start.
 */
export function untilResolved<T>(make: () => Promise<T>): () => Promise<T> {
  let made: Promise<T> | undefined;
  return () => {
    if (made) return made;
    const attempt = Promise.resolve().then(make);
    made = attempt;
    // Calls made while this attempt runs share it; once it fails, the next call makes a new one.
    attempt.catch(() => {
      if (made === attempt) made = undefined;
    });
    return attempt;
  };
}

/** The process-wide close services, created on first use. */
export const closeServices: () => CloseServices = lazy(() => makeCloseServices(services()));
