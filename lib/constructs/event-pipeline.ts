import { CfnOutput, Duration } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { CONSUMER, EVENT_QUEUE } from '../../functions/resources.js';
import { NodeFunction } from './node-function.js';
import { grantPseudonyms } from './registry-grants.js';
import type { UsageTables } from './usage-tables.js';

/** What the event pipeline needs from the rest of the stack. */
export interface EventPipelineProps {
  readonly tables: UsageTables;
  /** Settings every function reads at cold start (functions/runtime/config.ts), e.g. `HOLD_SEVERITIES`. */
  readonly settings?: Record<string, string>;
}

/**
 * The usage-event queue, its dead-letter queue and the consumer that counts each message,
 * reporting failed records one by one so only those are redelivered.
 * @example const pipeline = new EventPipeline(this, 'Pipeline', { tables });
 */
export class EventPipeline extends Construct {
  readonly queue: Queue;
  readonly dlq: Queue;
  readonly consume: NodeFunction;
  /** The queue URLs under the environment variables functions/runtime/config.ts reads. */
  readonly environment: Record<string, string>;

  constructor(scope: Construct, id: string, props: EventPipelineProps) {
    super(scope, id);
    // Lambda refuses an SQS trigger whose visibility timeout is shorter than the function timeout; fail at synth instead.
    if (EVENT_QUEUE.visibilityTimeoutSeconds < CONSUMER.timeoutSeconds) {
      throw new Error(`EVENT_QUEUE.visibilityTimeoutSeconds must be at least CONSUMER.timeoutSeconds (${CONSUMER.timeoutSeconds})`);
    }
    const secure = { enforceSSL: true, encryption: QueueEncryption.SQS_MANAGED } as const;
    this.dlq = new Queue(this, EVENT_QUEUE.dlqId, { ...secure, retentionPeriod: Duration.days(EVENT_QUEUE.dlqRetentionDays) });
    this.queue = new Queue(this, EVENT_QUEUE.id, {
      ...secure,
      retentionPeriod: Duration.days(EVENT_QUEUE.retentionDays),
      visibilityTimeout: Duration.seconds(EVENT_QUEUE.visibilityTimeoutSeconds),
      deadLetterQueue: { queue: this.dlq, maxReceiveCount: EVENT_QUEUE.maxReceiveCount },
    });
    this.environment = { [EVENT_QUEUE.env]: this.queue.queueUrl, [EVENT_QUEUE.dlqEnv]: this.dlq.queueUrl };

    this.consume = new NodeFunction(this, {
      handler: 'consume',
      description: 'Counts usage events from the queue exactly once',
      environment: { ...props.tables.environment, ...props.settings, ...this.environment },
      timeout: Duration.seconds(CONSUMER.timeoutSeconds),
      memorySize: CONSUMER.memoryMb,
    });
    const t = props.tables.tables;
    // Exactly what consuming does (functions/core/count/consume.ts): who owns each event id (BatchGetItem), claim
    // the new ones (a conditional PutItem each; BatchWriteItem for unconditional puts), add the usage fragments,
    // quarantine what it cannot count (a transaction of Puts and the counter's Update). No reads, no deletes.
    t.events.grant(this.consume, 'dynamodb:BatchGetItem', 'dynamodb:PutItem', 'dynamodb:BatchWriteItem');
    t.usage.grant(this.consume, 'dynamodb:PutItem', 'dynamodb:BatchWriteItem');
    t.quarantine.grant(this.consume, 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:BatchWriteItem');
    // Audit records are append-only.
    t.audit.grant(this.consume, 'dynamodb:PutItem', 'dynamodb:BatchWriteItem');
    t.registry.grantReadData(this.consume);
    // End users' refs (functions/adapters/dynamodb/dynamodb-user-refs.ts): a customer's secret and a user's ref are
    // each made once, by a conditional put, in the Pseudonyms table; never a delete.
    grantPseudonyms(this.consume, t.pseudonyms, 'refs');
    // An event dated before today marks its day late (pk LATE in Rollups, see TABLES.rollups), so the next close
    // reports it again; that batch write is all the consumer does there.
    this.consume.addToRolePolicy(
      new PolicyStatement({
        actions: ['dynamodb:BatchWriteItem'],
        resources: [t.rollups.tableArn],
        conditions: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': ['LATE'] } },
      }),
    );
    this.consume.addEventSource(
      new SqsEventSource(this.queue, {
        batchSize: EVENT_QUEUE.batchSize,
        maxBatchingWindow: Duration.seconds(EVENT_QUEUE.maxBatchingWindowSeconds),
        reportBatchItemFailures: true,
      }),
    );

    new CfnOutput(this, 'QueueUrl', { value: this.queue.queueUrl, description: 'usage-event queue' });
    new CfnOutput(this, 'DlqUrl', { value: this.dlq.queueUrl, description: 'usage-event dead-letter queue' });
  }
}
