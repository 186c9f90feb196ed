/**
 * The faults of the chaos run (npm run chaos), each counted as it is injected:
 * - DynamoDB throttling: middleware on a function's real client raising ProvisionedThroughputExceededException on
 *   a share of the attempts, inside the SDK's retry loop (as DynamoDB throttles one request and the SDK retries it);
 * - killed consumers: an invocation whose DynamoDB calls start failing after a few of them, as a process killed
 *   mid-batch leaves some writes made and others not, and whose batch SQS then redelivers whole;
 * - SQS redeliveries: a batch processed in full but reported failed, so SQS hands every record out again;
 * - Stripe 429, 500 and lost responses: a proxy in front of the Stripe test server (a lost response is forwarded
 *   and processed by Stripe, and its connection cut before the answer).
 */
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { AwsClients } from '../../functions/adapters/aws/aws-clients.js';
import type { SqsHandler } from '../../local/lambda-poller.js';

/** Every fault injected, by kind. */
export interface FaultCounts {
  dynamoThrottles: number;
  consumerKills: number;
  sqsRedeliveries: number;
  stripe429: number;
  stripe500: number;
  stripeLostResponses: number;
  clientRetries: number;
  duplicateEvents: number;
  failedPlannerRuns: number;
  concurrentCloses: number;
  lateEvents: number;
}

export const noFaults = (): FaultCounts => ({
  dynamoThrottles: 0,
  consumerKills: 0,
  sqsRedeliveries: 0,
  stripe429: 0,
  stripe500: 0,
  stripeLostResponses: 0,
  clientRetries: 0,
  duplicateEvents: 0,
  failedPlannerRuns: 0,
  concurrentCloses: 0,
  lateEvents: 0,
});

/** A switch the kill fault throws through: while `armed`, each DynamoDB call counts down, then every call fails. */
export interface KillSwitch {
  callsLeft: number | undefined;
}

/**
 * Adds throttling at `rate` of the attempts to a function's DynamoDB client (shared by its document client), and
 * the kill switch's failures. The SDK's own retries answer most throttles; those left reach the function.
 */
export function injectDynamoFaults(clients: AwsClients, rate: number, random: () => number, counts: FaultCounts, kill?: KillSwitch): void {
  const middleware = (next: (args: unknown) => Promise<unknown>) => async (args: unknown) => {
    if (kill?.callsLeft !== undefined && kill.callsLeft-- <= 0) throw new Error('chaos: the consumer process was killed');
    if (random() < rate) {
      counts.dynamoThrottles++;
      throw new ProvisionedThroughputExceededException({ message: 'chaos: throttled', $metadata: { httpStatusCode: 400 } });
    }
    return next(args);
  };
  clients.dynamo.middlewareStack.addRelativeTo(middleware as never, {
    relation: 'after',
    toMiddleware: 'retryMiddleware',
    name: 'chaosDynamoFaults',
  });
}

/**
 * SQS's visibility changes made by the consumer (a throttled record hidden for a minute and more) shortened to one
 * second: the run compresses the time redeliveries wait, not their number.
 */
export function compressRedeliveryDelays(clients: AwsClients): void {
  clients.sqs.middlewareStack.add(
    (next) => async (args) => {
      const input = args.input as { Entries?: { VisibilityTimeout?: number }[]; VisibilityTimeout?: number };
      for (const e of input.Entries ?? []) if (e.VisibilityTimeout !== undefined) e.VisibilityTimeout = Math.min(e.VisibilityTimeout, 1);
      if (input.VisibilityTimeout !== undefined) input.VisibilityTimeout = Math.min(input.VisibilityTimeout, 1);
      return next(args);
    },
    { step: 'initialize', name: 'chaosCompressDelays' },
  );
}

/**
 * The consumer as the chaos run invokes it: at `killRate` an invocation is killed after 1-12 DynamoDB calls (the
 * batch fails whole, half done); at `redeliveryRate` a batch that succeeded is reported failed, so SQS redelivers
 * it. Invocations run one at a time, so the kill switch belongs to one invocation.
 */
export function chaoticConsumer(
  handler: SqsHandler,
  kill: KillSwitch,
  o: { killRate: number; redeliveryRate: number; random: () => number; counts: FaultCounts },
): SqsHandler {
  return async (event: SQSEvent): Promise<SQSBatchResponse | undefined> => {
    if (o.random() < o.killRate) {
      o.counts.consumerKills++;
      kill.callsLeft = 1 + Math.floor(o.random() * 12);
      try {
        await handler(event);
      } finally {
        kill.callsLeft = undefined;
      }
      // Killed before it could answer: Lambda reports the invocation failed, and every record comes back.
      throw new Error('chaos: the consumer process was killed');
    }
    const res = await handler(event);
    if (o.random() < o.redeliveryRate) {
      o.counts.sqsRedeliveries++;
      return { batchItemFailures: event.Records.map((r) => ({ itemIdentifier: r.messageId })) };
    }
    return res;
  };
}

const KINDS = ['429', '500', 'lost'] as const;

/** A proxy to the Stripe test server answering `rate` of the API calls with a 429, a 500 or a lost response, a third each. */
export async function startFaultyStripe(
  target: string,
  rate: number,
  random: () => number,
  counts: FaultCounts,
): Promise<{ url: string; setRate(r: number): void; close(): Promise<void> }> {
  let current = rate;
  let next = 0;
  const upstream = new URL(target);
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const api = (req.url ?? '').startsWith('/v1/') || (req.url ?? '').startsWith('/v2/');
      // Which calls fail is random; the kind goes round 429, 500, lost, so each is exactly a third and a short run sees all three.
      const fault = api && random() < current ? KINDS[next++ % KINDS.length] : undefined;
      if (fault === '429' || fault === '500') {
        if (fault === '429') counts.stripe429++;
        else counts.stripe500++;
        const body = { error: { type: fault === '429' ? 'invalid_request_error' : 'api_error', message: `chaos: ${fault}` } };
        res.writeHead(Number(fault), { 'content-type': 'application/json', 'request-id': `req_chaos_${Date.now()}` });
        res.end(JSON.stringify(body));
        return;
      }
      const forward = request(
        { host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers },
        (up) => {
          if (fault === 'lost') {
            counts.stripeLostResponses++;
            up.resume();
            up.on('end', () => res.destroy());
            return;
          }
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      forward.on('error', () => res.destroy());
      forward.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    setRate: (r) => {
      current = r;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
