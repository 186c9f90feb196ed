import { replayQuarantine } from '../../functions/core/ingest/replay.js';
import { auditEntry } from '../../functions/core/shared/audit-entries.js';
import { buildCustomer } from '../../functions/core/shared/customers.js';
import type { Connection } from '../connect.js';
import { printTable } from '../render/output.js';

/**
 * `meter customers add <id> [--name N] [--stripe-customer cus_…] [--anchor-day D] [--started-at ISO]`: registers or
 * updates, then replays its quarantined events. `--started-at` is when a customer registered with history began.
 */
export async function addCustomer(
  c: Connection,
  id: string,
  o: { name?: string; stripeCustomer?: string; anchorDay?: string; startedAt?: string },
): Promise<void> {
  const s = c.services;
  const existing = (await s.registry.customers([id])).get(id);
  const customer = buildCustomer(
    {
      id,
      name: o.name,
      stripeCustomerId: o.stripeCustomer,
      anchorDay: o.anchorDay === undefined ? undefined : Number(o.anchorDay),
      startedAt: o.startedAt,
    },
    existing,
    s.clock.now(),
  );
  await s.registry.putCustomer(customer);
  await s.audit.record(
    auditEntry(s.newId(), s.clock.now(), {
      action: existing ? 'customer.update' : 'customer.add',
      actor: cliActor(),
      customerId: id,
      details: { ...customer },
    }),
  );
  const replay = await replayQuarantine(
    { customerId: id, reason: 'unknown_customer' },
    { ...s, customers: (ids) => s.registry.customers(ids) },
  );
  if (replay.replayed > 0 || replay.kept.length > 0) {
    await s.audit.record(
      auditEntry(s.newId(), s.clock.now(), {
        action: 'replay',
        actor: cliActor(),
        customerId: id,
        counts: { replayed: replay.replayed, kept: replay.kept.length },
      }),
    );
  }
  console.log(
    `${existing ? 'updated' : 'added'} customer ${id}${replay.replayed ? `; replayed ${replay.replayed} quarantined events` : ''}`,
  );
}

/** `meter customers list`. */
export async function listCustomers(c: Connection, json: boolean): Promise<void> {
  const all = await c.services.registry.listCustomers();
  if (json) return console.log(JSON.stringify(all, null, 2));
  printTable(
    all.map((x) => ({
      id: x.id,
      name: x.name ?? '',
      stripe: x.stripeCustomerId ?? '',
      anchor: x.anchorDay ?? '',
      started: x.startedAt ?? '',
      created: x.createdAt,
      finance: x.financeReview ? `fraud confirmed (${x.financeReview.rule}) by ${x.financeReview.by}` : '',
    })),
  );
}

/** Who runs the CLI, for the audit trail. */
export function cliActor(): string {
  return `cli:${process.env.METER_ACTOR ?? process.env.USER ?? 'unknown'}`;
}
