import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { type HandlerName, handlerConstructId, SERVICE_NAME } from '../../functions/resources.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** Options of a {@link NodeFunction}: which handler and what it needs. */
export interface NodeFunctionProps {
  /** The handler's one name: its file under functions/handlers/ (which must export `handler`), and the construct's id. */
  readonly handler: HandlerName;
  readonly description: string;
  /** Resource names the handler's config reads; see functions/runtime/config.ts. */
  readonly environment: Record<string, string>;
  readonly timeout?: Duration;
  readonly memorySize?: number;
}

/**
 * A Node.js 22 arm64 Lambda bundled locally by esbuild as minified ESM, with its own log group
 * and a role that may write only to that log group until grants add more.
 * Its construct id comes from the handler's name (`handlerConstructId`), so file, construct and logs agree.
 * @example const fn = new NodeFunction(this, { handler: 'ingest', description: 'POST /v1/events', environment });
 */
export class NodeFunction extends NodejsFunction {
  constructor(scope: Construct, props: NodeFunctionProps) {
    const id = handlerConstructId(props.handler);
    // Siblings rather than children: both must exist before super() runs. Operational logs only
    // (the audit trail lives in the Audit table), so they go with the stack.
    const logGroup = new LogGroup(scope, `${id}Logs`, { retention: RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
    const role = new Role(scope, `${id}Role`, { assumedBy: new ServicePrincipal('lambda.amazonaws.com'), description: `${id} function` });
    super(scope, id, {
      entry: `${repoRoot}functions/handlers/${props.handler}.ts`,
      handler: 'handler',
      projectRoot: repoRoot,
      depsLockFilePath: `${repoRoot}package-lock.json`,
      description: props.description,
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      // API Gateway gives up on an integration after 30 s; an HTTP handler still busy at 10 s has failed.
      timeout: props.timeout ?? Duration.seconds(10),
      memorySize: props.memorySize ?? 512,
      role,
      logGroup,
      // X-Ray: the AWS SDK calls are traced (functions/runtime/tracer.ts); Lambda samples, 1 a second and 5 % beyond.
      tracing: Tracing.ACTIVE,
      environment: {
        ...props.environment,
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
        // The `function` key of every log line (functions/runtime/logger.ts).
        METER_FUNCTION: props.handler,
        NODE_OPTIONS: '--enable-source-maps',
      },
      bundling: {
        forceDockerBundling: false,
        format: OutputFormat.ESM,
        target: 'node22',
        mainFields: ['module', 'main'],
        minify: true,
        sourceMap: true,
        // Ship the SDK versions package-lock.json pins, not whichever the runtime carries.
        bundleAwsSDK: true,
        // Some CommonJS dependencies call require(); an ESM bundle has none unless we make one.
        banner: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
      },
    });
    // The managed AWSLambdaBasicExecutionRole would allow writing to any log group.
    logGroup.grantWrite(role);
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Active tracing grants xray:PutTraceSegments and xray:PutTelemetryRecords, which take no resource ARN; test/infra/ops-alarms.test.ts checks that they are the only actions on *.',
    });
    Validations.of(this).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'nodejs22.x is pinned on purpose, together with the esbuild target node22; moving to nodejs24.x is a deliberate upgrade of both, not something a library bump should do at synth.',
    });
  }
}
