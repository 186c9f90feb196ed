import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, type CfnElement, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { HTTP_ROUTES } from '../../functions/resources.js';
import { ConsoleHosting } from '../../lib/constructs/console-hosting.js';
import { MeteringStack } from '../../lib/metering-stack.js';

type Resource = { Type: string; Properties: Record<string, unknown>; DeletionPolicy?: string };
type Behavior = {
  PathPattern?: string;
  TargetOriginId: string;
  ViewerProtocolPolicy: string;
  CachePolicyId: unknown;
  OriginRequestPolicyId?: unknown;
  AllowedMethods?: string[];
  ResponseHeadersPolicyId?: unknown;
  FunctionAssociations?: { EventType: string; FunctionARN: unknown }[];
};
type DistributionConfig = {
  DefaultRootObject?: string;
  Origins: { Id: string; DomainName: unknown; S3OriginConfig?: { OriginAccessIdentity: string }; OriginAccessControlId?: unknown }[];
  DefaultCacheBehavior: Behavior;
  CacheBehaviors?: Behavior[];
  CustomErrorResponses?: unknown;
};

// CloudFront's managed policies, by their fixed ids.
const CACHING_DISABLED = '4135ea2d-6df8-44a3-9df3-4b5a84be39ad';
const ALL_VIEWER_EXCEPT_HOST_HEADER = 'b689b0a8-53d0-40ab-baf2-68738e2966ac';

// The same feature flags `cdk synth` uses. Bundling is skipped (as for the Lambdas, the console's vite build is
// skipped with it): nothing here reads a bundle. Synthesized once for the whole file.
const context = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')).context;
let app: App;
let stack: MeteringStack;
let resources: Record<string, Resource>;
const idOf = (c: IConstruct) => stack.getLogicalId(c.node.defaultChild as CfnElement);
const byType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
const distributionConfig = () => resources[idOf(stack.console.distribution)]!.Properties.DistributionConfig as DistributionConfig;

beforeAll(() => {
  app = new App({ context: { ...context, 'aws:cdk:bundling-stacks': [] }, stackTraces: false });
  stack = new MeteringStack(app, 'ConsoleTest');
  resources = Template.fromStack(stack).toJSON().Resources;
});

describe('the deployed console', () => {
  it('keeps the console bucket private, encrypted and reachable over TLS only', () => {
    // Act
    const bucket = resources[idOf(stack.console.bucket)]!;
    const policies = byType('AWS::S3::BucketPolicy').filter(
      ([, p]) => JSON.stringify(p.Properties.Bucket) === JSON.stringify({ Ref: idOf(stack.console.bucket) }),
    );

    // Assess
    expect(bucket.Properties).toMatchObject({
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      LoggingConfiguration: { DestinationBucketName: { Ref: idOf(stack.console.logs) } },
    });
    expect(policies).toHaveLength(1);
    const statements = (policies[0]![1].Properties.PolicyDocument as { Statement: Record<string, unknown>[] }).Statement;
    expect(statements).toContainEqual(
      expect.objectContaining({ Effect: 'Deny', Principal: { AWS: '*' }, Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
    );
    // Only CloudFront (this distribution, through origin access control) may read it; nobody is allowed anonymously.
    const allows = statements.filter((s) => s.Effect === 'Allow');
    expect(allows.length).toBeGreaterThan(0);
    for (const s of allows) {
      expect(s.Principal).toEqual({ Service: 'cloudfront.amazonaws.com' });
      expect(JSON.stringify(s.Condition)).toContain(idOf(stack.console.distribution));
    }
    for (const id of [idOf(stack.console.bucket), idOf(stack.console.logs)]) {
      expect(resources[id]?.DeletionPolicy).toBe('Retain');
    }
  });

  it('reads the bucket through origin access control, never an origin access identity', () => {
    // Act
    const config = distributionConfig();
    const s3Origins = config.Origins.filter((o) => o.S3OriginConfig);

    // Assess
    expect(s3Origins).toHaveLength(1);
    expect(s3Origins[0]!.OriginAccessControlId).toEqual({ 'Fn::GetAtt': [expect.any(String), 'Id'] });
    expect(s3Origins[0]!.S3OriginConfig!.OriginAccessIdentity).toBe('');
    expect(byType('AWS::CloudFront::CloudFrontOriginAccessIdentity')).toEqual([]);
    expect(byType('AWS::CloudFront::OriginAccessControl')).toHaveLength(1);
  });

  it('redirects viewers to HTTPS, serves index.html at / and for app routes, without rewriting errors', () => {
    // Act
    const config = distributionConfig();
    const [, fn] = byType('AWS::CloudFront::Function')[0]!;

    // Assess
    expect(config.DefaultRootObject).toBe('index.html');
    expect(config.DefaultCacheBehavior.ViewerProtocolPolicy).toBe('redirect-to-https');
    // An error-response rule would turn the API's 403/404 JSON into index.html.
    expect(config.CustomErrorResponses).toBeUndefined();
    expect(config.DefaultCacheBehavior.FunctionAssociations).toEqual([
      { EventType: 'viewer-request', FunctionARN: { 'Fn::GetAtt': [expect.any(String), 'FunctionARN'] } },
    ]);
    // Run the function's code on the paths the console serves.
    const handler = new Function(`${fn.Properties.FunctionCode as string}; return handler;`)() as (e: { request: { uri: string } }) => {
      uri: string;
    };
    const served = ['/flags/42', '/finance/statement/acme-corp', '/', '/assets/index-3f2a.js', '/console/config.json'].map(
      (uri) => handler({ request: { uri } }).uri,
    );
    expect(served).toEqual(['/index.html', '/index.html', '/index.html', '/assets/index-3f2a.js', '/console/config.json']);
  });

  it('sends security headers: a CSP of self plus the sign-in domain, HSTS, nosniff, no framing, no referrer', () => {
    // Act
    const [[policyId, policy]] = byType('AWS::CloudFront::ResponseHeadersPolicy') as [[string, Resource]];
    const config = (policy.Properties.ResponseHeadersPolicyConfig as { SecurityHeadersConfig: Record<string, Record<string, unknown>> })
      .SecurityHeadersConfig;
    const csp = JSON.stringify(config.ContentSecurityPolicy!.ContentSecurityPolicy);

    // Assess
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toMatch(/connect-src 'self' https:\/\/.*amazoncognito\.com/);
    expect(csp).toContain(idOf(stack.console.users.domain));
    expect(config.StrictTransportSecurity).toMatchObject({ AccessControlMaxAgeSec: 730 * 86_400, Override: true });
    expect(config.ContentTypeOptions).toEqual({ Override: true });
    expect(config.FrameOptions).toEqual({ FrameOption: 'DENY', Override: true });
    expect(config.ReferrerPolicy).toEqual({ ReferrerPolicy: 'no-referrer', Override: true });
    const behaviors = [distributionConfig().DefaultCacheBehavior, ...(distributionConfig().CacheBehaviors ?? [])];
    for (const b of behaviors) expect(b.ResponseHeadersPolicyId).toEqual({ Ref: policyId });
  });

  it('forwards /v1/* to the console API uncached, with every method and every viewer header but Host', () => {
    // Act
    const config = distributionConfig();
    const api = config.CacheBehaviors?.find((b) => b.PathPattern === '/v1/*');
    const origin = config.Origins.find((o) => o.Id === api?.TargetOriginId);

    // Assess
    expect(config.CacheBehaviors).toHaveLength(1);
    expect(api).toMatchObject({
      ViewerProtocolPolicy: 'https-only',
      CachePolicyId: CACHING_DISABLED,
      OriginRequestPolicyId: ALL_VIEWER_EXCEPT_HOST_HEADER,
      AllowedMethods: expect.arrayContaining(['GET', 'HEAD', 'OPTIONS', 'PUT', 'PATCH', 'POST', 'DELETE']),
    });
    expect(JSON.stringify(origin?.DomainName)).toContain(idOf(stack.console.consoleApi.httpApi));
    expect(origin).toMatchObject({ CustomOriginConfig: { OriginProtocolPolicy: 'https-only', OriginSSLProtocols: ['TLSv1.2'] } });
  });

  it('lets only an administrator add users, to exactly the groups finance, analyst and admin', () => {
    // Act
    const pool = resources[idOf(stack.console.users.userPool)]!;
    const groups = byType('AWS::Cognito::UserPoolGroup').map(([, g]) => g.Properties);

    // Assess
    expect(pool.Properties).toMatchObject({
      AdminCreateUserConfig: { AllowAdminCreateUserOnly: true },
      UsernameAttributes: ['email'],
      MfaConfiguration: 'ON',
      EnabledMfas: ['SOFTWARE_TOKEN_MFA'],
      Policies: {
        PasswordPolicy: { MinimumLength: 14, RequireLowercase: true, RequireUppercase: true, RequireNumbers: true, RequireSymbols: true },
      },
    });
    expect(pool.DeletionPolicy).toBe('Retain');
    expect(groups.map((g) => g.GroupName).sort()).toEqual(['admin', 'analyst', 'finance']);
    for (const g of groups) expect(g.UserPoolId).toEqual({ Ref: idOf(stack.console.users.userPool) });
  });

  it('signs in through a public client with the authorization-code grant only, back to the console URL', () => {
    // Act
    const clients = byType('AWS::Cognito::UserPoolClient').map(([, c]) => c.Properties);

    // Assess
    expect(clients).toHaveLength(1);
    const client = clients[0]!;
    expect(client).toMatchObject({
      AllowedOAuthFlows: ['code'],
      AllowedOAuthFlowsUserPoolClient: true,
      AllowedOAuthScopes: expect.arrayContaining(['openid', 'email']),
      ExplicitAuthFlows: ['ALLOW_REFRESH_TOKEN_AUTH'],
      SupportedIdentityProviders: ['COGNITO'],
    });
    // No secret: a browser cannot keep one, so the code exchange is bound by PKCE instead.
    expect(client.GenerateSecret).not.toBe(true);
    const distributionHost = { 'Fn::GetAtt': [idOf(stack.console.distribution), 'DomainName'] };
    for (const urls of [client.CallbackURLs, client.LogoutURLs]) {
      expect(urls).toEqual([{ 'Fn::Join': ['', ['https://', distributionHost, '/']] }]);
    }
  });

  it('serves exactly the api routes of HTTP_ROUTES on the console API, each behind the Cognito JWT authorizer', () => {
    // Prepare
    const apiRoutes = Object.entries(HTTP_ROUTES)
      .filter(([, fn]) => fn === 'api')
      .map(([key]) => key)
      .sort();
    const consoleApiId = idOf(stack.console.consoleApi.httpApi);

    // Act
    const routes = byType('AWS::ApiGatewayV2::Route')
      .map(([, r]) => r.Properties)
      .filter((r) => JSON.stringify(r.ApiId) === JSON.stringify({ Ref: consoleApiId }));
    const authorizers = byType('AWS::ApiGatewayV2::Authorizer').map(([id, a]) => ({ id, ...a.Properties }) as Record<string, unknown>);

    // Assess
    expect(routes.map((r) => r.RouteKey).sort()).toEqual(apiRoutes);
    expect(apiRoutes).not.toContain('POST /v1/events');
    expect(authorizers).toHaveLength(1);
    const authorizer = authorizers[0]!;
    expect(authorizer).toMatchObject({
      ApiId: { Ref: consoleApiId },
      AuthorizerType: 'JWT',
      IdentitySource: ['$request.header.Authorization'],
      JwtConfiguration: { Audience: [{ Ref: idOf(stack.console.client) }] },
    });
    expect(JSON.stringify((authorizer.JwtConfiguration as { Issuer: unknown }).Issuer)).toContain(idOf(stack.console.users.userPool));
    for (const r of routes) expect(r).toMatchObject({ AuthorizationType: 'JWT', AuthorizerId: { Ref: authorizer.id } });
    // The same function as the public API, which keeps POST /v1/events and its own routes.
    const integrations = byType('AWS::ApiGatewayV2::Integration')
      .map(([, i]) => i.Properties)
      .filter((i) => JSON.stringify(i.ApiId) === JSON.stringify({ Ref: consoleApiId }));
    expect(integrations.map((i) => i.IntegrationUri)).toEqual([{ 'Fn::GetAtt': [idOf(stack.http.api), 'Arn'] }]);
    // Invoked by this API through one permission, not one per route (a function's resource policy is capped at 20 KB).
    const permissions = byType('AWS::Lambda::Permission')
      .map(([, p]) => p.Properties)
      .filter((p) => JSON.stringify(p.SourceArn).includes(consoleApiId));
    expect(permissions).toHaveLength(1);
    expect(permissions[0]).toMatchObject({
      FunctionName: { 'Fn::GetAtt': [idOf(stack.http.api), 'Arn'] },
      Principal: 'apigateway.amazonaws.com',
    });
    expect(JSON.stringify(permissions[0]!.SourceArn)).toContain('/*/*/*');
  });

  it('logs and throttles the console API stage like the public one', () => {
    // Act
    const stages = byType('AWS::ApiGatewayV2::Stage').map(([, s]) => s.Properties);
    const consoleStage = stages.find((s) => JSON.stringify(s.ApiId) === JSON.stringify({ Ref: idOf(stack.console.consoleApi.httpApi) }));
    const publicStage = stages.find((s) => JSON.stringify(s.ApiId) === JSON.stringify({ Ref: idOf(stack.http.httpApi) }));

    // Assess
    expect(consoleStage?.DefaultRouteSettings).toEqual(publicStage?.DefaultRouteSettings);
    expect(consoleStage?.DefaultRouteSettings).toMatchObject({
      ThrottlingRateLimit: context.apiThrottleRate,
      ThrottlingBurstLimit: context.apiThrottleBurst,
    });
    const formatOf = (stage: Record<string, unknown> | undefined) => (stage?.AccessLogSettings as { Format?: string } | undefined)?.Format;
    expect(formatOf(consoleStage)).toContain('$context.requestId');
    expect(formatOf(consoleStage)).toBe(formatOf(publicStage));
  });

  it('tells the app where to sign in at /console/config.json, uploaded with index.html and never cached', () => {
    // Prepare
    type Deployment = {
      SourceObjectKeys: string[];
      SourceMarkers?: Record<string, unknown>[];
      Include?: string[];
      SystemMetadata: Record<string, string>;
    };
    const deployments = byType('Custom::CDKBucketDeployment').map(([, d]) => d.Properties as unknown as Deployment);
    const entry = deployments.find((d) => d.Include?.includes('console/config.json'));

    // Act: read each staged source of the entry deployment, with its deploy-time values put back as CloudFormation refers to them.
    const configs = entry!.SourceObjectKeys.map((key, i) => {
      const file = `${app.outdir}/asset.${key.replace(/\.zip$/, '')}/console/config.json`;
      if (!existsSync(file)) return undefined;
      const markers = entry!.SourceMarkers?.[i] ?? {};
      const config = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
      const resolve = (v: string) => v.replace(/<<marker:0xbaba:\d+>>/g, (m) => `\${${JSON.stringify(markers[m])}}`);
      return Object.fromEntries(Object.entries(config).map(([k, v]) => [k, resolve(v)]));
    }).filter((c) => c !== undefined);

    // Assess
    expect(deployments).toHaveLength(2);
    expect(entry?.SystemMetadata['cache-control']).toBe('no-cache');
    const ref = (c: IConstruct) => `\${${JSON.stringify({ Ref: idOf(c) })}}`;
    const region = `\${${JSON.stringify({ Ref: 'AWS::Region' })}}`;
    expect(configs).toEqual([
      {
        auth: 'cognito',
        region,
        userPoolId: ref(stack.console.users.userPool),
        clientId: ref(stack.console.client),
        domain: `https://${ref(stack.console.users.domain)}.auth.${region}.amazoncognito.com`,
      },
    ]);
    // Hashed assets are immutable, so only index.html and the config need to be fetched again after a deploy.
    expect(deployments.find((d) => d !== entry)?.SystemMetadata['cache-control']).toBe('public, max-age=31536000, immutable');
  });

  it('passes the AWS Solutions checks, with every exception acknowledged in code', () => {
    // Act
    const report = new AwsSolutionsChecks().validateScope(app);
    // The console's constructs and the BucketDeployment provider it brings (a singleton at the stack's root);
    // the rest of the stack is checked in metering-stack.test.ts.
    const mine = (path: string) => path.startsWith(`${stack.console.node.path}/`) || path.includes('/Custom::CDKBucketDeployment');
    const findings = report.violations.flatMap((v) =>
      v.violatingResources.filter((r) => mine(r.constructPath ?? '')).map((r) => `${v.ruleName} ${r.constructPath}`),
    );

    // Assess
    expect(findings).toEqual([]);
    // The rule set did run over the console: its acknowledged exceptions are there, each with a reason.
    expect(JSON.stringify(stack.console.distribution.node.metadata)).toContain('AwsSolutions-CFR2');
  });
});

describe('the console build at synth', () => {
  // A tiny app of its own, so this needs neither the real console nor the handlers' bundles.
  const appDir = (main: string) => {
    const dir = mkdtempSync(join(tmpdir(), 'console-build-'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>t</title><script type="module" src="/main.js"></script>');
    writeFileSync(join(dir, 'main.js'), main);
    writeFileSync(join(dir, 'vite.config.ts'), `export default { root: ${JSON.stringify(dir)}, logLevel: 'silent' };`);
    return dir;
  };
  const synthWith = (consoleDir: string) => {
    const buildApp = new App({ context, stackTraces: false });
    const s = new Stack(buildApp, 'ConsoleBuild');
    const api = LambdaFunction.fromFunctionArn(s, 'Api', 'arn:aws:lambda:eu-west-1:123456789012:function:api');
    const hosting = new ConsoleHosting(s, 'Console', {
      api,
      throttle: { rateLimit: 10, burstLimit: 20 },
      domainPrefix: 'test-console',
      consoleDir,
    });
    const deployments = Object.values(Template.fromStack(s).toJSON().Resources as Record<string, Resource>)
      .filter((r) => r.Type === 'Custom::CDKBucketDeployment')
      .map((r) => r.Properties as { SourceObjectKeys: string[]; Include?: string[] });
    return { outdir: buildApp.outdir, hosting, deployments };
  };

  it('ships what vite builds: index.html and the hashed bundle it loads', () => {
    // Prepare
    const dir = appDir("document.title = 'built by vite';");

    // Act
    const { outdir, deployments } = synthWith(dir);
    const assets = deployments.find((d) => !d.Include);
    const staged = `${outdir}/asset.${assets!.SourceObjectKeys[0]!.replace(/\.zip$/, '')}`;
    const html = readFileSync(`${staged}/index.html`, 'utf8');
    const bundle = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];

    // Assess
    expect(bundle).toMatch(/^\/assets\/main-[\w-]+\.js$|^\/assets\/index-[\w-]+\.js$/);
    expect(readFileSync(`${staged}${bundle}`, 'utf8')).toContain('built by vite');
    expect(existsSync(`${staged}/main.js`)).toBe(false);
  });

  it('fails the synth, with the build output, when the console does not build', () => {
    // Prepare
    const dir = appDir('export const = ;');

    // Act
    const synth = () => synthWith(dir);

    // Assess
    expect(synth).toThrow(/vite build of the console failed/);
    const unconfigured = mkdtempSync(join(tmpdir(), 'console-build-'));
    expect(() => synthWith(unconfigured)).toThrow(/vite\.config\.ts is missing/);
  });
});

describe('the console on a custom host', () => {
  const withContext = (extra: Record<string, unknown>) => {
    const customApp = new App({ context: { ...context, 'aws:cdk:bundling-stacks': [], ...extra }, stackTraces: false });
    const s = new MeteringStack(customApp, 'CustomHost');
    return { app: customApp, stack: s, resources: Template.fromStack(s).toJSON().Resources as Record<string, Resource> };
  };

  it('serves consoleDomainName with its certificate at TLS 1.2 or later, and signs in back to it', () => {
    // Prepare
    const certificateArn = 'arn:aws:acm:us-east-1:123456789012:certificate/0b1f5e6c-0000-4000-8000-000000000000';

    // Act
    const custom = withContext({ consoleDomainName: 'console.example.com', consoleCertificateArn: certificateArn });
    const config = Object.values(custom.resources).find((r) => r.Type === 'AWS::CloudFront::Distribution')!.Properties
      .DistributionConfig as Record<string, unknown>;
    const client = Object.values(custom.resources).find((r) => r.Type === 'AWS::Cognito::UserPoolClient')!.Properties;
    const nag = new AwsSolutionsChecks().validateScope(custom.app).violations.filter((v) => v.ruleName.includes('CFR'));

    // Assess
    expect(config.Aliases).toEqual(['console.example.com']);
    expect(config.ViewerCertificate).toEqual({
      AcmCertificateArn: certificateArn,
      MinimumProtocolVersion: 'TLSv1.2_2021',
      SslSupportMethod: 'sni-only',
    });
    expect(client.CallbackURLs).toEqual(['https://console.example.com/']);
    expect(custom.stack.console.url).toBe('https://console.example.com');
    // With a certificate of its own the TLS rule passes without the acknowledgement the cloudfront.net host needs.
    expect(nag).toEqual([]);
    expect(JSON.stringify(custom.stack.console.distribution.node.metadata)).not.toContain('AwsSolutions-CFR4');
  });

  it('fails the synth on a sign-in domain prefix Cognito would refuse, or half a custom host', () => {
    // Act
    const synth = (extra: Record<string, unknown>) => () => withContext(extra);

    // Assess
    expect(synth({ consoleDomainPrefix: 'My_Console' })).toThrow(/consoleDomainPrefix must be lowercase letters, digits and hyphens/);
    expect(synth({ consoleDomainPrefix: 'aws-console' })).toThrow(/without aws, amazon or cognito, got aws-console/);
    expect(synth({ consoleDomainName: 'console.example.com' })).toThrow(/consoleDomainName and consoleCertificateArn go together/);
  });
});
