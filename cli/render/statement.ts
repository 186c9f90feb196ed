import { assertNever, type Meter } from '../../contract/meters.js';
import type { MeterStatement, Statement } from '../../functions/core/billing/statement.js';
import { renderCsv } from '../../functions/core/billing/statement-csv.js';

export type StatementFormat = 'table' | 'json' | 'csv';
export const STATEMENT_FORMATS: readonly StatementFormat[] = ['table', 'json', 'csv'];

/**
 * A statement as text: `table` for people, `json` as the HTTP API returns it, `csv` one row per figure
 * (kinds `billed`, `reported_total`, `daily`, `report`, `held`) for spreadsheets.
 */
export function renderStatement(s: Statement, format: StatementFormat): string {
  switch (format) {
    case 'json':
      return JSON.stringify(s, null, 2);
    case 'csv':
      return renderCsv(s);
    case 'table':
      return renderText(s);
    default:
      return assertNever(format);
  }
}

function renderText(s: Statement): string {
  const who = `${s.customer.id}${s.customer.name ? ` (${s.customer.name})` : ''}`;
  const byMeter = Object.fromEntries(s.meters.map((m) => [m.meter, m])) as Record<Meter, MeterStatement>;
  // One row per day across the meters: a month of days stays one screen.
  const days = byMeter.api_calls.daily.map((d, i) => ({
    day: d.day,
    api_calls: d.value,
    active_users: byMeter.active_users.daily[i]?.value,
    'users that day': byMeter.active_users.daily[i]?.dayFigure,
    protected_files: byMeter.protected_files.daily[i]?.value,
    'files peak that day': byMeter.protected_files.daily[i]?.dayFigure,
  }));
  const totals = s.meters.map((m) => ({
    meter: m.meter,
    formula: m.formula,
    billed: m.billed,
    reported: m.reportedTotal,
    unreported: m.unreported,
    corrections: m.corrections.length,
    pending: m.pending.length,
    errors: m.errors.length,
    'lost in Stripe': m.lostInStripe.length,
    'held back': m.held.length ? m.held.map((h) => `${h.from}..${h.to}`).join(' ') : 'none',
  }));
  const reports = s.meters.flatMap((m) =>
    m.reports.map((r) => ({
      meter: m.meter,
      identifier: r.identifier,
      day: r.day,
      rev: r.revision,
      value: r.value,
      state: r.state,
      'sent at': r.sentAt ?? '',
      error: r.lastError ?? '',
    })),
  );
  return [
    `Statement for ${who}, Stripe customer ${s.customer.stripeCustomerId ?? 'none'}`,
    `Period ${s.period.key}: [${s.period.start}, ${s.period.end}), closed through ${s.closedThrough ?? 'no day yet'}`,
    '',
    ...textTable(totals),
    '',
    'Daily values (users and files: period to date, as reported):',
    ...textTable(days),
    '',
    'Reported to Stripe:',
    ...textTable(reports),
  ].join('\n');
}

/** Rows as aligned text (the CLI's `printTable`, as a string so the statement renders in core). */
function textTable(rows: readonly Record<string, unknown>[]): string[] {
  if (rows.length === 0) return ['(none)'];
  const cols = Object.keys(rows[0]!);
  const cell = (v: unknown) => String(v ?? '');
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals: string[]) =>
    vals
      .map((v, i) => v.padEnd(width[i]!))
      .join('  ')
      .trimEnd();
  return [line(cols), line(width.map((w) => '-'.repeat(w))), ...rows.map((r) => line(cols.map((c) => cell(r[c]))))];
}
