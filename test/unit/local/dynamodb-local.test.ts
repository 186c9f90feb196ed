import { existsSync, readdirSync, rmSync } from 'node:fs';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, describe, expect, it } from 'vitest';
import { TABLES } from '../../../functions/resources.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startDynamoDbLocal } from '../../../local/dynamodb-local.js';

// `npm start` keeps its data under `.meter`, a path relative to where it runs.
const RELATIVE = `.meter-test-${process.pid}`;
afterAll(() => rmSync(RELATIVE, { recursive: true, force: true }));

describe('DynamoDB Local', () => {
  it('persists under a data directory given as a relative path (as npm start gives it)', async () => {
    // Act
    const ddb = await startDynamoDbLocal({ dataDir: `${RELATIVE}/dynamodb` });
    const client = new DynamoDBClient({ endpoint: ddb.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    const tables = await client.send(new ListTablesCommand({}));
    client.destroy();
    await ddb.stop();

    // Assess: every table made, and the database file is in the folder asked for
    expect(tables.TableNames?.sort()).toEqual(Object.values(ddb.tableNames).sort());
    expect(tables.TableNames).toHaveLength(Object.keys(TABLES).length);
    expect(existsSync(`${RELATIVE}/dynamodb`)).toBe(true);
    expect(readdirSync(`${RELATIVE}/dynamodb`).some((f) => f.endsWith('.db'))).toBe(true);
  });
});
