import { ConfigError, ValidationError } from '../../contract/errors.js';
import { METERS, type Meter } from '../../contract/meters.js';
import { createStripeClient } from '../../functions/adapters/stripe/stripe-client-config.js';
import { StripeMeterReporter } from '../../functions/adapters/stripe/stripe-meter-reporter.js';
import { countByStatus } from '../../functions/core/billing/reconcile.js';
import { reconcilePeriod } from '../../functions/core/billing/reconcile-period.js';
import { loadStatement } from '../../functions/core/billing/statement.js';
import { holdsFromFlags } from '../../functions/core/fraud/holds.js';
import { loadStripeConfig } from '../../functions/runtime/config.js';
import type { Connection } from '../connect.js';
import { printTable } from '../render/output.js';
import { renderStatement, STATEMENT_FORMATS, type StatementFormat } from '../render/statement.js';
import { cliActor } from './customers.js';

/** `meter statement --customer C --period YYYY-MM [--format table|json|csv]`: one customer's billing statement. */
export async function showStatement(c: Connection, o: { customer?: string; period?: string; format?: string }): Promise<void> {
  if (!o.customer) throw new ValidationError([{ field: 'customer', message: 'is required (--customer C)' }]);
  const format = (o.format ?? 'table') as StatementFormat;
  if (!STATEMENT_FORMATS.includes(format))
    throw new ValidationError([{ field: 'format', message: `must be one of ${STATEMENT_FORMATS.join(', ')}` }]);
  const customer = (await c.services.registry.customers([o.customer])).get(o.customer);
  if (!customer) throw new Error(`customer "${o.customer}" is not registered`);
  console.log(
    renderStatement(
      await loadStatement(
        customer,
        o.period,
        c.services,
        holdsFromFlags(await c.services.flags.forCustomer(customer.id), { holdSeverities: c.services.config.holdSeverities }),
      ),
      format,
    ),
  );
}

/**
 * `meter reconcile --period YYYY-MM [--customer C] [--fix] [--json]`: prints the differences (every row
 * with `--customer`) and returns non-zero while any remain.
 */
export async function runReconcile(
  c: Connection,
  o: { period?: string; customer?: string; fix?: boolean; json?: boolean },
): Promise<number> {
  if (!c.env.STRIPE_SECRET_KEY) {
    throw new ConfigError(
      "STRIPE_SECRET_KEY is not set: reconcile reads Stripe's own totals, so it needs a Stripe key (and STRIPE_API_BASE for the Stripe test server). Nothing was compared.",
    );
  }
  const { secretKey, apiBase, ratePerSecond } = loadStripeConfig(c.env);
  // The reporter paces calls by the wall clock: the business clock (fixed in tests) is not a timer.
  const reporter = new StripeMeterReporter({ stripe: createStripeClient({ secretKey: secretKey!, apiBase }), ratePerSecond });
  // Reconcile only reads Stripe's meters (meter stripe setup creates them), with or without --fix.
  const meters = await reporter.findMeters();
  const meterIds = Object.fromEntries(METERS.map((m) => [m, meters[m].id])) as Record<Meter, string>;
  const result = await reconcilePeriod(
    { services: c.services, clock: c.services.clock, stripe: { reporter, meterIds }, actor: cliActor() },
    o,
  );
  if (o.json) {
    console.log(JSON.stringify(result, null, 2));
  } else {
    if (result.fixes.length) {
      console.log('fixed:');
      printTable(
        result.fixes.map((f) => ({
          customer: f.customerId,
          meter: f.meter,
          kind: f.kind,
          day: f.day,
          identifier: f.identifier,
          value: f.value,
          state: f.state,
          error: f.error ?? '',
        })),
      );
    }
    const refused = result.rows.flatMap((r) => (r.refusedByStripe ?? []).map((x) => ({ customer: r.customerId, meter: r.meter, ...x })));
    if (refused.length) {
      console.log('refused by Stripe after accepting (webhook):');
      printTable(refused);
    }
    if (result.unrepairable.length) {
      console.log('could not repair:');
      printTable(result.unrepairable);
    }
    const shown = o.customer ? result.rows : result.rows.filter((r) => r.status !== 'ok');
    if (shown.length === 0) console.log('no differences');
    else
      printTable(
        shown.map((r) => ({
          customer: r.customerId,
          period: r.periodKey,
          meter: r.meter,
          metered: r.metered,
          reported: r.reported,
          stripe: r.stripe ?? '-',
          status: r.status,
          action: r.action,
          note: r.note,
        })),
      );
    const counts = countByStatus(result.rows);
    console.log(
      `${result.rows.length} rows: ${
        Object.entries(counts)
          .filter(([, n]) => n > 0)
          .map(([k, n]) => `${n} ${k}`)
          .join(', ') || 'none'
      }`,
    );
  }
  return result.differences > 0 ? 1 : 0;
}
