import { Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { EventPipeline } from './constructs/event-pipeline.js';
import { MeteringHttpApi } from './constructs/http-api.js';
import { UsageTables } from './constructs/usage-tables.js';

/**
 * The metering pipeline: HTTP ingest -> queue -> consumer -> tables, and the read API.
 * Environment-agnostic, so it synthesizes offline with no account or region.
 * @example new MeteringStack(app, 'SerenityMetering');
 */
export class MeteringStack extends Stack {
  readonly tables: UsageTables;
  readonly pipeline: EventPipeline;
  readonly http: MeteringHttpApi;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    this.tables = new UsageTables(this, 'Tables');
    this.pipeline = new EventPipeline(this, 'Pipeline', { tables: this.tables });
    this.http = new MeteringHttpApi(this, 'Http', { tables: this.tables, pipeline: this.pipeline });
  }
}
