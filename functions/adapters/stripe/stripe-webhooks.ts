import type Stripe from 'stripe';
import { type Clock, systemClock } from '../../../contract/clock.js';
import { WebhookSignatureError } from '../../../contract/errors.js';
import {
  ASYNC_ERROR_EVENT_TYPES,
  type AsyncErrorEventType,
  asyncErrorReportOf,
  type ReceivedWebhook,
  type StripeWebhooks,
} from '../../core/billing/stripe-async-errors.js';

/**
 * Receives Stripe's thin event notifications (event destinations, v2): verifies the `Stripe-Signature`
 * header with the SDK (`parseEventNotification`, HMAC over the exact body, 5-minute tolerance), then
 * fetches the full event from Stripe for the two meter error types, since a thin payload carries no data.
 * The tolerance is judged by `clock` (the business clock: the local stack's and the test server's agree).
 * @example await new StripeWebhookReceiver(stripe, 'whsec_…').receive(rawBody, headers['stripe-signature'])
 */
export class StripeWebhookReceiver implements StripeWebhooks {
  constructor(
    private readonly stripe: Stripe,
    private readonly webhookSecret: string,
    private readonly clock: Clock = systemClock,
  ) {}

  /** Verifies and reads one webhook; throws `WebhookSignatureError` when the signature does not verify. */
  async receive(rawBody: string | Uint8Array, signature: string | undefined): Promise<ReceivedWebhook> {
    let notification: Stripe.V2.Core.EventNotification;
    try {
      if (!signature) throw new Error('no Stripe-Signature header');
      const body = typeof rawBody === 'string' ? rawBody : Buffer.from(rawBody);
      notification = this.stripe.parseEventNotification(body, signature, this.webhookSecret, undefined, undefined, this.clock.now());
    } catch (err) {
      // The SDK's message says which check failed (no signature, timestamp outside tolerance, no match); never the secret.
      throw new WebhookSignatureError(`the Stripe-Signature header does not verify: ${(err as Error).message}`, {}, { cause: err });
    }
    if (!(ASYNC_ERROR_EVENT_TYPES as readonly string[]).includes(notification.type)) {
      return { kind: 'ignored', eventId: notification.id, type: notification.type };
    }
    const event = (await notification.fetchEvent()) as { id: string; type: string; data?: unknown };
    return { kind: 'async_errors', report: asyncErrorReportOf({ ...event, type: notification.type as AsyncErrorEventType }) };
  }
}
