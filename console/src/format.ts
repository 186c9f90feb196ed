// Shared formatting: numbers with thousands separators and UTC dates, so every page reads the same way.

const NUM = new Intl.NumberFormat('en-GB');

export function formatNumber(n: number | null | undefined): string {
  return n == null ? '–' : NUM.format(n);
}

/** '2026-03-04' or an ISO instant -> '4 Mar 2026' (UTC, as the pipeline counts days). */
export function formatDate(iso: string | number | undefined): string {
  if (iso === undefined || iso === '') return '–';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toLocaleDateString('en-GB', { day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' });
}

export function formatDateTime(iso: string | number | undefined): string {
  if (iso === undefined || iso === '') return '–';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** A half-open window [from, to) shown as the days it covers. */
export function formatWindow(w: { from: string; to: string } | undefined): string {
  if (!w) return '–';
  const last = new Date(new Date(w.to).getTime() - 1);
  const from = formatDate(w.from);
  const to = formatDate(last.toISOString());
  return from === to ? from : `${from} – ${to}`;
}

export function toUnixSeconds(iso: string): number {
  return Math.floor(new Date(iso).getTime() / 1000);
}

/** The current UTC month as YYYY-MM. */
export function currentPeriod(now = new Date()): string {
  return now.toISOString().slice(0, 7);
}
