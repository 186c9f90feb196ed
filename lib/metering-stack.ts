import { Annotations, CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { CLOSE_QUEUE } from '../functions/resources.js';
import { invoiceGraceHoursSchema, loadHoldSeverities } from '../functions/runtime/config.js';
import { ConsoleHosting } from './constructs/console-hosting.js';
import { EventPipeline } from './constructs/event-pipeline.js';
import { MeteringHttpApi } from './constructs/http-api.js';
import { NightlyClose } from './constructs/nightly-close.js';
import { OpsAlarms } from './constructs/ops-alarms.js';
import { UsageTables } from './constructs/usage-tables.js';

/**
 * The metering pipeline: HTTP ingest -> queue -> consumer -> tables, the read API, and the nightly
 * close that reports usage to Stripe. Environment-agnostic, so it synthesizes offline with no account
 * or region. Context `stripeSecretName` imports an existing Stripe secret instead of creating one;
 * context `holdSeverities` (e.g. `medium,high`; default `high`) sets which open flags hold usage, the
 * same for the close, the statements and the reviews (`HOLD_SEVERITIES` of every function); context
 * `invoiceGraceHours` (default 1) states the Stripe account's invoice grace period (`STRIPE_INVOICE_GRACE_HOURS`);
 * contexts `apiThrottleRate` and `apiThrottleBurst` (cdk.json) throttle the HTTP API's stage (and the console's);
 * context `consoleDomainPrefix` names the console's Cognito sign-in domain, and `consoleDomainName` with
 * `consoleCertificateArn` (an ACM certificate in us-east-1) serve the console on a custom host.
 * @example new MeteringStack(app, 'SerenityMetering');
 */
export class MeteringStack extends Stack {
  readonly tables: UsageTables;
  readonly pipeline: EventPipeline;
  readonly http: MeteringHttpApi;
  readonly close: NightlyClose;
  readonly console: ConsoleHosting;
  readonly ops: OpsAlarms;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    const holdSeverities: unknown = this.node.tryGetContext('holdSeverities');
    // Validated here as the functions will at cold start, so a bad value fails the synth, not the night.
    const invoiceGraceHours: unknown = this.node.tryGetContext('invoiceGraceHours');
    const parsedGrace = invoiceGraceHoursSchema.safeParse(
      invoiceGraceHours === undefined || invoiceGraceHours === '' ? 1 : invoiceGraceHours,
    );
    if (!parsedGrace.success)
      throw new Error(
        `context invoiceGraceHours must be the Stripe account's invoice grace period, 1-72 hours, got ${String(invoiceGraceHours)}`,
      );
    const grace = parsedGrace.data;
    // The close runs at 00:30 UTC and SQS retries a failed chunk 90 minutes later: a period's last day needs the longer grace.
    if (grace < 3)
      Annotations.of(this).addWarningV2(
        'serenity:invoice-grace',
        `the Stripe account's invoice grace is ${grace} h: a period's last day is reported at 00:30 UTC, and a retried close may miss it; set the account's grace to 72 h and deploy with -c invoiceGraceHours=72`,
      );
    const settings = {
      HOLD_SEVERITIES: loadHoldSeverities({ HOLD_SEVERITIES: typeof holdSeverities === 'string' ? holdSeverities : 'high' }).join(','),
      STRIPE_INVOICE_GRACE_HOURS: String(grace),
    };
    this.tables = new UsageTables(this, 'Tables');
    this.pipeline = new EventPipeline(this, 'Pipeline', { tables: this.tables, settings });
    this.http = new MeteringHttpApi(this, 'Http', { tables: this.tables, pipeline: this.pipeline, settings, throttle: this.throttle() });
    this.console = new ConsoleHosting(this, 'Console', { api: this.http.api, throttle: this.throttle(), ...this.consoleSite() });
    new CfnOutput(this, 'ConsoleUrl', { value: this.console.url, description: 'the web console' });
    new CfnOutput(this, 'UserPoolId', {
      value: this.console.users.userPool.userPoolId,
      description: 'console users (groups finance, analyst, admin)',
    });
    new CfnOutput(this, 'UserPoolClientId', { value: this.console.client.userPoolClientId, description: 'the console app client' });
    const stripeSecretName: unknown = this.node.tryGetContext('stripeSecretName');
    this.close = new NightlyClose(this, 'Close', {
      tables: this.tables,
      pipeline: this.pipeline,
      settings,
      stripeSecretName: typeof stripeSecretName === 'string' && stripeSecretName ? stripeSecretName : undefined,
    });
    // The console's reconcile and period close read Stripe through the api function, with the close's secret.
    this.http.grantStripe(this.close.stripeSecret);
    // Privacy exports are jobs for the close worker: the api function queues them on the close queue.
    this.http.api.addEnvironment(CLOSE_QUEUE.env, this.close.queue.queueUrl);
    this.close.queue.grantSendMessages(this.http.api);
    this.ops = new OpsAlarms(this, 'Monitoring', {
      functions: {
        ingest: this.http.ingest,
        consume: this.pipeline.consume,
        api: this.http.api,
        'close-planner': this.close.planner,
        'close-worker': this.close.worker,
      },
      dlqs: { UsageEventsDlq: this.pipeline.dlq, CloseWorkDlq: this.close.dlq, PlannerFailures: this.close.plannerDlq },
      eventQueue: this.pipeline.queue,
      tables: this.tables.tables,
      apis: { HttpApi: this.http.httpApi, ConsoleApi: this.console.consoleApi.httpApi },
    });
  }

  /** The console's sign-in domain prefix and optional custom host, from context, validated at synth. */
  private consoleSite(): { domainPrefix: string; customDomain?: { domainName: string; certificateArn: string } } {
    const text = (key: string) => {
      const raw: unknown = this.node.tryGetContext(key);
      return typeof raw === 'string' && raw !== '' ? raw : undefined;
    };
    const domainPrefix = text('consoleDomainPrefix') ?? 'serenity-metering';
    // Cognito's rules for a prefix: lowercase letters, digits and hyphens, no reserved words.
    if (!/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(domainPrefix) || /aws|amazon|cognito/.test(domainPrefix))
      throw new Error(
        `context consoleDomainPrefix must be lowercase letters, digits and hyphens without aws, amazon or cognito, got ${domainPrefix}`,
      );
    const domainName = text('consoleDomainName');
    const certificateArn = text('consoleCertificateArn');
    if (!domainName !== !certificateArn)
      throw new Error('context consoleDomainName and consoleCertificateArn go together: set both or neither');
    return { domainPrefix, ...(domainName && certificateArn && { customDomain: { domainName, certificateArn } }) };
  }

  /** The HTTP stage's throttle from context `apiThrottleRate` (requests per second) and `apiThrottleBurst`, validated at synth. */
  private throttle(): { rateLimit: number; burstLimit: number } {
    const read = (key: string, fallback: number, valid: (n: number) => boolean, what: string) => {
      const raw: unknown = this.node.tryGetContext(key);
      const n = raw === undefined || raw === '' ? fallback : Number(raw);
      if (!valid(n)) throw new Error(`context ${key} must be ${what}, got ${String(raw)}`);
      return n;
    };
    // API Gateway's account limits: 10,000 requests per second, a burst of 5,000.
    return {
      rateLimit: read(
        'apiThrottleRate',
        100,
        (n) => Number.isFinite(n) && n > 0 && n <= 10_000,
        'a rate above 0 and at most 10000 per second',
      ),
      burstLimit: read('apiThrottleBurst', 200, (n) => Number.isInteger(n) && n >= 1 && n <= 5_000, 'an integer from 1 to 5000'),
    };
  }
}
