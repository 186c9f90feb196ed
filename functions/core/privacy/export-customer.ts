import { DAY_MS } from '../../../contract/clock.js';
import type { UsageEvent } from '../../../contract/event-contract.js';
import type { ExpectedActivity } from '../fraud/expected-activity.js';
import type { Flag } from '../fraud/types.js';
import type {
  ApiKey,
  AuditEntry,
  AuditSearch,
  Customer,
  LedgerRecord,
  Page,
  PageRequest,
  QuarantineItem,
  StoredDay,
} from '../shared/ports.js';
import { toCsv } from './csv.js';
import { type ExportUserDeps, firstDayToRead } from './export-user.js';
import { type PrivacyRequest, QUARANTINE_EXPORT_LIMIT } from './requests.js';

export interface ExportCustomerDeps extends ExportUserDeps {
  ledger: { entries(customerId: string): Promise<LedgerRecord[]> };
  auditSearch: AuditSearch;
  keys: (page: PageRequest) => Promise<Page<ApiKey>>;
}

/** Everything held about one customer, table by table: JSON, and a CSV per table. */
export interface CustomerExport {
  subject: { customerId: string };
  generatedAt: string;
  tables: {
    customer: Customer[];
    events: UsageEvent[];
    dailyUsage: StoredDay[];
    ledger: LedgerRecord[];
    flags: Flag[];
    expectedActivity: ExpectedActivity[];
    quarantine: QuarantineItem[];
    keys: (Omit<ApiKey, 'hash'> & { sharedWithOtherCustomers?: true })[];
    audit: AuditEntry[];
    privacyRequests: PrivacyRequest[];
  };
  csv: Record<string, string>;
}

async function allPages<T>(read: (page: PageRequest) => Promise<Page<T>>, limit = 500): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | undefined;
  do {
    const page = await read({ limit, ...(cursor !== undefined ? { cursor } : {}) });
    out.push(...page.items);
    cursor = page.cursor;
  } while (cursor !== undefined);
  return out;
}

/**
 * Everything stored about a customer: its profile, raw events and daily usage, what was reported to Stripe (the
 * ledger), flags and expected activity, quarantined events, its keys (never a key or its hash), the audit entries
 * naming it and the privacy requests about it. Reads every stored day of its events and audit: `progress` is
 * called every seven days.
 */
export async function exportCustomer(
  customer: Customer,
  deps: ExportCustomerDeps,
  progress: (done: number, total: number) => Promise<void> = async () => {},
): Promise<CustomerExport> {
  const now = deps.clock.now();
  const days: string[] = [];
  for (let t = firstDayToRead(customer, now, deps.eventRetentionDays); t <= now; t += DAY_MS)
    days.push(new Date(t).toISOString().slice(0, 10));
  const events: UsageEvent[] = [];
  const audit: AuditEntry[] = [];
  for (const [i, day] of days.entries()) {
    events.push(...(await deps.events.listDay(customer.id, day)));
    audit.push(...(await allPages((page) => deps.auditSearch.search({ day, customerId: customer.id }, page))));
    if (i % 7 === 6 || i === days.length - 1) await progress(i + 1, days.length);
  }
  // A key scoped to this customer and others is listed with this customer alone: the others are not its data.
  const keys = (await allPages(deps.keys))
    .filter((k) => k.customers?.includes(customer.id))
    .map(({ hash: _hash, customers, ...k }) => ({
      ...k,
      customers: [customer.id],
      ...(customers!.length > 1 ? { sharedWithOtherCustomers: true as const } : {}),
    }));
  const tables = {
    customer: [customer],
    events,
    dailyUsage: days.length > 0 ? await deps.rollups.getDays(customer.id, days[0]!, days.at(-1)!) : [],
    ledger: await deps.ledger.entries(customer.id),
    flags: await deps.flags.forCustomer(customer.id),
    expectedActivity: await deps.flags.expectedActivity(customer.id),
    quarantine: await deps.quarantine.list({ customerId: customer.id, limit: QUARANTINE_EXPORT_LIMIT }),
    keys,
    audit,
    privacyRequests: (await allPages((page) => deps.requests.list(page))).filter((r) => r.customerId === customer.id),
  };
  const csv = Object.fromEntries(Object.entries(tables).map(([name, rows]) => [`${name}.csv`, toCsv(rows as object[])]));
  return { subject: { customerId: customer.id }, generatedAt: new Date(now).toISOString(), tables, csv };
}
