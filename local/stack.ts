import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import type { Clock } from '../contract/clock.js';
import { makeAwsClients } from '../functions/adapters/aws/aws-clients.js';
import { CapacityMeter } from '../functions/adapters/dynamodb/capacity-meter.js';
import { generateKey, hashKey } from '../functions/core/shared/api-keys.js';
import type { KeyRole } from '../functions/core/shared/ports.js';
import { makeApiHandler } from '../functions/handlers/api.js';
import { makeCloseWorker } from '../functions/handlers/close-worker.js';
import { makeConsumeHandler } from '../functions/handlers/consume.js';
import { makeIngestHandler } from '../functions/handlers/ingest.js';
import { CLOSE_QUEUE, EVENT_QUEUE, HTTP_ROUTES, TABLES, type TableName } from '../functions/resources.js';
import { type CloseServices, makeCloseServices } from '../functions/runtime/close-services.js';
import { makeServices, type Services } from '../functions/runtime/services.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startDynamoDbLocal } from './dynamodb-local.js';
import { freePort } from './free-port.js';
import { type HttpHandler, startHttpBridge } from './http-bridge.js';
import { type Poller, type SqsHandler, startPoller } from './lambda-poller.js';
import { startSqsLocal } from './sqs-local.js';
import { type StripeTestServer, startStripeTestServer } from './stripe-test-server/index.js';

export interface LocalStackOptions {
  /** Persist DynamoDB here; in memory when absent. */
  dataDir?: string;
  /** HTTP API port; 0 picks a free one. */
  port?: number;
  ingestKey?: string;
  adminKey?: string;
  clock?: Clock;
  pollerConcurrency?: number;
  /** Visibility timeout locally: short, so failed records come back quickly. */
  visibilityTimeoutSeconds?: number;
  /** Wraps the consumer, e.g. to inject crashes in tests. */
  wrapConsumer?: (h: SqsHandler) => SqsHandler;
  /** Start without pollers (tests drive consumption themselves). */
  noPoller?: boolean;
  /** Where the nightly close reports: the embedded Stripe test server (default) or STRIPE_API_BASE. */
  stripe?: 'embedded' | 'external';
}

export interface LocalStack {
  url: string;
  services: Services;
  env: Record<string, string>;
  ingestKey: string;
  adminKey: string;
  poller?: Poller;
  closePoller?: Poller;
  consume: SqsHandler;
  closeServices: CloseServices;
  /** The embedded Stripe test server (a stand-in for Stripe), when it runs. */
  stripeServer?: StripeTestServer;
  capacity: CapacityMeter;
  /** Waits until every accepted event has been consumed. */
  drain(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts the embedded stack: DynamoDB Local, local-aws-sqs in process, pollers that invoke the real
 * consumer handler, and the HTTP API serving the real HTTP handlers.
 */
export async function startLocalStack(o: LocalStackOptions = {}): Promise<LocalStack> {
  const ddb = await startDynamoDbLocal({ dataDir: o.dataDir ? join(o.dataDir, 'dynamodb') : undefined });
  const sqsLocal = await startSqsLocal({ visibilityTimeoutSeconds: o.visibilityTimeoutSeconds ?? 5 });
  const env: Record<string, string> = {
    AWS_REGION: LOCAL_REGION,
    AWS_ENDPOINT_URL_DYNAMODB: ddb.endpoint,
    AWS_ENDPOINT_URL_SQS: sqsLocal.endpoint,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    [EVENT_QUEUE.env]: sqsLocal.queueUrl,
    [EVENT_QUEUE.dlqEnv]: sqsLocal.dlqUrl,
    [CLOSE_QUEUE.env]: sqsLocal.close.queueUrl,
    [CLOSE_QUEUE.dlqEnv]: sqsLocal.close.dlqUrl,
  };
  const external = (o.stripe ?? (process.env.STRIPE_API_BASE ? 'external' : 'embedded')) === 'external';
  const stripeServer = external ? undefined : await startStripeTestServer({ clock: o.clock });
  if (stripeServer) {
    env.STRIPE_SECRET_KEY = 'sk_test_local_stand_in';
    env.STRIPE_API_BASE = stripeServer.url;
  } else {
    for (const k of ['STRIPE_SECRET_KEY', 'STRIPE_API_BASE', 'STRIPE_RATE_PER_SECOND']) if (process.env[k]) env[k] = process.env[k]!;
  }
  for (const [k, t] of Object.entries(TABLES)) env[t.env] = ddb.tableNames[k as TableName];
  // The hold policy is the stack's, so the close, the read API and the CLI (through stack.json) share it.
  for (const k of ['HOLD_SEVERITIES', 'STRIPE_INVOICE_GRACE_HOURS']) if (process.env[k]) env[k] = process.env[k]!;

  const clients = makeAwsClients({
    region: LOCAL_REGION,
    endpoints: { dynamodb: ddb.endpoint, sqs: sqsLocal.endpoint },
    credentials: LOCAL_CREDENTIALS,
  });
  const capacity = new CapacityMeter();
  const services = makeServices({ env, clients, capacity, clock: o.clock });

  const ingestKey = o.ingestKey ?? generateKey('ingest');
  const adminKey = o.adminKey ?? generateKey('admin');
  const addKey = (key: string, role: KeyRole, principal: string, source?: string) =>
    services.registry.putKey({
      hash: hashKey(key),
      prefix: key.slice(0, 12),
      role,
      principal,
      ...(source ? { source } : {}),
      createdAt: new Date().toISOString(),
    });
  await addKey(ingestKey, 'ingest', 'local-ingest', 'local');
  await addKey(adminKey, 'admin', 'local-admin');

  const closeSvc = makeCloseServices(services, env);
  if (stripeServer) await (await closeSvc.reporter()).ensureMeters();
  const consumer = makeConsumeHandler(services);
  const consume: SqsHandler = o.wrapConsumer ? o.wrapConsumer(consumer) : consumer;
  const poller = o.noPoller
    ? undefined
    : startPoller({
        sqs: clients.sqs,
        queueUrl: sqsLocal.queueUrl,
        handler: consume,
        concurrency: o.pollerConcurrency ?? 2,
        visibilityTimeoutSeconds: o.visibilityTimeoutSeconds ?? 5,
      });

  const closePoller = o.noPoller
    ? undefined
    : startPoller({
        sqs: clients.sqs,
        queueUrl: sqsLocal.close.queueUrl,
        handler: makeCloseWorker(closeSvc),
        concurrency: 2,
        batchSize: 1,
        visibilityTimeoutSeconds: 120,
      });

  const ingest = makeIngestHandler(services);
  const api = makeApiHandler(services);
  const port = o.port === undefined || o.port === 0 ? await freePort() : o.port;
  const server: Server = await startHttpBridge(bridgeRoutes({ ingest, api }), { port });
  const url = `http://127.0.0.1:${port}`;

  if (o.dataDir) {
    mkdirSync(o.dataDir, { recursive: true });
    writeFileSync(join(o.dataDir, 'stack.json'), JSON.stringify({ url, env, pid: process.pid, ingestKey, adminKey }, null, 2));
  }

  return {
    url,
    services,
    env,
    ingestKey,
    adminKey,
    poller,
    closePoller,
    consume,
    closeServices: closeSvc,
    stripeServer,
    capacity,
    drain: async (timeoutMs) => {
      if (!poller) throw new Error('no poller running');
      await poller.drain(timeoutMs);
    },
    async stop() {
      await new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections?.();
      if (poller) await poller.stop();
      if (closePoller) await closePoller.stop();
      if (stripeServer) await stripeServer.close();
      clients.dynamo.destroy();
      clients.sqs.destroy();
      await sqsLocal.stop();
      await ddb.stop();
      if (o.dataDir) rmSync(join(o.dataDir, 'stack.json'), { force: true });
    },
  };
}

/** The bridge's routes: exactly `HTTP_ROUTES`, each to the function that serves it, matched as API Gateway and the handler's router do. */
function bridgeRoutes(handlers: Record<'ingest' | 'api', HttpHandler>): Record<string, HttpHandler> {
  return Object.fromEntries(Object.entries(HTTP_ROUTES).map(([key, fn]) => [key, handlers[fn]]));
}
