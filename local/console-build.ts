/**
 * Builds the console (console/ → console/dist) when the build is missing or older than its sources, so that
 * `npm start` and `meter serve` on a fresh clone serve the console without a separate step.
 */
import { existsSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..');
const CONSOLE = join(ROOT, 'console');
/** Where the build lands; the bridge serves it and the CDK stack uploads it. */
export const CONSOLE_DIST = join(CONSOLE, 'dist');

/**
 * Builds the console unless console/dist/index.html is newer than every source (console/src, index.html,
 * vite.config.ts, tsconfig.json). `force` builds regardless. Returns whether it built.
 */
export async function ensureConsoleBuilt(o: { force?: boolean; quiet?: boolean } = {}): Promise<{ built: boolean; dir: string }> {
  const index = join(CONSOLE_DIST, 'index.html');
  if (!o.force && existsSync(index) && statSync(index).mtimeMs >= newestSource()) return { built: false, dir: CONSOLE_DIST };
  if (!o.quiet) console.error('building the console (console/ → console/dist)...');
  const { build } = await import('vite');
  // Built aside and moved into place, so that a server (or a second build) never sees half a build.
  const aside = join(CONSOLE, `.dist-${process.pid}-${Date.now()}`);
  try {
    await build({ configFile: join(CONSOLE, 'vite.config.ts'), logLevel: 'error', build: { outDir: aside, emptyOutDir: true } });
    rmSync(CONSOLE_DIST, { recursive: true, force: true });
    try {
      renameSync(aside, CONSOLE_DIST);
    } catch (err) {
      // Another process moved its build into place first: theirs is as new as ours.
      if (!existsSync(join(CONSOLE_DIST, 'index.html'))) throw err;
    }
  } finally {
    rmSync(aside, { recursive: true, force: true });
  }
  return { built: true, dir: CONSOLE_DIST };
}

function newestSource(): number {
  let newest = 0;
  const visit = (p: string) => {
    const st = statSync(p);
    if (st.isDirectory()) for (const e of readdirSync(p)) visit(join(p, e));
    else newest = Math.max(newest, st.mtimeMs);
  };
  for (const p of ['src', 'index.html', 'vite.config.ts', 'tsconfig.json']) {
    const full = join(CONSOLE, p);
    if (existsSync(full)) visit(full);
  }
  return newest;
}
