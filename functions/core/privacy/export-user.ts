import type { Clock } from '../../../contract/clock.js';
import { DAY_MS } from '../../../contract/clock.js';
import type { UsageEvent } from '../../../contract/event-contract.js';
import { periodContaining } from '../close/billing-period.js';
import type { Flag } from '../fraud/types.js';
import type {
  AuditEntry,
  AuditLog,
  Customer,
  EventStore,
  FlagStore,
  QuarantineItem,
  QuarantineStore,
  RollupStore,
} from '../shared/ports.js';
import { toCsv } from './csv.js';
import { type PrivacyRequest, type PrivacyRequests, QUARANTINE_EXPORT_LIMIT } from './requests.js';

export interface ExportUserDeps {
  events: EventStore;
  rollups: RollupStore;
  quarantine: QuarantineStore;
  flags: FlagStore;
  audit: AuditLog;
  requests: PrivacyRequests;
  clock: Clock;
  /** How many days back raw events are kept (EVENT_RETENTION_DAYS): the export reads no further. */
  eventRetentionDays: number;
}

/** What we hold about one end user, table by table, as a person can read it: JSON, and a CSV per table. */
export interface UserExport {
  subject: { customerId: string; userRef: string };
  generatedAt: string;
  tables: {
    events: UsageEvent[];
    periodUsers: { period: string; firstDay: string }[];
    quarantine: QuarantineItem[];
    flags: Flag[];
    privacyRequests: PrivacyRequest[];
    audit: AuditEntry[];
  };
  csv: Record<string, string>;
}

/** Earliest day the customer can hold events for: 35 days before it started (Stripe's backdating window), within retention. */
export function firstDayToRead(customer: Customer, now: number, retentionDays: number): number {
  const started = Math.min(Date.parse(customer.createdAt), Date.parse(customer.startedAt ?? customer.createdAt));
  const floor = now - retentionDays * DAY_MS;
  const from = Number.isFinite(started) ? Math.max(started - 35 * DAY_MS, floor) : floor;
  return from - (from % DAY_MS);
}

/**
 * Everything stored that concerns one end user, found by their ref: their raw events (with the /24 and region as
 * stored), the billing periods that counted them, quarantined events and flags whose evidence names them, and the
 * privacy requests about them with their audit entries. Reads every stored day of the customer's events (a user has
 * no index of their own): `progress` is called after each day.
 */
export async function exportUser(
  customer: Customer,
  userRef: string,
  deps: ExportUserDeps,
  progress: (done: number, total: number) => Promise<void> = async () => {},
): Promise<UserExport> {
  const now = deps.clock.now();
  const names = (value: unknown) => JSON.stringify(value).includes(userRef);
  const days: string[] = [];
  for (let t = firstDayToRead(customer, now, deps.eventRetentionDays); t <= now; t += DAY_MS)
    days.push(new Date(t).toISOString().slice(0, 10));
  const events: UsageEvent[] = [];
  for (const [i, day] of days.entries()) {
    for (const e of await deps.events.listDay(customer.id, day)) if (e.userId === userRef || names(e.metadata ?? {})) events.push(e);
    if (i % 7 === 6 || i === days.length - 1) await progress(i + 1, days.length);
  }
  const periodKeys = [...new Set(days.map((d) => periodContaining(Date.parse(d), customer.anchorDay).key))];
  const periodUsers: { period: string; firstDay: string }[] = [];
  for (const key of periodKeys) {
    const firstDay = (await deps.rollups.periodUsers(customer.id, key)).get(userRef);
    if (firstDay !== undefined) periodUsers.push({ period: key, firstDay });
  }
  const quarantine = (await deps.quarantine.list({ customerId: customer.id, limit: QUARANTINE_EXPORT_LIMIT })).filter(names);
  const flags = (await deps.flags.forCustomer(customer.id)).filter(names);
  const privacyRequests = await requestsAbout(deps.requests, customer.id, userRef);
  const audit: AuditEntry[] = [];
  for (const r of privacyRequests) {
    const entry = (await deps.audit.list(r.createdAt.slice(0, 10))).find((a) => a.id === `privacy-${r.id}`);
    if (entry) audit.push(entry);
  }
  const tables = { events, periodUsers, quarantine, flags, privacyRequests, audit };
  const csv = Object.fromEntries(Object.entries(tables).map(([name, rows]) => [`${name}.csv`, toCsv(rows as object[])]));
  return { subject: { customerId: customer.id, userRef }, generatedAt: new Date(now).toISOString(), tables, csv };
}

async function requestsAbout(requests: PrivacyRequests, customerId: string, userRef: string): Promise<PrivacyRequest[]> {
  const out: PrivacyRequest[] = [];
  let cursor: string | undefined;
  do {
    const page = await requests.list({ limit: 100, ...(cursor !== undefined ? { cursor } : {}) });
    out.push(...page.items.filter((r) => r.customerId === customerId && r.userRef === userRef));
    cursor = page.cursor;
  } while (cursor !== undefined);
  return out;
}
