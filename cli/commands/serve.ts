import { ensureConsoleBuilt } from '../../local/console-build.js';
import { checkJava } from '../../local/dynamodb-local.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';

/**
 * `meter serve [--port 4000] [--data-dir .meter]`: runs the embedded stack until SIGINT/SIGTERM,
 * then drains the queue before exiting so that no accepted event is lost.
 */
export async function serve(o: { port?: string; dataDir?: string }): Promise<LocalStack> {
  // The same default as the commands that connect to it (METER_DATA_DIR, else .meter).
  const dataDir = o.dataDir ?? process.env.METER_DATA_DIR ?? '.meter';
  checkJava();
  await ensureConsoleBuilt().catch((err) =>
    console.error(`the console could not be built (${(err as Error).message}); serving the API only`),
  );
  const stack = await startLocalStack({
    port: Number(o.port ?? 4000),
    dataDir,
    ingestKey: process.env.METER_INGEST_KEY,
    adminKey: process.env.METER_ADMIN_KEY,
  });
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.error(`${signal}: draining the queue before exit...`);
    try {
      await stack.drain(120_000);
      await stack.stop();
      console.error('drained; bye');
      process.exit(0);
    } catch (err) {
      console.error(`could not drain: ${(err as Error).message}`);
      await stack.stop();
      process.exit(1);
    }
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  console.log(
    `meter serve ready at ${stack.url} (ingest key ${stack.ingestKey.slice(0, 12)}…, admin key ${stack.adminKey.slice(0, 12)}…, keys in ${dataDir}/stack.json)`,
  );
  if (stack.signInUrl) console.log(`console: ${stack.signInUrl}  (a one-time link: it signs this browser in as the admin key)`);
  return stack;
}
