import { replayQuarantine } from '../../functions/core/ingest/replay.js';
import { auditEntry } from '../../functions/core/shared/audit-entries.js';
import type { QuarantineReason } from '../../functions/core/shared/ports.js';
import type { Connection } from '../connect.js';
import { printTable } from '../render/output.js';
import { cliActor } from './customers.js';

interface Filter {
  customer?: string;
  reason?: string;
  json?: boolean;
}

const filterOf = (o: Filter) => ({ customerId: o.customer, reason: o.reason as QuarantineReason | undefined });

/** `meter quarantine list [--customer C] [--reason R] [--json]`. */
export async function listQuarantine(c: Connection, o: Filter): Promise<void> {
  const items = await c.services.quarantine.list(filterOf(o));
  if (o.json) return console.log(JSON.stringify(items, null, 2));
  printTable(
    items.map((i) => ({
      at: i.quarantinedAt,
      customer: i.customerId,
      reason: i.reason,
      key: i.key,
      replayable: i.replayable ? 'yes' : 'no',
      attempts: i.attempts,
      errors: i.errors.map((e) => `${e.field}: ${e.message}`).join('; '),
    })),
  );
}

/** `meter quarantine replay [--customer C] [--reason R]`: re-checks and re-enqueues; what still fails stays with its reason. */
export async function replay(c: Connection, o: Filter): Promise<number> {
  const s = c.services;
  const out = await replayQuarantine(filterOf(o), { ...s, customers: (ids) => s.registry.customers(ids) });
  await s.audit.record(
    auditEntry(s.newId(), s.clock.now(), {
      action: 'replay',
      actor: cliActor(),
      counts: { replayed: out.replayed, kept: out.kept.length },
      details: { ...o },
    }),
  );
  console.log(`replayed ${out.replayed}; still quarantined ${out.kept.length}`);
  if (out.kept.length) printTable(out.kept);
  return out.kept.length > 0 ? 1 : 0;
}
