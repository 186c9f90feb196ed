import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';

/** A plugin for every client's middleware stack; the local stack enforces each function's IAM policy with one. */
export type AwsClientPlugin = Parameters<DynamoDBClient['middlewareStack']['use']>[0];

export interface AwsClients {
  dynamo: DynamoDBClient;
  doc: DynamoDBDocumentClient;
  sqs: SQSClient;
}

/**
 * Creates the AWS clients once per process. Endpoints come from the SDK's own
 * AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL_SQS variables, which the local stack sets.
 * @example const { doc, sqs } = makeAwsClients();
 */
export function makeAwsClients(
  opts: {
    region?: string;
    maxSockets?: number;
    /** Explicit endpoints and credentials, for the local stack. */
    endpoints?: { dynamodb?: string; sqs?: string };
    credentials?: { accessKeyId: string; secretAccessKey: string };
    /** Added to each client's middleware stack (the document client shares the DynamoDB client's). */
    plugins?: AwsClientPlugin[];
  } = {},
): AwsClients {
  const maxSockets = opts.maxSockets ?? 64;
  // Keep-alive on both agents: the local stack speaks plain HTTP, AWS speaks HTTPS.
  const requestHandler = () =>
    new NodeHttpHandler({
      httpAgent: new HttpAgent({ keepAlive: true, maxSockets }),
      httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets }),
    });
  const region = opts.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
  const credentials = opts.credentials;
  const dynamo = new DynamoDBClient({
    region,
    credentials,
    endpoint: opts.endpoints?.dynamodb,
    requestHandler: requestHandler(),
    // Three SDK attempts (throttling waits up to 0.5 s, then 1 s): the adapters retry on top with their own bounded
    // backoff (DEFAULT_BACKOFF), and the two together must stay well inside the consumer's 30 s.
    maxAttempts: 3,
  });
  const doc = DynamoDBDocumentClient.from(dynamo, { marshallOptions: { removeUndefinedValues: true } });
  const sqs = new SQSClient({ region, credentials, endpoint: opts.endpoints?.sqs, requestHandler: requestHandler(), maxAttempts: 5 });
  for (const plugin of opts.plugins ?? []) {
    dynamo.middlewareStack.use(plugin);
    sqs.middlewareStack.use(plugin as unknown as Parameters<SQSClient['middlewareStack']['use']>[0]);
  }
  return { dynamo, doc, sqs };
}
