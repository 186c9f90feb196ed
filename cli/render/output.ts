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

/**
 * Exits with `code` once stdout and stderr have handed everything written to the OS: `process.exit` alone
 * drops what still waits in a pipe's queue (`meter backtest | wc -l` lost most rows).
 */
export async function exitWhenFlushed(code: number): Promise<never> {
  process.exitCode = code;
  await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
  return process.exit(code);
}

/** Resolves when everything written to `stream` before this call has been flushed, or the stream is gone. */
function flushed(stream: NodeJS.WriteStream): Promise<void> {
  if (stream.destroyed || stream.writableEnded) return Promise.resolve();
  // Writes complete in order, so an empty write's callback runs after every earlier one.
  return new Promise((resolve) => stream.write('', () => resolve()));
}

/**
 * A reader that stops early (`meter ... | head -1`) closes the pipe: that ends the output, quietly, with the
 * exit code the command had, rather than an EPIPE stack trace. Any other write error is reported.
 */
export function endQuietlyOnClosedPipe(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED') process.exit(process.exitCode ?? 0);
      throw err;
    });
  }
}
