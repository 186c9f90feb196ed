/** Prints rows as an aligned text table. */
export function printTable(rows: readonly object[]): void {
  if (rows.length === 0) {
    console.log('(none)');
    return;
  }
  const cols = Object.keys(rows[0]!);
  const get = (r: object, c: string) => (r as Record<string, unknown>)[c];
  const cell = (v: unknown) => (typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v ?? ''));
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(get(r, c)).length)));
  const line = (vals: string[]) =>
    vals
      .map((v, i) => v.padEnd(width[i]!))
      .join('  ')
      .trimEnd();
  console.log(line(cols));
  console.log(line(width.map((w) => '-'.repeat(w))));
  for (const r of rows) console.log(line(cols.map((c) => cell(get(r, c)))));
}
