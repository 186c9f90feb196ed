/**
 * `npm start`: the whole pipeline on the embedded stack, with simulated customers sending usage
 * through the emitter, and a live view of what the pipeline has counted.
 */

import { printTable } from '../cli/render/output.js';
import { parseUsageQuery, usageReport } from '../functions/core/count/usage-query.js';
import { ensureConsoleBuilt } from './console-build.js';
import { checkJava } from './dynamodb-local.js';
import { registerSimCustomers } from './sim-history.js';
import { startLocalStack } from './stack.js';
import { SIM_CUSTOMERS, startTraffic } from './traffic.js';

process.env.POWERTOOLS_LOG_LEVEL ??= 'WARN';
// Node 20 is what these machines run; the SDK's notice about 2027 is for whoever upgrades them.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

async function main() {
  try {
    checkJava();
  } catch (err) {
    console.error((err as Error).message);
    process.exit(1);
  }
  await ensureConsoleBuilt().catch((err) =>
    console.error(`the console could not be built (${(err as Error).message}); serving the API only`),
  );
  const stack = await startLocalStack({
    port: Number(process.env.PORT ?? 4000),
    dataDir: process.env.METER_DATA_DIR ?? '.meter',
    ingestKey: process.env.METER_INGEST_KEY,
    adminKey: process.env.METER_ADMIN_KEY,
  });
  const s = stack.services;
  const speed = Number(process.env.TRAFFIC_SPEED ?? 0.1);
  // On the first start, sim-spiky's history goes through ingest: a few seconds to send, about half a minute to count.
  await registerSimCustomers({ registry: s.registry, clock: s.clock, endpoint: stack.url, apiKey: stack.ingestKey, speed });
  const traffic = startTraffic({ endpoint: stack.url, apiKey: stack.ingestKey, speed });
  console.log(`meter serve ready at ${stack.url}; simulated traffic for ${SIM_CUSTOMERS.length} customers is flowing (Ctrl-C to stop)`);
  if (stack.signInUrl) console.log(`console: ${stack.signInUrl}  (a one-time link: it signs this browser in as the admin key)`);
  console.log(
    `try: curl -H 'authorization: Bearer ${stack.adminKey}' '${stack.url}/v1/usage?customer=acme-corp&from=${new Date(Date.now() - 3_600_000).toISOString()}&to=${new Date(Date.now() + 3_600_000).toISOString()}&granularity=hour'`,
  );

  const show = async () => {
    const now = s.clock.now();
    const rows = [];
    for (const c of SIM_CUSTOMERS) {
      const customer = (await s.registry.customers([c.id])).get(c.id)!;
      const r = await usageReport(
        parseUsageQuery({
          customer: c.id,
          from: new Date(now - 86_400_000).toISOString(),
          to: new Date(now).toISOString(),
          granularity: 'hour',
        }),
        customer,
        s.usage,
        now,
        s.rollups,
      );
      rows.push({
        customer: c.id,
        'api calls (24h)': r.totals.api_calls,
        'api calls (this hour)': r.buckets.at(-1)?.api_calls ?? 0,
        'active users (24h)': r.totals.active_users,
        'protected files': r.totals.protected_files,
      });
    }
    const st = traffic.emitter.stats();
    const health = await s.queue.depth();
    console.log(
      `\n${new Date(now).toISOString()}  emitter: ${JSON.stringify({ recorded: st.recorded, sent: st.sent, accepted: st.accepted, pending: st.pending, dropped: st.dropped.total })}  queue: ${JSON.stringify(health)}`,
    );
    printTable(rows);
  };
  const view = setInterval(() => void show().catch((err) => console.error(`live view: ${(err as Error).message}`)), 10_000);

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    clearInterval(view);
    console.log('\nstopping: flushing the emitter and draining the queue...');
    await traffic.stop();
    await stack.drain(120_000);
    await stack.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

void main();
