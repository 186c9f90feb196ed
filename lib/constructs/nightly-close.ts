import { CfnOutput, Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { Alias } from 'aws-cdk-lib/aws-kms';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { type ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { CLOSE_FUNCTIONS, CLOSE_QUEUE, FLAG_TOPIC, STRIPE_SECRET } from '../../functions/resources.js';
import type { EventPipeline } from './event-pipeline.js';
import { NodeFunction } from './node-function.js';
import { grantPseudonyms, registryCustomerErasure, registryPrivacyRequests } from './registry-grants.js';
import type { UsageTables } from './usage-tables.js';

/** What the nightly close needs from the rest of the stack. */
export interface NightlyCloseProps {
  readonly tables: UsageTables;
  readonly pipeline: EventPipeline;
  /** Settings every function reads at cold start (functions/runtime/config.ts), e.g. `HOLD_SEVERITIES`. */
  readonly settings?: Record<string, string>;
  /**
   * Name of an existing Secrets Manager secret holding the Stripe key, to import instead of creating
   * `serenity-metering/stripe` (e.g. when the secret outlived an earlier stack).
   */
  readonly stripeSecretName?: string;
  /** Worker invocations at once; default CLOSE_FUNCTIONS.workerMaxConcurrency. */
  readonly workerMaxConcurrency?: number;
  /** Stripe calls per second shared by all workers; default CLOSE_FUNCTIONS.stripeRatePerSecond. */
  readonly stripeRatePerSecond?: number;
}

/**
 * The nightly close: at 00:30 UTC a planner fans customers out in chunks over the close queue, and
 * workers close each chunk and report it to Stripe, with the Stripe key read from Secrets Manager.
 * @example const close = new NightlyClose(this, 'Close', { tables, pipeline });
 */
export class NightlyClose extends Construct {
  readonly queue: Queue;
  readonly dlq: Queue;
  /** Where a schedule event that could not start the planner, or a planner run that failed every retry, is kept. */
  readonly plannerDlq: Queue;
  readonly planner: NodeFunction;
  readonly worker: NodeFunction;
  /** New fraud flags are published here; subscribe the analysts' channel to it. */
  readonly flagTopic: Topic;
  readonly schedule: Rule;
  readonly stripeSecret: ISecret;
  /** The close queue URLs under the environment variables functions/runtime/config.ts reads. */
  readonly environment: Record<string, string>;

  constructor(scope: Construct, id: string, props: NightlyCloseProps) {
    super(scope, id);
    const maxConcurrency = props.workerMaxConcurrency ?? CLOSE_FUNCTIONS.workerMaxConcurrency;
    const globalRate = props.stripeRatePerSecond ?? CLOSE_FUNCTIONS.stripeRatePerSecond;
    // A chunk still being worked on must not become visible to a second worker; AWS recommends six times the timeout.
    if (CLOSE_QUEUE.visibilityTimeoutSeconds < 6 * CLOSE_FUNCTIONS.workerTimeoutSeconds) {
      throw new Error(
        `CLOSE_QUEUE.visibilityTimeoutSeconds must be at least 6 x CLOSE_FUNCTIONS.workerTimeoutSeconds (${6 * CLOSE_FUNCTIONS.workerTimeoutSeconds})`,
      );
    }
    if (!Number.isInteger(maxConcurrency) || maxConcurrency < 2 || maxConcurrency > 1000) {
      throw new Error(`workerMaxConcurrency must be an integer from 2 to 1000 (what SQS event sources accept), got ${maxConcurrency}`);
    }
    if (!(globalRate > 0)) throw new Error(`stripeRatePerSecond must be positive, got ${globalRate}`);

    const secure = { enforceSSL: true, encryption: QueueEncryption.SQS_MANAGED } as const;
    this.dlq = new Queue(this, CLOSE_QUEUE.dlqId, { ...secure, retentionPeriod: Duration.days(CLOSE_QUEUE.dlqRetentionDays) });
    this.queue = new Queue(this, CLOSE_QUEUE.id, {
      ...secure,
      retentionPeriod: Duration.days(CLOSE_QUEUE.retentionDays),
      visibilityTimeout: Duration.seconds(CLOSE_QUEUE.visibilityTimeoutSeconds),
      deadLetterQueue: { queue: this.dlq, maxReceiveCount: CLOSE_QUEUE.maxReceiveCount },
    });
    this.environment = { [CLOSE_QUEUE.env]: this.queue.queueUrl, [CLOSE_QUEUE.dlqEnv]: this.dlq.queueUrl };

    this.stripeSecret = props.stripeSecretName
      ? Secret.fromSecretNameV2(this, 'StripeSecret', props.stripeSecretName)
      : this.createStripeSecret();

    const t = props.tables.tables;
    // Every function gets every resource name (runtime/config.ts validates them all at cold start); IAM decides what each may touch.
    const environment = { ...props.tables.environment, ...props.settings, ...props.pipeline.environment, ...this.environment };

    this.planner = new NodeFunction(this, {
      handler: 'close-planner',
      description: 'Nightly close: plans the run and fans customers out over the close queue',
      environment,
      timeout: Duration.seconds(CLOSE_FUNCTIONS.plannerTimeoutSeconds),
    });
    t.registry.grantReadData(this.planner);
    t.rollups.grantReadWriteData(this.planner);
    // Audit records are append-only.
    t.audit.grant(this.planner, 'dynamodb:PutItem', 'dynamodb:BatchWriteItem');
    this.queue.grantSendMessages(this.planner);
    // A missed close must be seen: EventBridge keeps an event it could not deliver, and Lambda a run that
    // failed its retries (EventBridge invokes asynchronously), in one queue an operator watches and redrives.
    this.plannerDlq = new Queue(this, 'PlannerFailures', { ...secure, retentionPeriod: Duration.days(CLOSE_QUEUE.dlqRetentionDays) });
    Validations.of(this.plannerDlq).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is the dead-letter queue of the close schedule and the planner destination; a DLQ needs no DLQ of its own.',
    });
    this.planner.configureAsyncInvoke({
      onFailure: new SqsDestination(this.plannerDlq),
      retryAttempts: 2,
      maxEventAge: Duration.hours(6),
    });
    this.schedule = new Rule(this, 'Schedule', {
      description: 'Starts the nightly close at 00:30 UTC',
      schedule: Schedule.cron(CLOSE_QUEUE.scheduleCron),
      targets: [new LambdaFunction(this.planner, { deadLetterQueue: this.plannerDlq, retryAttempts: 8, maxEventAge: Duration.hours(6) })],
    });

    this.flagTopic = new Topic(this, FLAG_TOPIC.id, {
      displayName: 'Serenity metering: new fraud flags',
      enforceSSL: true,
      masterKey: Alias.fromAliasName(this, 'SnsKey', 'alias/aws/sns'),
    });

    this.worker = new NodeFunction(this, {
      handler: 'close-worker',
      description: 'Nightly close: closes a chunk of customers and reports their usage to Stripe',
      environment: {
        ...environment,
        // The ARN, never the key: the worker fetches the key at cold start.
        [STRIPE_SECRET.env]: this.stripeSecret.secretArn,
        // Already this worker's share of the account-wide rate (each worker has its own limiter); not divided again in code.
        STRIPE_RATE_PER_SECOND: String(globalRate / maxConcurrency),
        CLOSE_CONCURRENCY: String(CLOSE_FUNCTIONS.customersAtOnce),
        [FLAG_TOPIC.env]: this.flagTopic.topicArn,
      },
      timeout: Duration.seconds(CLOSE_FUNCTIONS.workerTimeoutSeconds),
      memorySize: CLOSE_FUNCTIONS.workerMemoryMb,
    });
    t.events.grantReadData(this.worker);
    t.registry.grantReadData(this.worker);
    t.rollups.grantReadWriteData(this.worker);
    // The ledger is the record of what Stripe was sent: read, created and revised, never deleted.
    t.ledger.grant(
      this.worker,
      ...['Query', 'GetItem', 'BatchGetItem', 'PutItem', 'UpdateItem', 'BatchWriteItem'].map((a) => `dynamodb:${a}`),
    );
    t.audit.grant(this.worker, 'dynamodb:PutItem', 'dynamodb:BatchWriteItem');
    this.stripeSecret.grantRead(this.worker);
    t.flags.grantReadWriteData(this.worker);
    // Privacy exports run here too (functions/core/privacy/): they read the customer's quarantine and the audit of
    // their requests, and write the request's progress and its document (pk PR# of the Registry).
    t.quarantine.grantReadData(this.worker);
    t.audit.grant(this.worker, 'dynamodb:Query');
    this.worker.addToRolePolicy(registryPrivacyRequests(t.registry.tableArn));
    // And a whole customer's erasure: its events and fragments (the fragments it shares with other customers are
    // rewritten without it), its quarantine (with the depth counters), the registry items of registryCustomerErasure;
    // its rollups, flags and ledger (kept, stripped, for tax) are covered by the grants above.
    t.events.grant(this.worker, 'dynamodb:BatchWriteItem');
    t.usage.grant(this.worker, 'dynamodb:Query', 'dynamodb:UpdateItem', 'dynamodb:BatchWriteItem');
    t.quarantine.grant(this.worker, 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem');
    this.worker.addToRolePolicy(registryCustomerErasure(t.registry.tableArn));
    grantPseudonyms(this.worker, t.pseudonyms, 'customer-erasure');
    this.flagTopic.grantPublish(this.worker);
    // The topic is encrypted with the AWS-managed SNS key, whose ARN is unknown at synth time: the publish
    // grant can only name it as key/*, and only for the data-key actions SNS needs.
    for (const id of [
      'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]',
      'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:kms:<AWS::Region>:<AWS::AccountId>:key/*]',
    ]) {
      Validations.of(this.worker.role!).acknowledge({
        id,
        reason: 'Publishing to a topic encrypted with the AWS-managed key alias/aws/sns: its key ARN is not known at synth time.',
      });
    }
    this.worker.addEventSource(
      new SqsEventSource(this.queue, { batchSize: CLOSE_QUEUE.batchSize, reportBatchItemFailures: true, maxConcurrency }),
    );

    new CfnOutput(this, 'QueueUrl', { value: this.queue.queueUrl, description: 'nightly close work queue' });
    new CfnOutput(this, 'DlqUrl', { value: this.dlq.queueUrl, description: 'nightly close dead-letter queue' });
    new CfnOutput(this, 'PlannerFailuresUrl', {
      value: this.plannerDlq.queueUrl,
      description: 'failed or undelivered nightly close starts: a missed close',
    });
    new CfnOutput(this, 'StripeSecretArn', {
      value: this.stripeSecret.secretArn,
      description: 'Stripe secret key; put the bare sk_live_… key as its SecretString',
    });
  }

  private createStripeSecret(): Secret {
    // Created with a random placeholder, which the worker rejects as not a Stripe key until an operator
    // puts the real one: `aws secretsmanager put-secret-value --secret-id serenity-metering/stripe --secret-string sk_live_…`.
    // Retained: the key is set outside CloudFormation and must survive a stack replacement.
    const secret = new Secret(this, 'StripeSecret', {
      secretName: STRIPE_SECRET.name,
      description: 'Stripe secret or restricted key for the nightly close (SecretString is the bare key)',
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(secret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'A third-party Stripe API key: Secrets Manager cannot issue a new one, so it is rolled in the Stripe dashboard and put here by hand (the worker reads it at cold start).',
    });
    return secret;
  }
}
