import type Stripe from 'stripe';
import type { Clock } from '../../../contract/clock.js';
import type { StripeCallRunner } from './stripe-call-runner.js';
import type { TokenBucket } from './stripe-rate-limiter.js';

/** Stripe's lifetime for a meter event stream token. */
export const SESSION_LIFETIME_MS = 15 * 60_000;

/**
 * Meter event stream sessions (v2): opened lazily, shared by concurrent requests (one open at a
 * time), and replaced `refreshMarginMs` before they expire, or at once when Stripe says one expired.
 */
export class MeterEventSessions {
  private current: { token: string; expiresAtMs: number } | undefined;
  private opening: Promise<string> | undefined;
  private opened = 0;

  constructor(
    private readonly stripe: Stripe,
    private readonly clock: Clock,
    private readonly limiter: TokenBucket,
    private readonly runner: StripeCallRunner,
    private readonly refreshMarginMs: number,
  ) {}

  /** A token valid for at least `refreshMarginMs` more (by our clock). Rejects with the SDK error if opening fails. */
  token(): Promise<string> {
    const session = this.current;
    if (session && this.clock.now() < session.expiresAtMs - this.refreshMarginMs) return Promise.resolve(session.token);
    this.opening ??= this.open().finally(() => {
      this.opening = undefined;
    });
    return this.opening;
  }

  /** Forgets `token` after Stripe rejected it as expired (our clock and Stripe's disagree). */
  invalidate(): void {
    this.current = undefined;
  }

  /** Sessions opened so far. */
  count(): number {
    return this.opened;
  }

  private async open(): Promise<string> {
    await this.limiter.take();
    this.runner.countCall();
    const startedAt = this.clock.now();
    const session = await this.stripe.v2.billing.meterEventSession.create();
    this.opened += 1;
    // Stripe's clock may differ from ours, so use the lifetime it grants (expires_at - created), not its instant,
    // counted from when we asked: that errs on the early side.
    const granted = Date.parse(session.expires_at) - Date.parse(session.created);
    const lifetime = Number.isFinite(granted) && granted > 0 ? Math.min(granted, SESSION_LIFETIME_MS) : SESSION_LIFETIME_MS;
    this.current = { token: session.authentication_token, expiresAtMs: startedAt + lifetime };
    return session.authentication_token;
  }
}
