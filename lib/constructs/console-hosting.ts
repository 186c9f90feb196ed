import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type CfnElement, DockerImage, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { Certificate } from 'aws-cdk-lib/aws-certificatemanager';
import {
  AllowedMethods,
  CachePolicy,
  Function as CloudFrontFunction,
  Distribution,
  FunctionCode,
  FunctionEventType,
  HeadersFrameOption,
  HeadersReferrerPolicy,
  HttpVersion,
  OriginProtocolPolicy,
  OriginRequestPolicy,
  PriceClass,
  ResponseHeadersPolicy,
  SecurityPolicyProtocol,
  ViewerProtocolPolicy,
} from 'aws-cdk-lib/aws-cloudfront';
import { HttpOrigin, S3BucketOrigin } from 'aws-cdk-lib/aws-cloudfront-origins';
import type { UserPoolClient } from 'aws-cdk-lib/aws-cognito';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import { BucketDeployment, CacheControl, type ISource, Source } from 'aws-cdk-lib/aws-s3-deployment';
import { Construct } from 'constructs';
import { ConsoleApi } from './console-api.js';
import { ConsoleUsers } from './console-users.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
// Where the app looks for its sign-in settings, locally (the bridge answers it) as deployed (an object in the bucket).
const CONFIG_KEY = 'console/config.json';

/** Where and how the console is served. */
export interface ConsoleHostingProps {
  /** The api function, which the console's API shares with the public one. */
  readonly api: IFunction;
  readonly throttle: { readonly rateLimit: number; readonly burstLimit: number };
  /** The Cognito hosted UI's domain prefix. */
  readonly domainPrefix: string;
  /** A custom host name and its ACM certificate (us-east-1); without one the console lives on `*.cloudfront.net`. */
  readonly customDomain?: { readonly domainName: string; readonly certificateArn: string };
  /** The console's folder, holding `vite.config.ts`; the repository's `console/` unless a test builds its own. */
  readonly consoleDir?: string;
}

/**
 * The deployed console: the built app in a private S3 bucket behind CloudFront (origin access control), `/v1/*`
 * forwarded to the Cognito-protected {@link ConsoleApi}, the users in {@link ConsoleUsers}, and `/console/config.json`
 * telling the app where to sign in.
 * @example const web = new ConsoleHosting(this, 'Console', { api, throttle, domainPrefix: 'serenity-metering' }); web.url;
 */
export class ConsoleHosting extends Construct {
  readonly bucket: Bucket;
  readonly logs: Bucket;
  readonly distribution: Distribution;
  readonly users: ConsoleUsers;
  readonly consoleApi: ConsoleApi;
  readonly client: UserPoolClient;
  /** `https://host`, without a trailing slash. */
  readonly url: string;

  constructor(scope: Construct, id: string, props: ConsoleHostingProps) {
    super(scope, id);
    const region = Stack.of(this).region;
    this.users = new ConsoleUsers(this, 'Users', { domainPrefix: props.domainPrefix });
    const signIn = this.users.domain.baseUrl();
    this.consoleApi = new ConsoleApi(this, 'Api', { api: props.api, throttle: props.throttle });

    const secure = {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      encryption: BucketEncryption.S3_MANAGED,
      removalPolicy: RemovalPolicy.RETAIN,
    } as const;
    // CloudFront's standard logs are written with an ACL, so this one bucket keeps ACLs (owner-preferred).
    this.logs = new Bucket(this, 'AccessLogs', {
      ...secure,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_PREFERRED,
      lifecycleRules: [{ expiration: Duration.days(90) }],
    });
    Validations.of(this.logs).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'This is the access-log bucket of the console bucket and the distribution; logging its own access would log forever.',
    });
    this.bucket = new Bucket(this, 'Site', { ...secure, serverAccessLogsBucket: this.logs, serverAccessLogsPrefix: 'site/' });

    // An error response rule (403/404 -> index.html) would apply to /v1/* too and turn API errors into HTML.
    // So the SPA fallback is a viewer-request function on the S3 behaviour only: a path without a file extension
    // is a route of the app, served by index.html.
    const spaRoutes = new CloudFrontFunction(this, 'SpaRoutes', {
      comment: 'Serve index.html for the console routes (paths without a file extension)',
      code: FunctionCode.fromInline(
        "function handler(event) { var r = event.request; var u = r.uri; if (u.lastIndexOf('.') <= u.lastIndexOf('/')) r.uri = '/index.html'; return r; }",
      ),
    });
    const headers = new ResponseHeadersPolicy(this, 'SecurityHeaders', {
      comment: 'Serenity metering console: CSP, HSTS, no framing, no sniffing, no referrer',
      securityHeadersBehavior: {
        // The app, its API and config are same-origin; the code exchange posts to the hosted UI's /oauth2/token.
        contentSecurityPolicy: {
          contentSecurityPolicy: [
            "default-src 'self'",
            `connect-src 'self' ${signIn}`,
            `form-action 'self' ${signIn}`,
            "img-src 'self' data:",
            "object-src 'none'",
            "base-uri 'self'",
            "frame-ancestors 'none'",
          ].join('; '),
          override: true,
        },
        strictTransportSecurity: { accessControlMaxAge: Duration.days(730), includeSubdomains: true, override: true },
        contentTypeOptions: { override: true },
        frameOptions: { frameOption: HeadersFrameOption.DENY, override: true },
        referrerPolicy: { referrerPolicy: HeadersReferrerPolicy.NO_REFERRER, override: true },
      },
    });

    const custom = props.customDomain;
    this.distribution = new Distribution(this, 'Distribution', {
      comment: 'Serenity metering console',
      defaultRootObject: 'index.html',
      httpVersion: HttpVersion.HTTP2_AND_3,
      priceClass: PriceClass.PRICE_CLASS_100,
      enableLogging: true,
      logBucket: this.logs,
      logFilePrefix: 'cloudfront/',
      ...(custom && {
        domainNames: [custom.domainName],
        certificate: Certificate.fromCertificateArn(this, 'Certificate', custom.certificateArn),
        minimumProtocolVersion: SecurityPolicyProtocol.TLS_V1_2_2021,
      }),
      defaultBehavior: {
        origin: S3BucketOrigin.withOriginAccessControl(this.bucket),
        viewerProtocolPolicy: ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        allowedMethods: AllowedMethods.ALLOW_GET_HEAD,
        cachePolicy: CachePolicy.CACHING_OPTIMIZED,
        responseHeadersPolicy: headers,
        functionAssociations: [{ function: spaRoutes, eventType: FunctionEventType.VIEWER_REQUEST }],
      },
      additionalBehaviors: {
        // Never cached, every method, every viewer header but Host (API Gateway routes by its own host name).
        // With caching disabled this policy forwards Authorization too, so the JWT reaches the authorizer.
        // HTTPS only, no redirect: a redirected POST would lose its body.
        '/v1/*': {
          origin: new HttpOrigin(this.consoleApi.domainName, { protocolPolicy: OriginProtocolPolicy.HTTPS_ONLY }),
          viewerProtocolPolicy: ViewerProtocolPolicy.HTTPS_ONLY,
          allowedMethods: AllowedMethods.ALLOW_ALL,
          cachePolicy: CachePolicy.CACHING_DISABLED,
          originRequestPolicy: OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
          responseHeadersPolicy: headers,
        },
      },
    });
    if (!custom)
      Validations.of(this.distribution).acknowledge({
        id: 'AwsSolutions-CFR4',
        reason:
          'Without context consoleDomainName/consoleCertificateArn the console is served on *.cloudfront.net with the CloudFront certificate, whose TLS policy cannot be set; deploy with a custom domain for TLS 1.2+ only.',
      });
    Validations.of(this.distribution).acknowledge({
      id: 'AwsSolutions-CFR1',
      reason: 'Staff sign in from wherever they work; Cognito MFA and threat protection guard sign-in, not geography.',
    });
    Validations.of(this.distribution).acknowledge({
      id: 'AwsSolutions-CFR2',
      reason:
        'Static files and a JWT-protected, throttled API: a WAF web ACL (which must live in us-east-1) is left to the account baseline.',
    });

    this.url = `https://${custom ? custom.domainName : this.distribution.distributionDomainName}`;
    this.client = this.users.addConsoleClient(this.url);
    this.consoleApi.protectRoutes(this.users.userPool, this.client);
    this.deploy(consoleBuild(props.consoleDir ?? `${repoRoot}console`), {
      auth: 'cognito',
      region,
      userPoolId: this.users.userPool.userPoolId,
      clientId: this.client.userPoolClientId,
      domain: signIn,
    });
  }

  /** Uploads the app: hashed assets cached for a year; index.html and the config revalidated on every load. */
  private deploy(app: ISource, config: Record<string, string>): void {
    const assets = new BucketDeployment(this, 'DeployAssets', {
      destinationBucket: this.bucket,
      sources: [app],
      exclude: ['index.html', CONFIG_KEY],
      cacheControl: [CacheControl.fromString('public, max-age=31536000, immutable')],
      // Old hashed files stay, so a browser holding the previous index.html can still load its chunks.
      prune: false,
    });
    const entry = new BucketDeployment(this, 'DeployEntry', {
      destinationBucket: this.bucket,
      sources: [app, Source.jsonData(CONFIG_KEY, config)],
      exclude: ['*'],
      include: ['index.html', CONFIG_KEY],
      cacheControl: [CacheControl.noCache()],
      prune: false,
      distribution: this.distribution,
      distributionPaths: ['/index.html', `/${CONFIG_KEY}`],
    });
    // The entry must not point at chunks that are not uploaded yet.
    entry.node.addDependency(assets);
    // Both deployments share one CDK-provided function, a singleton at the stack's root.
    const provider = Stack.of(this).node.children.find((c) => c.node.id.startsWith('Custom::CDKBucketDeployment'));
    if (!provider) throw new Error('the BucketDeployment provider function was not found; has aws-cdk-lib renamed it?');
    // cdk-nag names each finding exactly; these are the ones aws-cdk-lib's provider raises for this console.
    const bucketArn = `<${Stack.of(this).getLogicalId(this.bucket.node.defaultChild as CfnElement)}.Arn>`;
    const copy =
      "aws-cdk-lib's BucketDeployment function copies hashed asset keys from the CDK asset bucket into this console bucket and invalidates this distribution: CDK grants those by prefix, and CloudFront invalidations take no resource narrower than *.";
    const findings: Record<string, string> = {
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]':
        "aws-cdk-lib's BucketDeployment function: the managed basic execution role only lets it write its own logs.",
      'AwsSolutions-L1': "aws-cdk-lib's BucketDeployment function: its runtime is chosen by aws-cdk-lib, which moves it on upgrades.",
    };
    for (const finding of [
      'Action::s3:GetBucket*',
      'Action::s3:GetObject*',
      'Action::s3:List*',
      'Action::s3:Abort*',
      'Action::s3:DeleteObject*',
      'Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-<AWS::Region>/*',
      `Resource::${bucketArn}/*`,
      'Resource::*',
    ])
      findings[`AwsSolutions-IAM5[${finding}]`] = copy;
    for (const [findingId, reason] of Object.entries(findings)) Validations.of(provider).acknowledge({ id: findingId, reason });
  }
}

/**
 * The console, built at synth by vite like the handlers are by esbuild (lib/constructs/node-function.ts). Tests skip
 * bundling with context `aws:cdk:bundling-stacks: []`, and then CDK skips this build too and stages the source folder
 * unbuilt: a synth for tests needs no built console, a real synth always ships the current one.
 */
function consoleBuild(dir: string): ISource {
  const config = `${dir}/vite.config.ts`;
  return Source.asset(dir, {
    exclude: ['dist', 'node_modules'],
    bundling: {
      // Required by the API, never used: the local build below either succeeds or fails the synth.
      image: DockerImage.fromRegistry('public.ecr.aws/docker/library/node:22-alpine'),
      local: {
        tryBundle(outputDir: string) {
          if (!existsSync(config)) throw new Error(`cannot build the console: ${config} is missing`);
          const vite = `${repoRoot}node_modules/vite/bin/vite.js`;
          const run = spawnSync(process.execPath, [vite, 'build', '--config', config, '--outDir', outputDir, '--emptyOutDir'], {
            cwd: repoRoot,
            encoding: 'utf8',
          });
          if (run.status !== 0) throw new Error(`vite build of the console failed:\n${run.stdout}\n${run.stderr}`);
          return true;
        },
      },
    },
  });
}
