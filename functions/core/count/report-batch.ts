import type { Clock } from '../../../contract/clock.js';
import { auditEntry } from '../shared/audit-entries.js';
import { stableUlid } from '../shared/ids.js';
import type { AuditLog, Log } from '../shared/ports.js';
import type { ConsumeResult } from './consume.js';

/** What auditing a consumed message writes. */
export interface AuditConsumedDeps {
  audit: AuditLog;
  clock: Clock;
}

/** The queue record a result came from: SQS's id and first receive are the same on every redelivery. */
export interface ConsumedRecord {
  messageId: string;
  /** ApproximateFirstReceiveTimestamp (ms), when SQS gave it. */
  firstReceivedAt?: number;
}

/**
 * Audits one consumed message, as part of that record's outcome: if the audit write still fails after its
 * backoff, the record fails and SQS redelivers it (its counting rewrites the same items), so no audit record
 * is dropped and an audit throttle fails only the records it touched, never the whole batch. Ids come from
 * the SQS message and its first receive, so a redelivery that did get its entry written records nothing twice.
 */
export async function auditConsumed(result: ConsumeResult, record: ConsumedRecord, deps: AuditConsumedDeps): Promise<void> {
  const at = record.firstReceivedAt ?? deps.clock.now();
  const details = { messageKey: result.messageKey, messageId: digitFree(record.messageId) };
  if (result.quarantined.length > 0) {
    await deps.audit.record(
      auditEntry(stableUlid(at, `quarantine|${record.messageId}`), at, {
        action: 'quarantine',
        actor: 'consumer',
        counts: { events: result.quarantined.length },
        details: { ...details, customers: [...new Set(result.quarantined.map((q) => q.customerId))] },
      }),
    );
  }
  await deps.audit.record(
    auditEntry(stableUlid(at, `consume|${record.messageId}`), at, {
      action: 'consume',
      actor: 'consumer',
      counts: { events: result.events, counted: result.counted, duplicates: result.duplicates, quarantined: result.quarantined.length },
      details,
    }),
  );
}

/**
 * Logs a consumed batch of `records` messages, `failed` of which SQS will redeliver: each quarantined event
 * (fields named, values never) and the batch's counts. The audit trail has each message already.
 */
export function reportBatch(records: number, failed: number, results: readonly ConsumeResult[], log: Log): void {
  const quarantined = results.flatMap((r) => r.quarantined);
  for (const q of quarantined)
    log.warn('event quarantined', { customerId: q.customerId, key: q.key, reason: q.reason, fields: q.errors.map((e) => e.field) });
  log.info('consume batch', {
    records,
    failed,
    events: sum(results, (r) => r.events),
    counted: sum(results, (r) => r.counted),
    duplicates: sum(results, (r) => r.duplicates),
    quarantined: quarantined.length,
  });
}

const sum = <T>(xs: readonly T[], f: (x: T) => number) => xs.reduce((s, x) => s + f(x), 0);

/**
 * SQS's message id (a random UUID) as stored in the audit: every digit spelled as a letter (0 as 'g' ... 9 as 'p'),
 * since a UUID's digit groups can by chance read as a card number, and nothing stored may. Reversible by hand.
 */
export const digitFree = (id: string) => id.replace(/[0-9]/g, (d) => String.fromCharCode(103 + Number(d)));
