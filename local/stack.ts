import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import type { Clock } from '../contract/clock.js';
import { type AwsClients, makeAwsClients } from '../functions/adapters/aws/aws-clients.js';
import { CapacityMeter } from '../functions/adapters/dynamodb/capacity-meter.js';
import { generateKey, hashKey } from '../functions/core/shared/api-keys.js';
import type { KeyRole } from '../functions/core/shared/ports.js';
import { makeApiHandler } from '../functions/handlers/api.js';
import { makeCloseWorker } from '../functions/handlers/close-worker.js';
import { makeConsumeHandler } from '../functions/handlers/consume.js';
import { makeIngestHandler } from '../functions/handlers/ingest.js';
import { CLOSE_QUEUE, EVENT_QUEUE, HANDLERS, type HandlerName, HTTP_ROUTES, TABLES, type TableName } from '../functions/resources.js';
import { makeApiServices } from '../functions/runtime/api-services.js';
import { type CloseServices, makeCloseServices } from '../functions/runtime/close-services.js';
import { makeServices, type Services } from '../functions/runtime/services.js';
import { CONSOLE_DIST } from './console-build.js';
import { makeConsoleServer } from './console-server.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startDynamoDbLocal } from './dynamodb-local.js';
import { freePort } from './free-port.js';
import { type HttpHandler, startHttpBridge } from './http-bridge.js';
import { type LocalIam, type LocalIamOptions, localIam } from './iam/local-iam.js';
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
  /**
   * How the close sends meter events (`STRIPE_METER_MODE`, default the environment's, else `v1`). With the
   * embedded Stripe test server, its asynchronous refusals come back, signed, to `POST /v1/stripe/webhooks`.
   */
  stripeMeterMode?: 'v1' | 'v2-stream';
  /**
   * Each function's clients enforce that function's IAM policy, read from the synthesized CDK template (default).
   * `false` switches it off (nothing in the repo does: a test that needs it is hiding a missing grant);
   * `{ templateTransform }` edits the template first, as the test that proves enforcement removes a grant.
   */
  iam?: LocalIamOptions | false;
  /** The built console the bridge serves at / (default console/dist); `false` serves the API alone. */
  consoleDir?: string | false;
}

export interface LocalStack {
  url: string;
  /** The operator's view (seeding, inspecting): unrestricted clients, no function's role. */
  services: Services;
  env: Record<string, string>;
  ingestKey: string;
  adminKey: string;
  /** Registers another API key (a test's analyst, say), as the operator does with `meter keys create`. */
  addKey(key: string, role: KeyRole, principal: string, source?: string): Promise<void>;
  poller?: Poller;
  closePoller?: Poller;
  consume: SqsHandler;
  /** The operator's close services (seeding, `meter nightly`): unrestricted clients, like `services`. */
  closeServices: CloseServices;
  /** What each function runs on: its own clients, acting as its role. The pollers and the HTTP bridge use these. */
  functionServices: {
    ingest: Services;
    consume: Services;
    api: Services;
    'close-planner': CloseServices;
    'close-worker': CloseServices;
  };
  /** Each function's enforced policy; absent when `iam: false`. */
  iam?: LocalIam;
  /** The embedded Stripe test server (a stand-in for Stripe), when it runs. */
  stripeServer?: StripeTestServer;
  capacity: CapacityMeter;
  /** A one-time link that signs a browser in to the console as the admin key (absent with `consoleDir: false`). */
  signInUrl?: string;
  /** Mints another one-time sign-in link. */
  newSignInUrl?: () => string;
  /** Waits until every accepted event has been consumed. */
  drain(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts the embedded stack: DynamoDB Local, local-aws-sqs in process, pollers that invoke the real
 * consumer handler, and the HTTP API serving the real HTTP handlers.
 */
export async function startLocalStack(o: LocalStackOptions = {}): Promise<LocalStack> {
  // DynamoDB's TTL deletes by the wall clock: on an injected clock (tests, benches living in another month) it
  // would delete items that clock calls current, at a moment of its own choosing, so it is left off there.
  const ddb = await startDynamoDbLocal({ dataDir: o.dataDir ? join(o.dataDir, 'dynamodb') : undefined, ttl: o.clock === undefined });
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
    // The test server signs its webhooks to this stack with this secret (its endpoint is set once the port is known).
    env.STRIPE_WEBHOOK_SECRET = `whsec_local_${randomBytes(18).toString('base64url')}`;
  } else {
    for (const k of ['STRIPE_SECRET_KEY', 'STRIPE_API_BASE', 'STRIPE_RATE_PER_SECOND', 'STRIPE_WEBHOOK_SECRET'])
      if (process.env[k]) env[k] = process.env[k]!;
  }
  const meterMode = o.stripeMeterMode ?? process.env.STRIPE_METER_MODE;
  if (meterMode) env.STRIPE_METER_MODE = meterMode;
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
  const iam = o.iam === false ? undefined : await localIam({ clients, env, region: LOCAL_REGION, options: o.iam });
  // One set of clients per function, each acting as that function's role, as on AWS.
  const fnClients = Object.fromEntries(
    HANDLERS.map((h) => [
      h,
      iam
        ? makeAwsClients({
            region: LOCAL_REGION,
            endpoints: { dynamodb: ddb.endpoint, sqs: sqsLocal.endpoint },
            credentials: LOCAL_CREDENTIALS,
            plugins: [iam.plugins[h]],
          })
        : clients,
    ]),
  ) as Record<HandlerName, AwsClients>;
  const servicesOf = (h: HandlerName) => makeServices({ env, clients: fnClients[h], capacity, clock: o.clock });

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
  const functionServices: LocalStack['functionServices'] = {
    ingest: servicesOf('ingest'),
    consume: servicesOf('consume'),
    api: makeApiServices(servicesOf('api'), env),
    'close-planner': makeCloseServices(servicesOf('close-planner'), env),
    'close-worker': makeCloseServices(servicesOf('close-worker'), env),
  };
  if (stripeServer) await (await closeSvc.reporter()).ensureMeters();
  const consumer = makeConsumeHandler(functionServices.consume);
  const consume: SqsHandler = o.wrapConsumer ? o.wrapConsumer(consumer) : consumer;
  const poller = o.noPoller
    ? undefined
    : startPoller({
        // The event source mapping polls with the function's role.
        sqs: fnClients.consume.sqs,
        queueUrl: sqsLocal.queueUrl,
        handler: consume,
        concurrency: o.pollerConcurrency ?? 2,
        visibilityTimeoutSeconds: o.visibilityTimeoutSeconds ?? 5,
      });

  const closePoller = o.noPoller
    ? undefined
    : startPoller({
        sqs: fnClients['close-worker'].sqs,
        queueUrl: sqsLocal.close.queueUrl,
        handler: makeCloseWorker(functionServices['close-worker']),
        concurrency: 2,
        batchSize: 1,
        visibilityTimeoutSeconds: 120,
      });

  const ingest = makeIngestHandler(functionServices.ingest);
  const api = makeApiHandler(functionServices.api);
  const port = o.port === undefined || o.port === 0 ? await freePort() : o.port;
  const consoleServer =
    o.consoleDir === false
      ? undefined
      : makeConsoleServer({
          dir: o.consoleDir ?? CONSOLE_DIST,
          port,
          signInKey: adminKey,
          lookupKey: (key) => functionServices.api.keyByHash(hashKey(key)),
        });
  const server: Server = await startHttpBridge(bridgeRoutes({ ingest, api }), { port, console: consoleServer });
  const url = `http://127.0.0.1:${port}`;
  stripeServer?.webhooks.setEndpoint({ url: `${url}/v1/stripe/webhooks`, secret: env.STRIPE_WEBHOOK_SECRET! });
  const newSignInUrl = consoleServer ? () => `${url}${consoleServer.newSignInPath()}` : undefined;
  const signInUrl = newSignInUrl?.();

  if (o.dataDir) {
    // It holds the admin key (and any real Stripe key): for this user only.
    mkdirSync(o.dataDir, { recursive: true, mode: 0o700 });
    chmodSync(o.dataDir, 0o700);
    const file = join(o.dataDir, 'stack.json');
    rmSync(file, { force: true });
    writeFileSync(file, JSON.stringify({ url, env, pid: process.pid, ingestKey, adminKey }, null, 2), { mode: 0o600 });
    chmodSync(file, 0o600);
  }

  return {
    url,
    services,
    env,
    ingestKey,
    adminKey,
    addKey,
    poller,
    closePoller,
    consume,
    closeServices: closeSvc,
    functionServices,
    ...(iam ? { iam } : {}),
    stripeServer,
    capacity,
    ...(signInUrl ? { signInUrl, newSignInUrl } : {}),
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
      for (const c of new Set([clients, ...Object.values(fnClients)])) {
        c.dynamo.destroy();
        c.sqs.destroy();
      }
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
