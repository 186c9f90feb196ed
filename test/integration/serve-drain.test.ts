import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeAwsClients } from '../../functions/adapters/aws/aws-clients.js';
import { DynamoDbEventStore } from '../../functions/adapters/dynamodb/dynamodb-event-store.js';
import { LOCAL_CREDENTIALS, startDynamoDbLocal } from '../../local/dynamodb-local.js';
import { freePort } from '../../local/free-port.js';
import { apiCall, post } from '../fakes/events.js';

const dir = mkdtempSync(join(tmpdir(), 'meter-serve-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const env = { ...process.env, POWERTOOLS_LOG_LEVEL: 'ERROR', METER_INGEST_KEY: 'mk_ingest_serve-test' };

describe('meter serve', () => {
  it('drains the queue on SIGTERM: every accepted event is in DynamoDB after exit', async () => {
    // Prepare: a running `meter serve` (its data directory from METER_DATA_DIR) with one registered customer
    const port = await freePort();
    const child = spawn(process.execPath, ['bin/meter.mjs', 'serve', '--port', String(port)], {
      env: { ...env, METER_DATA_DIR: dir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    for (let i = 0; i < 600 && !out.includes('ready at'); i++) await new Promise((r) => setTimeout(r, 100));
    expect(out).toContain(`ready at http://127.0.0.1:${port}`);
    const add = spawnSync(process.execPath, ['bin/meter.mjs', 'customers', 'add', 'drain-co', '--data-dir', dir], {
      env,
      encoding: 'utf8',
    });
    expect(add.stdout).toContain('added customer drain-co');
    const day = new Date().toISOString().slice(0, 10);
    const events = Array.from({ length: 600 }, () => apiCall('drain-co', { source: 'local' }));
    // Act: accept events, then stop the server at once
    const res = await post(`http://127.0.0.1:${port}`, 'mk_ingest_serve-test', events);
    expect(res.body.accepted).toHaveLength(600);
    child.kill('SIGTERM');
    const code = await exited;
    // Assess: clean exit, and DynamoDB (reopened from the data dir) holds every event
    expect(code).toBe(0);
    expect(out).toContain('drained');
    const ddb = await startDynamoDbLocal({ dataDir: join(dir, 'dynamodb') });
    try {
      const clients = makeAwsClients({ region: 'us-east-1', endpoints: { dynamodb: ddb.endpoint }, credentials: LOCAL_CREDENTIALS });
      const stored = await new DynamoDbEventStore(clients.dynamo, ddb.tableNames.events, 400).listDay('drain-co', day);
      expect(new Set(stored.map((e) => e.id))).toEqual(new Set(events.map((e) => e.id)));
      clients.dynamo.destroy();
    } finally {
      await ddb.stop();
    }
    expect(readFileSync(join(dir, 'dynamodb', 'shared-local-instance.db')).length).toBeGreaterThan(0);
  }, 120_000);
});
