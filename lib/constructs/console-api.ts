import { Fn } from 'aws-cdk-lib';
import { HttpApi, HttpMethod } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpJwtAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { UserPool, UserPoolClient } from 'aws-cdk-lib/aws-cognito';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { type ApiRouteKey, HTTP_ROUTES } from '../../functions/resources.js';
import { addLoggedStage } from './http-api.js';

/** What the console's API needs: the api function and the stage throttle the public API has. */
export interface ConsoleApiProps {
  readonly api: IFunction;
  readonly throttle: { readonly rateLimit: number; readonly burstLimit: number };
}

/** The routes the console's API serves: every route of functions/resources.ts the api function serves, never ingest. */
export const consoleRouteKeys = (): ApiRouteKey[] =>
  (Object.entries(HTTP_ROUTES) as [keyof typeof HTTP_ROUTES, string][]).filter(([, fn]) => fn === 'api').map(([key]) => key as ApiRouteKey);

/**
 * A second HTTP API, `ConsoleApi`, that CloudFront sends the console's `/v1/*` to: the same api function as the
 * public API, with a JWT authorizer (Cognito) in front of every route. The function then reads the caller's role from
 * the validated claims. Built in two steps because the authorizer's audience (the app client) needs the console's
 * URL, which needs this API's endpoint: {@link ConsoleApi.protectRoutes} adds the routes once the client exists.
 * @example const consoleApi = new ConsoleApi(this, 'ConsoleApi', { api, throttle }); consoleApi.protectRoutes(pool, client);
 */
export class ConsoleApi extends Construct {
  readonly httpApi: HttpApi;
  /** The API's host name, CloudFront's origin for `/v1/*`. */
  readonly domainName: string;
  private readonly api: IFunction;

  constructor(scope: Construct, id: string, props: ConsoleApiProps) {
    super(scope, id);
    this.api = props.api;
    this.httpApi = new HttpApi(this, 'ConsoleApi', {
      description: 'Serenity usage metering: the console, Cognito users',
      createDefaultStage: false,
    });
    addLoggedStage(this, this.httpApi, props.throttle);
    // apiEndpoint is `https://<id>.execute-api.<region>.<suffix>`: the origin wants the host alone.
    this.domainName = Fn.select(2, Fn.split('/', this.httpApi.apiEndpoint));
  }

  /** Adds every api route of HTTP_ROUTES, each behind a JWT authorizer that accepts tokens the pool issued to the client. */
  protectRoutes(userPool: UserPool, client: UserPoolClient): void {
    const authorizer = new HttpJwtAuthorizer('CognitoAuthorizer', userPool.userPoolProviderUrl, {
      jwtAudience: [client.userPoolClientId],
      identitySource: ['$request.header.Authorization'],
    });
    // One invoke permission for the whole API rather than one per route: every route of this API is the api
    // function's, and a function's resource policy is capped at 20 KB, which the public API's per-route
    // permissions already fill halfway.
    const integration = new HttpLambdaIntegration('ApiIntegration', this.api, { scopePermissionToRoute: false });
    // Iterated, not listed: a route added to functions/resources.ts reaches the console with its authorizer.
    for (const key of consoleRouteKeys()) {
      const [method, path] = key.split(' ') as [keyof typeof HttpMethod, string];
      this.httpApi.addRoutes({ path, methods: [HttpMethod[method]], integration, authorizer });
    }
  }
}
