import type Stripe from 'stripe';
import { type FieldError, PermanentError, TransientError, ValidationError } from '../../../contract/errors.js';
import type { Meter } from '../../../contract/meters.js';
import { CUSTOMER_PAYLOAD_KEY, STRIPE_METERS, type StripeMeterSpec, VALUE_PAYLOAD_KEY } from '../../core/billing/stripe-reporting.js';
import type { CallResult, StripeCallRunner } from './stripe-call-runner.js';

/** What `ensureMeters` found or did for one of our meters. */
export interface MeterCheck {
  meter: Meter;
  eventName: string;
  /** Stripe's meter id; absent only when no meter could be created. */
  id?: string;
  action: 'created' | 'verified' | 'reactivated' | 'mismatch';
  /** Why the meter on Stripe cannot be used as is (empty unless `action` is `mismatch`). */
  problems: string[];
}

/** A meter on Stripe is configured differently from ours. Meters are immutable: fix it by hand, never silently. */
export class MeterConfigurationError extends PermanentError {
  constructor(readonly checks: MeterCheck[]) {
    const bad = checks.filter((c) => c.action === 'mismatch');
    super(`Stripe meters do not match serenity-metering: ${bad.map((c) => `${c.eventName}: ${c.problems.join(', ')}`).join('; ')}`, {
      checks,
    });
  }
}

/**
 * Makes sure our three meters exist on Stripe as specified: creates missing ones, reactivates inactive
 * ones that are otherwise right, and throws `MeterConfigurationError` listing every mismatch (wrong
 * formula, payload keys or event time window), after dealing with the meters that are fine. With
 * `readOnly` (a command that only reads, like reconcile) it changes nothing: a missing or inactive meter
 * is a mismatch too.
 */
export async function ensureMeters(
  stripe: Stripe,
  runner: StripeCallRunner,
  specs: readonly StripeMeterSpec[] = Object.values(STRIPE_METERS),
  options: { readOnly: boolean } = { readOnly: false },
): Promise<Record<Meter, MeterCheck & { id: string }>> {
  const existing = await listAllMeters(stripe, runner);
  const checks: MeterCheck[] = [];
  for (const spec of specs) {
    const matches = existing.filter((m) => m.event_name === spec.eventName);
    const found = matches[0];
    if (!found && options.readOnly) {
      checks.push({
        meter: spec.meter,
        eventName: spec.eventName,
        action: 'mismatch',
        problems: ['missing on Stripe: run meter stripe setup'],
      });
      continue;
    }
    if (!found) {
      const created = unwrap(
        await runner.run(() =>
          stripe.billing.meters.create(
            {
              display_name: spec.displayName,
              event_name: spec.eventName,
              default_aggregation: { formula: spec.formula },
              customer_mapping: { event_payload_key: CUSTOMER_PAYLOAD_KEY, type: 'by_id' },
              value_settings: { event_payload_key: VALUE_PAYLOAD_KEY },
            },
            // Two processes racing to create the same meter get one meter between them.
            { idempotencyKey: `srn-meter:${spec.eventName}:${spec.formula}` },
          ),
        ),
        { op: 'create meter', eventName: spec.eventName },
      );
      checks.push({ meter: spec.meter, eventName: spec.eventName, id: created.id, action: 'created', problems: [] });
      continue;
    }
    const problems = meterProblems(found, spec);
    if (matches.length > 1) problems.push(`${matches.length} meters share this event_name (${matches.map((m) => m.id).join(', ')})`);
    if (problems.length > 0) {
      checks.push({ meter: spec.meter, eventName: spec.eventName, id: found.id, action: 'mismatch', problems });
    } else if (found.status !== 'active' && options.readOnly) {
      checks.push({
        meter: spec.meter,
        eventName: spec.eventName,
        id: found.id,
        action: 'mismatch',
        problems: ['inactive on Stripe: run meter stripe setup'],
      });
    } else if (found.status !== 'active') {
      unwrap(await runner.run(() => stripe.billing.meters.reactivate(found.id)), { op: 'reactivate meter', meterId: found.id });
      checks.push({ meter: spec.meter, eventName: spec.eventName, id: found.id, action: 'reactivated', problems: [] });
    } else {
      checks.push({ meter: spec.meter, eventName: spec.eventName, id: found.id, action: 'verified', problems: [] });
    }
  }
  if (checks.some((c) => c.action === 'mismatch')) throw new MeterConfigurationError(checks);
  return Object.fromEntries(checks.map((c) => [c.meter, c])) as Record<Meter, MeterCheck & { id: string }>;
}

/** Everything about a Stripe meter that differs from our spec (display name aside, which is cosmetic). */
export function meterProblems(m: Stripe.Billing.Meter, spec: StripeMeterSpec): string[] {
  const problems: string[] = [];
  if (m.default_aggregation.formula !== spec.formula)
    problems.push(`formula is ${m.default_aggregation.formula}, expected ${spec.formula}`);
  if (m.customer_mapping.event_payload_key !== CUSTOMER_PAYLOAD_KEY || m.customer_mapping.type !== 'by_id') {
    problems.push(
      `customer_mapping is ${m.customer_mapping.type}:${m.customer_mapping.event_payload_key}, expected by_id:${CUSTOMER_PAYLOAD_KEY}`,
    );
  }
  if (m.value_settings.event_payload_key !== VALUE_PAYLOAD_KEY) {
    problems.push(`value_settings.event_payload_key is ${m.value_settings.event_payload_key}, expected ${VALUE_PAYLOAD_KEY}`);
  }
  // A window keeps only the newest event per hour/day, which would swallow same-day corrections.
  if (m.event_time_window) problems.push(`event_time_window is ${m.event_time_window}, expected none`);
  return problems;
}

/**
 * The aggregated value Stripe holds for one customer on one meter over `[startSec, endSec)`, for
 * reconciliation. Stripe aggregates asynchronously, so a fresh event may not show yet.
 */
export async function listEventSummaries(
  stripe: Stripe,
  runner: StripeCallRunner,
  meterId: string,
  stripeCustomerId: string,
  startSec: number,
  endSec: number,
): Promise<number> {
  const errors: FieldError[] = [];
  if (!Number.isSafeInteger(startSec) || startSec % 60 !== 0)
    errors.push({ field: 'startSec', message: 'must be Unix seconds on a minute boundary' });
  if (!Number.isSafeInteger(endSec) || endSec % 60 !== 0)
    errors.push({ field: 'endSec', message: 'must be Unix seconds on a minute boundary' });
  if (!(startSec < endSec)) errors.push({ field: 'endSec', message: 'must be after startSec' });
  if (errors.length) throw new ValidationError(errors, { meterId });
  const page = unwrap(
    await runner.run(() =>
      stripe.billing.meters.listEventSummaries(meterId, { customer: stripeCustomerId, start_time: startSec, end_time: endSec, limit: 100 }),
    ),
    { op: 'list event summaries', meterId, startSec, endSec },
  );
  // Without value_grouping_window Stripe answers one summary for the whole range.
  return page.data.reduce((total, s) => total + s.aggregated_value, 0);
}

async function listAllMeters(stripe: Stripe, runner: StripeCallRunner): Promise<Stripe.Billing.Meter[]> {
  const meters: Stripe.Billing.Meter[] = [];
  let after: string | undefined;
  for (;;) {
    const page = unwrap(await runner.run(() => stripe.billing.meters.list({ limit: 100, ...(after ? { starting_after: after } : {}) })), {
      op: 'list meters',
    });
    meters.push(...page.data);
    const last = page.data.at(-1);
    if (!page.has_more || !last) return meters;
    after = last.id;
  }
}

/** A setup call's value, or a typed error saying whether trying again later can help. */
function unwrap<T>(result: CallResult<T>, context: Record<string, unknown>): T {
  if (result.ok) return result.value;
  const { result: cls, attempts } = result;
  const detail = { ...context, attempts, because: result.because };
  if (cls.kind === 'permanent')
    throw new PermanentError(`Stripe refused to ${String(context.op)}: ${cls.message}`, { ...detail, reason: cls.reason });
  if (cls.kind === 'delivered') throw new PermanentError(`unexpected duplicate answer to ${String(context.op)}`, detail);
  throw new TransientError(`Stripe failed to ${String(context.op)} after ${attempts} attempts: ${cls.message}`, detail);
}
