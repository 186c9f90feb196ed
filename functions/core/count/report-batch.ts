import type { Clock } from '../../../contract/clock.js';
import { auditEntry } from '../shared/audit-entries.js';
import type { AuditLog, Log } from '../shared/ports.js';
import type { ConsumeResult } from './consume.js';

/** What reporting a consumed batch writes. */
export interface ReportBatchDeps {
  audit: AuditLog;
  clock: Clock;
  newId: () => string;
  log: Log;
}

/**
 * Reports a consumed batch of `records` messages, `failed` of which SQS will redeliver: each quarantined
 * event to the log (fields named, values never), and the batch's counts to the audit trail and the log.
 * An audit failure fails the whole batch: every step of consuming is idempotent, so the redelivery is safe.
 */
export async function reportBatch(
  records: number,
  failed: number,
  results: readonly ConsumeResult[],
  deps: ReportBatchDeps,
): Promise<void> {
  const quarantined = results.flatMap((r) => r.quarantined);
  const counts = {
    records,
    failed,
    events: sum(results, (r) => r.events),
    counted: sum(results, (r) => r.counted),
    duplicates: sum(results, (r) => r.duplicates),
    quarantined: quarantined.length,
  };
  for (const q of quarantined)
    deps.log.warn('event quarantined', { customerId: q.customerId, key: q.key, reason: q.reason, fields: q.errors.map((e) => e.field) });
  await deps.audit.record(auditEntry(deps.newId(), deps.clock.now(), { action: 'consume', actor: 'consumer', counts }));
  if (quarantined.length > 0) {
    const customers = [...new Set(quarantined.map((q) => q.customerId))];
    await deps.audit.record(
      auditEntry(deps.newId(), deps.clock.now(), {
        action: 'quarantine',
        actor: 'consumer',
        counts: { events: quarantined.length },
        details: { customers },
      }),
    );
  }
  deps.log.info('consume batch', counts);
}

const sum = <T>(xs: readonly T[], f: (x: T) => number) => xs.reduce((s, x) => s + f(x), 0);
