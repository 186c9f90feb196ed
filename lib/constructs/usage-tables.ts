import { CfnOutput, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { AttributeType, BillingMode, type CfnTable, ProjectionType, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { TABLES, type TableDefinition, type TableName } from '../../functions/resources.js';

/**
 * Every table in TABLES, on demand, with point-in-time recovery, TTL and global indexes where defined.
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
      ...(def.encryption === 'customer-managed'
        ? { encryption: TableEncryption.CUSTOMER_MANAGED, encryptionKey: this.key(def) }
        : { encryption: TableEncryption.AWS_MANAGED }),
      removalPolicy: RemovalPolicy.RETAIN,
      // Every table is billing data or what a bill is rebuilt from (quarantined events are replayed, flags hold usage).
      deletionProtection: true,
      ...(def.ttlAttribute ? { timeToLiveAttribute: def.ttlAttribute } : {}),
    });
    for (const index of def.globalIndexes ?? [])
      table.addGlobalSecondaryIndex({
        indexName: index.name,
        partitionKey: { name: index.partitionKey, type: AttributeType.STRING },
        sortKey: { name: index.sortKey, type: AttributeType.STRING },
        projectionType: ProjectionType.INCLUDE,
        nonKeyAttributes: [...index.nonKeyAttributes],
      });
    if (def.globalIndexes?.length) {
      // A table grant covers the table's indexes as `<table>/index/*` (CDK adds it once a table has any): the
      // functions granted this table query its own indexes, which are exactly those defined here.
      const logicalId = Stack.of(this).getLogicalId(table.node.defaultChild as CfnTable);
      Validations.of(Stack.of(this)).acknowledge({
        id: `AwsSolutions-IAM5[Resource::<${logicalId}.Arn>/index/*]`,
        reason: `The ${def.id} table's grants reach its own indexes (${def.globalIndexes.map((i) => i.name).join(', ')}) as index/*.`,
      });
    }
    new CfnOutput(this, `${def.id}TableName`, { value: table.tableName, description: def.purpose });
    return table;
  }

  /** A table's own KMS key: rotated yearly and retained with the table, whose data it alone can decrypt. */
  private key(def: TableDefinition): Key {
    return new Key(this, `${def.id}Key`, {
      description: `Encrypts the ${def.id} table at rest: ${def.purpose.split(':')[0]}`,
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }
}
