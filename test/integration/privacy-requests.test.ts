import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKey, hashKey } from '../../functions/core/shared/api-keys.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';
import { apiCall, post, userActive } from '../fakes/events.js';
import { meterCli } from '../fakes/meter-cli.js';
import { settled } from '../fakes/settled.js';

// Privacy requests from outside: the admin's HTTP routes (an export is a job the close worker runs) and the
// `meter privacy` commands, piped as an operator would. Every call names a reason; the answers never hold the user id.
const dir = mkdtempSync(join(tmpdir(), 'meter-privacy-'));
const CUSTOMER = 'priv-http-co';
const USER = 'dana-5tq8rn';
const ANALYST = generateKey('analyst');
let stack: LocalStack;

const meter = meterCli(dir, 'dpo');

const api = (method: string, path: string, body?: unknown, key = stack.adminKey) =>
  fetch(`${stack.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });

beforeAll(async () => {
  stack = await startLocalStack({ dataDir: dir, visibilityTimeoutSeconds: 1 });
  const at = new Date().toISOString();
  await stack.services.registry.putCustomer({ id: CUSTOMER, createdAt: at, updatedAt: at });
  await stack.services.registry.putKey({
    hash: hashKey(ANALYST),
    prefix: ANALYST.slice(0, 12),
    role: 'analyst',
    principal: 'ana',
    createdAt: at,
  });
  const res = await post(stack.url, stack.ingestKey, [userActive(CUSTOMER, USER), userActive(CUSTOMER, 'erin-3mm2kc'), apiCall(CUSTOMER)]);
  expect(res.body.accepted?.length).toBe(3);
  await stack.drain();
}, 120_000);
afterAll(async () => {
  await stack?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('privacy requests over HTTP and the CLI', () => {
  it('an admin exports a user through the API: 202, a job the close worker finishes, then the download', async () => {
    // Act
    const made = await api('POST', '/v1/privacy/requests', { type: 'export', customer: CUSTOMER, user: USER, reason: 'access request' });
    const request = (await made.json()) as { id: string; status: string; userRef: string };
    const status = (
      await settled(async () => (await (await api('GET', `/v1/privacy/requests/${request.id}`)).json()) as { status: string })
    )?.status;
    const download = await api('GET', `/v1/privacy/requests/${request.id}/export`);
    const text = await download.text();
    // Assess
    expect(made.status).toBe(202);
    expect(status).toBe('done');
    expect(download.status).toBe(200);
    expect(download.headers.get('content-disposition')).toContain(`privacy-export-${request.id}.json`);
    const doc = JSON.parse(text) as { tables: { events: { userId: string }[] } };
    expect(doc.tables.events.map((e) => e.userId)).toEqual([request.userRef]);
    expect(text).not.toContain(USER);
  });

  it('refuses other roles, a missing reason for an erasure, and a bad type, each naming why', async () => {
    // Act
    const analyst = await api('POST', '/v1/privacy/requests', { type: 'erase', customer: CUSTOMER, user: USER, reason: 'x' }, ANALYST);
    const noReason = await api('POST', '/v1/privacy/requests', { type: 'erase', customer: CUSTOMER, user: USER });
    const badType = await api('POST', '/v1/privacy/requests', { type: 'delete', customer: CUSTOMER, user: USER, reason: 'x' });
    const unknown = await api('GET', '/v1/privacy/requests/nope');
    // Assess
    expect(analyst.status).toBe(403);
    expect(noReason.status).toBe(400);
    expect(JSON.stringify(await noReason.json())).toContain('reason');
    expect(badType.status).toBe(400);
    expect(JSON.stringify(await badType.json())).toContain('type');
    expect(unknown.status).toBe(404);
    expect((await stack.services.userRefs.find(CUSTOMER, USER))?.erased).toBe(false);
  });

  it('`meter privacy export --out`, then `erase`, then `requests --json` piped: the erased user exports nothing', async () => {
    // Act
    const out = join(dir, 'dana.json');
    const exported = await meter('privacy', 'export', '--customer', CUSTOMER, '--user', USER, '--out', out);
    const erased = await meter('privacy', 'erase', '--customer', CUSTOMER, '--user', USER, '--reason', 'erasure request 7');
    const after = await meter('privacy', 'export', '--customer', CUSTOMER, '--user', USER);
    const listed = await meter('privacy', 'requests', '--json');
    const noReason = await meter('privacy', 'erase', '--customer', CUSTOMER, '--user', 'erin-3mm2kc');
    // Assess
    expect(exported.status).toBe(0);
    expect((JSON.parse(readFileSync(out, 'utf8')) as { tables: { events: unknown[] } }).tables.events.length).toBe(1);
    expect(erased.status).toBe(0);
    expect(erased.stdout).toContain('mappingsDeleted 1');
    expect(after.status).toBe(0);
    expect(after.stderr).toContain('This user was erased');
    expect((JSON.parse(after.stdout) as { tables: object }).tables).toEqual({});
    const requests = JSON.parse(listed.stdout) as { type: string; actor: string; status: string }[];
    expect(requests.filter((r) => r.type === 'erase').map((r) => [r.actor, r.status])).toEqual([['cli:dpo', 'done']]);
    expect(listed.stdout).not.toContain(USER);
    expect(noReason.status).toBe(1);
    expect(noReason.stderr).toContain('reason: is required to erase data');
    expect((await stack.services.userRefs.find(CUSTOMER, 'erin-3mm2kc'))?.erased).toBe(false);
  });

  it('`meter privacy export --no-wait` prints the request id at once, and the close worker finishes the job', async () => {
    // Act
    const started = await meter('privacy', 'export', '--customer', CUSTOMER, '--no-wait');
    const id = started.stdout.trim();
    const status = (await settled(() => stack.services.privacyRequests.get(id)))?.status;
    // Assess
    expect(started.status).toBe(0);
    expect(id).toMatch(/^[0-9A-Z]{26}$/);
    expect(status).toBe('done');
    const doc = JSON.parse((await stack.services.privacyRequests.getExport(id))!) as { tables: { events: unknown[] } };
    expect(doc.tables.events.length).toBe(3);
  });
});
