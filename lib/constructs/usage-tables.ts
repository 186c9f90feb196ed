import { CfnOutput, RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { TABLES, type TableDefinition, type TableName } from '../../functions/resources.js';

/**
 * Every table in TABLES, on demand, with point-in-time recovery and TTL where defined.
 * Retained on stack deletion and protected against deletion: they hold the billing record.
 * @example const { tables } = new UsageTables(this, 'Tables'); tables.usage.grantReadData(fn);
 */
export class UsageTables extends Construct {
  /** The tables by their TABLES key. */
  readonly tables: Record<TableName, Table>;
  /** Each table's environment variable mapped to its deployed name. */
  readonly environment: Record<string, string>;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    const entries = Object.entries(TABLES) as [TableName, TableDefinition][];
    this.tables = Object.fromEntries(entries.map(([name, def]) => [name, this.table(def)])) as Record<TableName, Table>;
    this.environment = Object.fromEntries(entries.map(([name, def]) => [def.env, this.tables[name].tableName]));
  }

  private table(def: TableDefinition): Table {
    const table = new Table(this, def.id, {
      partitionKey: { name: def.partitionKey, type: AttributeType.STRING },
      sortKey: { name: def.sortKey, type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: TableEncryption.AWS_MANAGED,
      removalPolicy: RemovalPolicy.RETAIN,
      // Every table is billing data or what a bill is rebuilt from (quarantined events are replayed, flags hold usage).
      deletionProtection: true,
      ...(def.ttlAttribute ? { timeToLiveAttribute: def.ttlAttribute } : {}),
    });
    new CfnOutput(this, `${def.id}TableName`, { value: table.tableName, description: def.purpose });
    return table;
  }
}
