import { parseUsageQuery, usageReport } from '../../functions/core/count/usage-query.js';
import { auditEntry } from '../../functions/core/shared/audit-entries.js';
import { issueApiKey } from '../../functions/core/shared/issue-key.js';
import type { KeyRole } from '../../functions/core/shared/ports.js';
import type { Connection } from '../connect.js';
import { printTable } from '../render/output.js';
import { cliActor } from './customers.js';

/**
 * `meter keys create --role ingest|analyst|admin --principal NAME [--source S] [--customers A,B | --customer-prefix P]`:
 * prints the key once; only its hash is stored. An ingest key given customers may write usage for those only.
 */
export async function createKey(
  c: Connection,
  o: { role?: string; principal?: string; source?: string; customers?: string; 'customer-prefix'?: string },
): Promise<void> {
  const role = (o.role ?? 'ingest') as KeyRole;
  if (!['ingest', 'finance', 'analyst', 'admin'].includes(role)) throw new Error('--role must be ingest, finance, analyst or admin');
  if (!o.principal) throw new Error('--principal is required (who holds the key)');
  if (role === 'ingest' && !o.source) throw new Error('--source is required for an ingest key (the event source it may write as)');
  const { key } = await issueApiKey(
    { role, principal: o.principal, source: o.source, customers: o.customers, customerPrefix: o['customer-prefix'] },
    { actor: cliActor() },
    c.services,
  );
  console.log(key);
}

/** `meter usage --customer C [--from ISO] [--to ISO] [--granularity hour|day]`. */
export async function showUsage(
  c: Connection,
  o: { customer?: string; from?: string; to?: string; granularity?: string; json?: boolean },
): Promise<void> {
  const now = c.services.clock.now();
  const q = parseUsageQuery({
    customer: o.customer,
    from: o.from ?? new Date(now - 86_400_000).toISOString(),
    to: o.to ?? new Date(now).toISOString(),
    granularity: o.granularity ?? 'hour',
  });
  const customer = (await c.services.registry.customers([q.customerId])).get(q.customerId);
  if (!customer) throw new Error(`customer "${q.customerId}" is not registered`);
  const report = await usageReport(q, customer, c.services.usage, c.services.clock.now(), c.services.rollups);
  if (o.json) return console.log(JSON.stringify(report, null, 2));
  printTable(report.buckets.filter((b) => b.api_calls || b.active_users || b.protected_files));
  console.log(`totals: ${JSON.stringify(report.totals)}`);
}

/** `meter health`: queue, DLQ and quarantine depths. */
export async function health(c: Connection): Promise<number> {
  const [depth, quarantined] = await Promise.all([c.services.queue.depth(), c.services.quarantine.count()]);
  console.log(JSON.stringify({ ...depth, quarantine: quarantined }));
  return depth.dlq > 0 || quarantined > 0 ? 1 : 0;
}

/** `meter dlq redrive`: moves dead-lettered messages back to the event queue (safe: the consumer dedupes). */
export async function redriveDlq(c: Connection): Promise<void> {
  const s = c.services;
  const { moved } = await s.queue.redrive();
  await s.audit.record(auditEntry(s.newId(), s.clock.now(), { action: 'dlq.redrive', actor: cliActor(), counts: { moved } }));
  console.log(`moved ${moved} messages from the DLQ back to the event queue`);
}

/** `meter audit [--day YYYY-MM-DD]`: the newest audit records of a day. */
export async function showAudit(c: Connection, o: { day?: string; json?: boolean }): Promise<void> {
  const day = o.day ?? new Date(c.services.clock.now()).toISOString().slice(0, 10);
  const rows = await c.services.audit.list(day, 50);
  if (o.json) return console.log(JSON.stringify(rows, null, 2));
  printTable(
    rows.map((r) => ({
      at: r.at,
      action: r.action,
      actor: r.actor,
      customer: r.customerId ?? '',
      counts: r.counts ?? '',
      ip: r.ipPrefix ?? '',
    })),
  );
}
