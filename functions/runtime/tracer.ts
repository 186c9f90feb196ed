import { Tracer } from '@aws-lambda-powertools/tracer';
import type { AwsClients } from '../adapters/aws/aws-clients.js';
import { SERVICE_NAME } from '../resources.js';

/**
 * X-Ray tracing through Powertools Tracer, where it pays: the AWS SDK clients, so a slow or throttled
 * DynamoDB or SQS call shows as its own segment under the invocation. Off wherever the process is not a
 * Lambda (Powertools' own test: `AWS_EXECUTION_ENV`), so tests and the local stack trace nothing;
 * `POWERTOOLS_TRACE_ENABLED=false` turns it off on Lambda too.
 */
export const tracer = new Tracer({ serviceName: process.env.METER_FUNCTION || SERVICE_NAME });

/** The clients, captured by the tracer when tracing is on (the document client shares the DynamoDB client's middleware). */
export function traced(clients: AwsClients, t: Pick<Tracer, 'isTracingEnabled' | 'captureAWSv3Client'> = tracer): AwsClients {
  if (!t.isTracingEnabled()) return clients;
  t.captureAWSv3Client(clients.dynamo);
  t.captureAWSv3Client(clients.sqs);
  return clients;
}
