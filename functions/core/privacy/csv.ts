import { csvCell } from '../billing/statement-csv.js';

/**
 * Rows of one table as CSV: a column per top-level attribute, in the order they first appear; nested values
 * (metadata, evidence, history) as JSON in their cell. An empty table is its header alone, or nothing.
 */
export function toCsv(rows: readonly object[]): string {
  const columns: string[] = [];
  const seen = new Set<string>();
  for (const r of rows)
    for (const k of Object.keys(r))
      if (!seen.has(k)) {
        seen.add(k);
        columns.push(k);
      }
  const cell = (v: unknown) =>
    csvCell(v === undefined ? undefined : typeof v === 'object' ? JSON.stringify(v) : typeof v === 'number' ? v : String(v));
  return [
    columns.map((c) => csvCell(c)).join(','),
    ...rows.map((r) => columns.map((c) => cell((r as Record<string, unknown>)[c])).join(',')),
  ].join('\n');
}
