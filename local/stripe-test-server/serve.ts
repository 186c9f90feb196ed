/**
 * Runs the Stripe test server as its own process for the local stack:
 *   npx tsx local/stripe-test-server/serve.ts --port 12111 [--host 127.0.0.1]
 * Prints one JSON line with the URL once listening; stops on SIGINT or SIGTERM.
 */
import { parseArgs } from 'node:util';
import { startStripeTestServer } from './index.js';

const { values } = parseArgs({ options: { port: { type: 'string' }, host: { type: 'string' } } });
const port = Number(values.port ?? process.env.STRIPE_TEST_SERVER_PORT ?? 12111);
if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid --port: ${values.port}`);

const server = await startStripeTestServer({ port, host: values.host ?? '127.0.0.1' });
process.stdout.write(`${JSON.stringify({ msg: 'stripe-test-server listening', url: server.url })}\n`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void server.close().then(() => process.exit(0));
  });
}
