import { CfnOutput, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import { HttpApi, HttpMethod, HttpStage, LogGroupLogDestination } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { HTTP_ROUTES } from '../../functions/resources.js';
import type { EventPipeline } from './event-pipeline.js';
import { NodeFunction } from './node-function.js';
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

  constructor(scope: Construct, id: string, props: MeteringHttpApiProps) {
    super(scope, id);
    const { tables, pipeline } = props;
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

    this.api = new NodeFunction(this, {
      handler: 'api',
      description: 'Reads (usage, health, statements, flags) and flag reviews',
      environment,
    });
    for (const table of [t.usage, t.quarantine, t.ledger]) table.grantReadData(this.api);
    // Reviews change a flag and are audited; a dismissal marks its days late (Rollups), so the next close releases them.
    for (const table of [t.flags, t.rollups]) table.grantReadWriteData(this.api);
    // The API reads keys and customers, and writes customer items only (a confirmation's finance mark,
    // a registration): never an API key (pk KEY#...), so a compromised API function cannot mint one.
    t.registry.grantReadData(this.api);
    this.api.addToRolePolicy(
      new PolicyStatement({
        actions: ['dynamodb:PutItem', 'dynamodb:UpdateItem'],
        resources: [t.registry.tableArn],
        conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['CUS#*'] } },
      }),
    );
    t.audit.grant(this.api, 'dynamodb:PutItem', 'dynamodb:BatchWriteItem');
    for (const queue of [pipeline.queue, pipeline.dlq]) queue.grant(this.api, 'sqs:GetQueueAttributes');

    this.httpApi = new HttpApi(this, 'Api', { description: 'Serenity usage metering', createDefaultStage: false });
    const accessLogs = new LogGroup(this, 'AccessLogs', { retention: RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
    const stage = new HttpStage(this, 'DefaultStage', {
      httpApi: this.httpApi,
      autoDeploy: true,
      throttle: props.throttle,
      accessLogSettings: { destination: new LogGroupLogDestination(accessLogs), format: ACCESS_LOG_FORMAT },
    });
    this.url = stage.url;

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
        'Every route checks a bearer API key in the function (hashed, looked up in the Registry table, with per-key roles), so a gateway authorizer would repeat that lookup.',
    });

    new CfnOutput(this, 'Url', { value: this.url, description: 'HTTP API base URL' });
  }
}
