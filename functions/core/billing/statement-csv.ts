import type { Statement } from './statement.js';

const CSV_COLUMNS = [
  'customer',
  'period',
  'meter',
  'kind',
  'day',
  'revision',
  'identifier',
  'value',
  'day_figure',
  'state',
  'sent_at',
  'last_error',
] as const;
type CsvRow = Partial<Record<(typeof CSV_COLUMNS)[number], string | number>>;

/**
 * A statement as CSV, one row per figure (kinds `billed`, `reported_total`, `daily`, `report`, `held`), for
 * spreadsheets: what `meter statement --format csv` prints and `GET /v1/statements/{customer}?format=csv` answers.
 */
export function renderCsv(s: Statement): string {
  const rows: CsvRow[] = [];
  for (const m of s.meters) {
    const base = { customer: s.customer.id, period: s.period.key, meter: m.meter };
    rows.push({ ...base, kind: 'billed', value: m.billed }, { ...base, kind: 'reported_total', value: m.reportedTotal });
    for (const d of m.daily) rows.push({ ...base, kind: 'daily', day: d.day, value: d.value, day_figure: d.dayFigure });
    for (const r of m.reports) {
      rows.push({
        ...base,
        kind: 'report',
        day: r.day,
        revision: r.revision,
        identifier: r.identifier,
        value: r.value,
        state: r.state,
        sent_at: r.sentAt,
        last_error: r.lastError,
      });
    }
    for (const h of m.held) rows.push({ ...base, kind: 'held', day: `${h.from}/${h.to}` });
  }
  return [CSV_COLUMNS.join(','), ...rows.map((r) => CSV_COLUMNS.map((c) => csvCell(r[c])).join(','))].join('\n');
}

/** RFC 4180 quoting, and a leading `'` on text a spreadsheet would run as a formula. */
export function csvCell(v: string | number | undefined): string {
  if (v === undefined) return '';
  if (typeof v === 'number') return String(v);
  const safe = /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}
