import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import {
  AccountRecovery,
  type CfnUserPoolClient,
  CfnUserPoolGroup,
  FeaturePlan,
  Mfa,
  OAuthScope,
  StandardThreatProtectionMode,
  UserPool,
  type UserPoolClient,
  UserPoolClientIdentityProvider,
  type UserPoolDomain,
} from 'aws-cdk-lib/aws-cognito';
import { Construct } from 'constructs';
import type { KeyRole } from '../../functions/core/shared/ports.js';

/**
 * The console's groups, highest first. The api function reads a Cognito user's role from `cognito:groups`
 * (highest of these wins, functions/http/auth.ts); `ingest` is for machines only, so it has no group.
 */
export const CONSOLE_GROUPS = ['admin', 'analyst', 'finance'] as const satisfies readonly Exclude<KeyRole, 'ingest'>[];

/** What the console's users need: the hosted sign-in domain's prefix. */
export interface ConsoleUsersProps {
  /** The Cognito domain prefix (`<prefix>.auth.<region>.amazoncognito.com`), unique per region across AWS. */
  readonly domainPrefix: string;
}

/**
 * The people who use the deployed console: a Cognito user pool that only an administrator adds users to
 * (email sign-in, strong passwords, TOTP required, threat protection), one group per console role, and the
 * hosted sign-in domain. The app client comes later ({@link ConsoleUsers.addConsoleClient}), once the
 * distribution's URL it redirects to exists.
 * @example const users = new ConsoleUsers(this, 'Users', { domainPrefix: 'serenity-metering' });
 */
export class ConsoleUsers extends Construct {
  readonly userPool: UserPool;
  readonly domain: UserPoolDomain;

  constructor(scope: Construct, id: string, props: ConsoleUsersProps) {
    super(scope, id);
    this.userPool = new UserPool(this, 'Pool', {
      selfSignUpEnabled: false,
      signInAliases: { email: true },
      signInCaseSensitive: false,
      autoVerify: { email: true },
      standardAttributes: { email: { required: true, mutable: true } },
      passwordPolicy: {
        minLength: 14,
        requireLowercase: true,
        requireUppercase: true,
        requireDigits: true,
        requireSymbols: true,
        tempPasswordValidity: Duration.days(3),
      },
      // These users confirm fraud and release usage for billing: a stolen password alone must not be enough.
      mfa: Mfa.REQUIRED,
      mfaSecondFactor: { otp: true, sms: false },
      accountRecovery: AccountRecovery.EMAIL_ONLY,
      // The Plus plan's threat protection blocks credential stuffing and risky sign-ins; a handful of staff costs cents.
      featurePlan: FeaturePlan.PLUS,
      standardThreatProtectionMode: StandardThreatProtectionMode.FULL_FUNCTION,
      // Users, their MFA devices and group memberships live only here: a stack replacement must not drop them.
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    CONSOLE_GROUPS.forEach((group, precedence) => {
      new CfnUserPoolGroup(this, `Group${group}`, {
        userPoolId: this.userPool.userPoolId,
        groupName: group,
        precedence,
        description: `console role ${group}`,
      });
    });
    this.domain = this.userPool.addDomain('Domain', { cognitoDomain: { domainPrefix: props.domainPrefix } });
  }

  /**
   * The console's app client: a public browser client (no secret) that signs in through the hosted UI with the
   * authorization-code grant; the console adds PKCE (S256), which is what makes a secretless code grant safe.
   * @param origin the console's `https://host`, the only place the hosted UI may send a code or a signed-out user
   */
  addConsoleClient(origin: string): UserPoolClient {
    const client = this.userPool.addClient('ConsoleClient', {
      generateSecret: false,
      oAuth: {
        flows: { authorizationCodeGrant: true, implicitCodeGrant: false, clientCredentials: false },
        scopes: [OAuthScope.OPENID, OAuthScope.EMAIL, OAuthScope.PROFILE],
        callbackUrls: [`${origin}/`],
        logoutUrls: [`${origin}/`],
      },
      supportedIdentityProviders: [UserPoolClientIdentityProvider.COGNITO],
      preventUserExistenceErrors: true,
      enableTokenRevocation: true,
      // Short-lived tokens: a removed user or a changed group takes effect within the hour, and a session ends within a working day.
      idTokenValidity: Duration.minutes(60),
      accessTokenValidity: Duration.minutes(60),
      refreshTokenValidity: Duration.hours(12),
    });
    // Sign-in happens only in the hosted UI (MFA, threat protection): no direct password flow with this client id.
    (client.node.defaultChild as CfnUserPoolClient).explicitAuthFlows = ['ALLOW_REFRESH_TOKEN_AUTH'];
    return client;
  }
}
