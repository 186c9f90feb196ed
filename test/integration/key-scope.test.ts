import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { utcDay } from '../../contract/clock.js';
import { OUTSIDE_SCOPE } from '../../functions/core/ingest/ingest.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';
import { apiCall, post } from '../fakes/events.js';
import { meterCli } from '../fakes/meter-cli.js';

// Ingest keys scoped to customers: an event for a customer outside the key's scope is refused, naming the field,
// and nothing of it is stored (no usage, no quarantine); the rest of its batch is counted as usual.
const dir = mkdtempSync(join(tmpdir(), 'meter-key-scope-'));
let stack: LocalStack;

const meter = meterCli(dir, 'ops');

beforeAll(async () => {
  stack = await startLocalStack({ dataDir: dir });
  const at = new Date().toISOString();
  for (const id of ['a-co', 'b-co', 'c-co', 'tenant-1', 'other-1'])
    await stack.services.registry.putCustomer({ id, createdAt: at, updatedAt: at });
}, 120_000);
afterAll(async () => {
  await stack?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('ingest keys scoped to customers', () => {
  it('a key given --customers writes for those only: the others are refused by field, nothing of them stored, the rest counted', async () => {
    // Prepare
    const created = await meter(
      'keys',
      'create',
      '--role',
      'ingest',
      '--principal',
      'partner',
      '--source',
      'local',
      '--customers',
      'a-co,b-co',
    );
    expect([created.status, created.stderr]).toEqual([0, '']);
    const key = created.stdout.trim();
    // (the fourth is invalid as well: outside the scope, it is not quarantined either)
    const batch = [apiCall('a-co'), apiCall('c-co'), apiCall('b-co'), apiCall('c-co', {}, { quantity: -1 })];

    // Act
    const res = await post(stack.url, key, batch);
    await stack.drain();

    // Assess
    expect(res.status).toBe(202);
    expect(res.body.accepted?.map((a) => a.id)).toEqual([batch[0]!.id, batch[2]!.id]);
    expect(res.body.rejected).toEqual(
      [1, 3].map((index) => ({ index, id: batch[index]!.id, errors: [{ field: 'subject', message: OUTSIDE_SCOPE }] })),
    );
    const today = utcDay(Date.now());
    expect((await stack.services.events.listDay('a-co', today)).map((e) => e.id)).toEqual([batch[0]!.id]);
    expect((await stack.services.events.listDay('b-co', today)).map((e) => e.id)).toEqual([batch[2]!.id]);
    expect(await stack.services.events.listDay('c-co', today)).toEqual([]);
    expect(await stack.services.quarantine.list({ customerId: 'c-co' })).toEqual([]);
  });

  it('a key given --customer-prefix writes for ids under it only; an unscoped key still writes for any customer', async () => {
    // Prepare
    const scoped = await meter(
      'keys',
      'create',
      '--role',
      'ingest',
      '--principal',
      'tenants',
      '--source',
      'local',
      '--customer-prefix',
      'tenant-',
    );
    expect(scoped.status).toBe(0);

    // Act
    const underPrefix = await post(stack.url, scoped.stdout.trim(), [apiCall('tenant-1'), apiCall('other-1')]);
    const unscoped = await post(stack.url, stack.ingestKey, [apiCall('other-1')]);
    await stack.drain();

    // Assess
    expect([underPrefix.body.accepted?.length, underPrefix.body.rejected?.map((r) => [r.index, r.errors[0]!.field])]).toEqual([
      1,
      [[1, 'subject']],
    ]);
    expect([unscoped.status, unscoped.body.accepted?.length, unscoped.body.rejected]).toEqual([202, 1, []]);
    expect(await stack.services.events.listDay('other-1', utcDay(Date.now()))).toHaveLength(1);
  });

  it('refuses a scope given both ways, an empty one, or on a key that is not an ingest key, naming the flag', async () => {
    // Act
    const ingest = ['keys', 'create', '--role', 'ingest', '--principal', 'p', '--source', 'local'];
    const [both, empty, admin] = await Promise.all([
      meter(...ingest, '--customers', 'a', '--customer-prefix', 't'),
      meter(...ingest, '--customers', ','),
      meter('keys', 'create', '--role', 'admin', '--principal', 'p', '--customers', 'a-co'),
    ]);

    // Assess
    expect([both.status, both.stderr]).toEqual([
      1,
      expect.stringContaining('customers: give a list of customers or a customer prefix, not both'),
    ]);
    expect([empty.status, empty.stderr]).toEqual([1, expect.stringContaining('customers: must name 1-1000 customer ids')]);
    expect([admin.status, admin.stderr]).toEqual([1, expect.stringContaining('role: only an ingest key can be scoped to customers')]);
  });
});
