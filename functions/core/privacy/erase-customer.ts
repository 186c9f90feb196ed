import type { Clock } from '../../../contract/clock.js';
import { DAY_MS } from '../../../contract/clock.js';
import { periodContaining } from '../close/billing-period.js';
import type { AuditLog, Customer } from '../shared/ports.js';
import { firstDayToRead } from './export-user.js';
import { type PrivacyRequest, TOMBSTONE_DAYS } from './requests.js';

/** What erasing a customer deletes, table by table; each step removes what is there and says how many items. */
export interface CustomerData {
  /** Marks the customer erased until `expiresAt` (epoch seconds): events still in flight for it are dropped. */
  markErased(customerId: string, at: string, expiresAt: number): Promise<void>;
  /** Which of these customers are marked erased. */
  erased(ids: readonly string[]): Promise<Set<string>>;
  deleteEvents(customerId: string, day: string): Promise<number>;
  /** Removes the customer from the usage fragments of one day (items shared with other customers are rewritten). */
  deleteFragments(customerId: string, day: string): Promise<number>;
  deleteRollups(customerId: string, periodKeys: readonly string[]): Promise<number>;
  deleteFlags(customerId: string): Promise<{ flags: number; expectedActivity: number }>;
  deleteQuarantine(customerId: string): Promise<number>;
  deleteKeys(customerId: string): Promise<number>;
  /** The customer's pseudonym secret, its users' refs and tombstones. */
  deleteRefs(customerId: string): Promise<number>;
  /** Keeps the ledger's reported amounts with the Stripe ids, without the run or errors, until `expiresAt` (epoch seconds). */
  retainLedger(customerId: string, stripeCustomerId: string | undefined, expiresAt: number): Promise<number>;
  /** The documents of earlier exports about the customer or its users. */
  deleteExports(customerId: string): Promise<number>;
  deleteProfile(customerId: string): Promise<void>;
}

export interface EraseCustomerDeps {
  customerData: CustomerData;
  audit: AuditLog;
  clock: Clock;
  /** How many days back raw events are kept (EVENT_RETENTION_DAYS): the erasure looks no further. */
  eventRetentionDays: number;
  /** How long the ledger's amounts are kept for tax once the customer is erased (LEDGER_RETENTION_DAYS). */
  ledgerRetentionDays: number;
}

/**
 * Erases a customer: its events, fragments, rollups, quarantine, flags, expected activity, keys, end users' refs and
 * profile. Only what finance must keep for tax stays: the ledger's reported amounts and Stripe ids, without run ids
 * or errors, until the retention set in config. The erased mark comes first and lasts as long as the queues keep a
 * message, so events still in flight are dropped on arrival instead of counted or quarantined. Every step deletes
 * what it finds, so a rerun after a crash (the job is redelivered) finishes the work. Stripe keeps its own copy.
 */
export async function eraseCustomer(
  request: PrivacyRequest,
  customer: Customer,
  deps: EraseCustomerDeps,
  save: (r: PrivacyRequest) => Promise<void>,
): Promise<PrivacyRequest> {
  const now = deps.clock.now();
  const d = deps.customerData;
  const counts: Record<string, number> = {};
  let r = request;
  const step = async (name: string, done: number, total: number) => {
    r = { ...r, progress: { step: name, done, total }, counts: { ...counts } };
    await save(r);
  };
  await d.markErased(customer.id, new Date(now).toISOString(), Math.floor((now + TOMBSTONE_DAYS * DAY_MS) / 1000));
  const days: string[] = [];
  for (let t = firstDayToRead(customer, now, deps.eventRetentionDays); t <= now; t += DAY_MS)
    days.push(new Date(t).toISOString().slice(0, 10));
  counts.events = 0;
  counts.fragments = 0;
  for (const [i, day] of days.entries()) {
    counts.events += await d.deleteEvents(customer.id, day);
    counts.fragments += await d.deleteFragments(customer.id, day);
    if (i % 7 === 6 || i === days.length - 1) await step('events', i + 1, days.length);
  }
  const periods = [...new Set(days.map((day) => periodContaining(Date.parse(day), customer.anchorDay).key))];
  counts.rollups = await d.deleteRollups(customer.id, periods);
  counts.quarantine = await d.deleteQuarantine(customer.id);
  const flags = await d.deleteFlags(customer.id);
  counts.flags = flags.flags;
  counts.expectedActivity = flags.expectedActivity;
  counts.keys = await d.deleteKeys(customer.id);
  await step('registry', 0, 1);
  counts.userRefs = await d.deleteRefs(customer.id);
  counts.exportParts = await d.deleteExports(customer.id);
  counts.ledgerRetained = await d.retainLedger(
    customer.id,
    customer.stripeCustomerId,
    Math.floor((now + deps.ledgerRetentionDays * DAY_MS) / 1000),
  );
  await d.deleteProfile(customer.id);
  const notes = [
    `Deleted the customer's events, usage, rollups, quarantine, flags, expected activity, keys and end users' refs; events still in flight until ${new Date(now + TOMBSTONE_DAYS * DAY_MS).toISOString().slice(0, 10)} are dropped on arrival.`,
    `Kept for tax: ${counts.ledgerRetained} ledger records (reported amounts and Stripe ids) until ${new Date(now + deps.ledgerRetentionDays * DAY_MS).toISOString().slice(0, 10)}.`,
    "Stripe keeps its own copy of the customer and its meter events: use Stripe's redaction for those.",
    'Backups (point-in-time recovery) keep the deleted items until they expire, 35 days at most. The audit trail of operations is kept.',
  ];
  r = { ...r, counts: { ...counts }, notes };
  await deps.audit.record({
    id: `privacy-${r.id}`,
    action: 'privacy.erase',
    actor: r.actor,
    at: new Date(deps.clock.now()).toISOString(),
    customerId: customer.id,
    counts,
    details: { request: r.id, subject: 'customer', reason: r.reason },
  });
  return r;
}
