import { CfnOutput, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import { HttpApi, HttpMethod, HttpStage, LogGroupLogDestination } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { type ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { HTTP_ROUTES, STRIPE_SECRET, STRIPE_WEBHOOK_SECRET } from '../../functions/resources.js';
import type { EventPipeline } from './event-pipeline.js';
import { NodeFunction } from './node-function.js';
import { grantPseudonyms, registryPrivacyRequests } from './registry-grants.js';
import type { UsageTables } from './usage-tables.js';

/** What the HTTP API needs from the rest of the stack. */
export interface MeteringHttpApiProps {
  readonly tables: UsageTables;
  readonly pipeline: EventPipeline;
  /** Settings every function reads at cold start (functions/runtime/config.ts), e.g. `HOLD_SEVERITIES`. */
  readonly settings?: Record<string, string>;
  /** The stage's steady-state requests per second and burst, across all routes. */
  readonly throttle: { readonly rateLimit: number; readonly burstLimit: number };
}

// No source IP, user agent or caller: access logs must not hold a full IP address.
const ACCESS_LOG_FORMAT = AccessLogFormat.custom(
  JSON.stringify({
    requestId: '$context.requestId',
    time: '$context.requestTime',
    routeKey: '$context.routeKey',
    status: '$context.status',
    latencyMs: '$context.responseLatency',
    integrationStatus: '$context.integrationStatus',
    integrationError: '$context.integrationErrorMessage',
    responseLength: '$context.responseLength',
  }),
);

/**
 * The `$default` stage of an HTTP API with the access logs and throttle every API of the stack shares
 * (ids `AccessLogs` and `DefaultStage` under `scope`).
 */
export function addLoggedStage(
  scope: Construct,
  httpApi: HttpApi,
  throttle: { readonly rateLimit: number; readonly burstLimit: number },
): HttpStage {
  const accessLogs = new LogGroup(scope, 'AccessLogs', { retention: RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
  return new HttpStage(scope, 'DefaultStage', {
    httpApi,
    autoDeploy: true,
    throttle,
    accessLogSettings: { destination: new LogGroupLogDestination(accessLogs), format: ACCESS_LOG_FORMAT },
  });
}

/**
 * The public HTTP API: POST /v1/events ingests, GET /v1/usage and GET /v1/health read.
 * Callers authenticate with bearer API keys that the functions check against the Registry table.
 * @example const api = new MeteringHttpApi(this, 'Api', { tables, pipeline }); api.url;
 */
export class MeteringHttpApi extends Construct {
  readonly httpApi: HttpApi;
  readonly ingest: NodeFunction;
  /** The `api` function: every route but ingest. */
  readonly api: NodeFunction;
  /** The base URL of the API, ending in a slash. */
  readonly url: string;
  private readonly tables: UsageTables;

  constructor(scope: Construct, id: string, props: MeteringHttpApiProps) {
    super(scope, id);
    const { tables, pipeline } = props;
    this.tables = tables;
    const t = tables.tables;
    // functions/runtime/config.ts validates every resource name at cold start, so each function gets them all;
    // IAM below decides what each may touch.
    const environment = { ...tables.environment, ...props.settings, ...pipeline.environment };

    this.ingest = new NodeFunction(this, { handler: 'ingest', description: 'POST /v1/events', environment });
    pipeline.queue.grantSendMessages(this.ingest);
    // Quarantining is a transaction of Puts and the counter's Update; ingest never removes (replay is the operator's).
    t.quarantine.grant(this.ingest, 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:BatchWriteItem');
    // Audit records are append-only, for every function.
    t.audit.grant(this.ingest, 'dynamodb:PutItem', 'dynamodb:BatchWriteItem');
    t.registry.grantReadData(this.ingest);
    // A rejected event is kept with its end user's ref in place of the id (the ref made as the consumer makes it).
    grantPseudonyms(this.ingest, t.pseudonyms, 'refs');

    this.api = new NodeFunction(this, {
      handler: 'api',
      description: 'Reads (usage, health, statements, flags) and flag reviews',
      environment,
    });
    for (const table of [t.usage, t.quarantine, t.ledger]) table.grantReadData(this.api);
    // Reviews change a flag and are audited; a dismissal marks its days late (Rollups), so the next close releases them.
    for (const table of [t.flags, t.rollups]) table.grantReadWriteData(this.api);
    // The API reads keys and customers, and writes customer items (a confirmation's finance mark, a registration)
    // and, for the console's key management (admin), key items (issue, revoke, lastUsedAt): nothing else of the
    // table, and never a delete (a revoked key stays, stamped).
    t.registry.grantReadData(this.api);
    this.api.addToRolePolicy(
      new PolicyStatement({
        actions: ['dynamodb:PutItem', 'dynamodb:UpdateItem'],
        resources: [t.registry.tableArn],
        conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['CUS#*', 'KEY#*'] } },
      }),
    );
    t.audit.grant(this.api, 'dynamodb:PutItem', 'dynamodb:BatchWriteItem');
    // Privacy requests (admin): an erasure puts the user's tombstone and deletes the mapping; every request is stored.
    grantPseudonyms(this.api, t.pseudonyms, 'user-erasure');
    this.api.addToRolePolicy(registryPrivacyRequests(t.registry.tableArn));
    // The console's audit search (GET /v1/audit, admin): a Query of one day's partition; still no update or delete.
    t.audit.grant(this.api, 'dynamodb:Query');
    // A replay (POST /v1/quarantine/replay) removes what it re-enqueued and rewrites what stays, with the depth counter.
    t.quarantine.grant(this.api, 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem');
    for (const queue of [pipeline.queue, pipeline.dlq]) queue.grant(this.api, 'sqs:GetQueueAttributes');
    // A replay and a DLQ redrive send to the event queue; the redrive receives from the DLQ and deletes what it moved.
    pipeline.queue.grant(this.api, 'sqs:SendMessage');
    pipeline.dlq.grant(this.api, 'sqs:ReceiveMessage', 'sqs:DeleteMessage');

    this.httpApi = new HttpApi(this, 'Api', { description: 'Serenity usage metering', createDefaultStage: false });
    this.url = addLoggedStage(this, this.httpApi, props.throttle).url;

    const ingest = new HttpLambdaIntegration('IngestIntegration', this.ingest);
    const api = new HttpLambdaIntegration('ApiIntegration', this.api);
    // Exactly the routes of functions/resources.ts, each to the function that serves it.
    const integrations = { ingest, api };
    for (const [key, fn] of Object.entries(HTTP_ROUTES)) {
      const [method, path] = key.split(' ') as [keyof typeof HttpMethod, string];
      this.httpApi.addRoutes({ path, methods: [HttpMethod[method]], integration: integrations[fn] });
    }
    Validations.of(this.httpApi).acknowledge({
      id: 'AwsSolutions-APIG4',
      reason:
        "Every route checks a bearer API key in the function (hashed, looked up in the Registry table, with per-key roles), so a gateway authorizer would repeat that lookup; POST /v1/stripe/webhooks is Stripe's and is authenticated by its Stripe-Signature, checked in the function.",
    });

    new CfnOutput(this, 'Url', { value: this.url, description: 'HTTP API base URL' });
  }

  /**
   * Lets the api function reach Stripe for the finance routes (POST /v1/reconcile, Stripe's totals in GET
   * /v1/periods/{period}): reads the Stripe secret, as the close worker does, and, for an admin's reconcile fix,
   * creates and revises ledger records (never deletes them: the ledger is the record of what Stripe was sent).
   */
  grantStripe(secret: ISecret): void {
    // The ARN, never the key: the function fetches the key on the first finance request that needs it.
    this.api.addEnvironment(STRIPE_SECRET.env, secret.secretArn);
    // A few calls per reconcile, on top of the close workers' share of the account's rate.
    this.api.addEnvironment('STRIPE_RATE_PER_SECOND', '5');
    secret.grantRead(this.api);
    this.tables.tables.ledger.grant(this.api, 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:BatchWriteItem');
    // POST /v1/stripe/webhooks verifies Stripe's signature with the endpoint's signing secret (whsec_…), kept
    // beside the key; the route marks ledger records with the grants above (read, Put/Update).
    const webhookSecret = new Secret(this, 'StripeWebhookSecret', {
      secretName: STRIPE_WEBHOOK_SECRET.name,
      description: "Signing secret of Stripe's event destination for POST /v1/stripe/webhooks (SecretString is the bare whsec_…)",
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(webhookSecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'Stripe issues the signing secret when the event destination is created or rolled in its dashboard; Secrets Manager cannot rotate it, so it is put here by hand.',
    });
    this.api.addEnvironment(STRIPE_WEBHOOK_SECRET.env, webhookSecret.secretArn);
    webhookSecret.grantRead(this.api);
  }
}
