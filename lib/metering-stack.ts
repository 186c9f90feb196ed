import { Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { EventPipeline } from './constructs/event-pipeline.js';
import { MeteringHttpApi } from './constructs/http-api.js';
import { NightlyClose } from './constructs/nightly-close.js';
import { UsageTables } from './constructs/usage-tables.js';

/**
 * The metering pipeline: HTTP ingest -> queue -> consumer -> tables, the read API, and the nightly
 * close that reports usage to Stripe. Environment-agnostic, so it synthesizes offline with no account
 * or region. Context `stripeSecretName` imports an existing Stripe secret instead of creating one.
 * @example new MeteringStack(app, 'SerenityMetering');
 */
export class MeteringStack extends Stack {
  readonly tables: UsageTables;
  readonly pipeline: EventPipeline;
  readonly http: MeteringHttpApi;
  readonly close: NightlyClose;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    this.tables = new UsageTables(this, 'Tables');
    this.pipeline = new EventPipeline(this, 'Pipeline', { tables: this.tables });
    this.http = new MeteringHttpApi(this, 'Http', { tables: this.tables, pipeline: this.pipeline });
    const stripeSecretName: unknown = this.node.tryGetContext('stripeSecretName');
    this.close = new NightlyClose(this, 'Close', {
      tables: this.tables,
      pipeline: this.pipeline,
      stripeSecretName: typeof stripeSecretName === 'string' && stripeSecretName ? stripeSecretName : undefined,
    });
  }
}
