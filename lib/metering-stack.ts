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
  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    const tables = new UsageTables(this, 'Tables');
    const pipeline = new EventPipeline(this, 'Pipeline', { tables });
    new MeteringHttpApi(this, 'Http', { tables, pipeline });
  }
}
