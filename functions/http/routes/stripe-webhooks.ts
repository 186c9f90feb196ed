import { NotConfiguredError } from '../../../contract/errors.js';
import { handleStripeWebhook } from '../../core/billing/stripe-async-errors.js';
import { log } from '../../runtime/logger.js';
import type { Services } from '../../runtime/services.js';
import { bodyBytes } from '../request.js';
import { json } from '../responses.js';
import type { Route } from '../router.js';

/**
 * POST /v1/stripe/webhooks: Stripe's event destination (thin events). No API key: the `Stripe-Signature`
 * header, checked by the SDK over the exact bytes received (base64-decoded when API Gateway encoded them), is
 * the authentication; a bad one is a 400 (`WebhookSignatureError`) and nothing is read. A meter error report
 * marks the ledger records it names, audited; 503 while the endpoint's secret is not configured (Stripe retries).
 */
export const postStripeWebhook: Route<Services> = async ({ event, requestId }, s) => {
  if (!s.stripeWebhooks)
    throw new NotConfiguredError(
      'Stripe webhooks are not configured for the API (STRIPE_WEBHOOK_SECRET_ARN, or STRIPE_WEBHOOK_SECRET locally). Nothing was read.',
    );
  const receiver = await s.stripeWebhooks();
  const received = await receiver.receive(bodyBytes(event), event.headers?.['stripe-signature']);
  const handled = await handleStripeWebhook(received, { ...s, requestId }, s.clock.now());
  log.info('stripe webhook', { requestId, ...handled, ...('unresolved' in handled ? { unresolved: handled.unresolved.length } : {}) });
  return json(200, handled);
};
