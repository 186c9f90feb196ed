import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS } from '../../contract/clock.js';
import type { FieldError } from '../../contract/errors.js';
import type { Meter } from '../../contract/meters.js';
import type { QueuedFlag } from '../../functions/core/fraud/flag-queue.js';
import { openFlag } from '../../functions/core/fraud/merge-flags.js';
import type { Flag, FlagSeverity } from '../../functions/core/fraud/types.js';
import { hashKey } from '../../functions/core/shared/api-keys.js';
import type { AuditEntry, KeyRole } from '../../functions/core/shared/ports.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';

const NOW = Date.parse('2026-03-20T12:00:00.000Z');
let stack: LocalStack;
const KEYS: Record<'ana' | 'bo' | 'fin', { key: string; role: KeyRole }> = {
  ana: { key: 'mk_analyst_console-flags-ana', role: 'analyst' },
  bo: { key: 'mk_analyst_console-flags-bo0', role: 'analyst' },
  fin: { key: 'mk_finance_console-flags-fin', role: 'finance' },
};

type Refusal = { error: string; errors?: FieldError[] };
type Queue = { flags: QueuedFlag[]; cursor?: string };

async function call<T = unknown>(method: string, path: string, key?: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${stack.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as T };
}

/** A stored open flag: `held` and `escalateBy` as the close would have set them. */
function seed(o: {
  n: number;
  customer: string;
  severity: FlagSeverity;
  score: number;
  meter?: Meter;
  held?: number;
  escalateInDays?: number;
}): Flag {
  const day = new Date(NOW - (10 + o.n) * DAY_MS).toISOString().slice(0, 10);
  const f = openFlag(
    {
      customerId: o.customer,
      rule: o.meter === 'active_users' ? 'account_sharing' : 'volume_spike',
      meter: o.meter ?? 'api_calls',
      window: { from: `${day}T02:00:00.000Z`, to: `${day}T05:00:00.000Z` },
      score: o.score,
      severity: o.severity,
      evidence: { summary: `flag ${o.n}`, observed: 100, expected: 10, signals: {}, series: [] },
    },
    new Date(NOW - DAY_MS).toISOString(),
  );
  return {
    ...f,
    heldQuantity: o.held ?? 0,
    ...(o.escalateInDays !== undefined ? { escalateBy: new Date(NOW + o.escalateInDays * DAY_MS).toISOString() } : {}),
  };
}

// Holding (high): by deadline, then quantity, then score. Non-holding (medium, low): by score.
const FLAGS = [
  seed({ n: 1, customer: 'acme', severity: 'medium', score: 0.7 }),
  seed({ n: 2, customer: 'acme', severity: 'high', score: 0.9, held: 500, escalateInDays: 9 }),
  seed({ n: 3, customer: 'bolt', severity: 'high', score: 0.95, held: 48_120, escalateInDays: 3 }),
  seed({ n: 4, customer: 'bolt', severity: 'low', score: 0.55, meter: 'active_users' }),
  seed({ n: 5, customer: 'acme', severity: 'high', score: 0.85, held: 48_120, escalateInDays: 3 }),
  seed({ n: 6, customer: 'cora', severity: 'high', score: 0.99, held: 10, escalateInDays: 20, meter: 'active_users' }),
  seed({ n: 7, customer: 'cora', severity: 'medium', score: 0.8 }),
];
const byN = (n: number) => FLAGS[n - 1]!.id;
const URGENCY = [3, 5, 2, 6, 7, 1, 4].map(byN);

beforeAll(async () => {
  stack = await startLocalStack({ noPoller: true, clock: { now: () => NOW } });
  for (const [principal, { key, role }] of Object.entries(KEYS))
    await stack.services.registry.putKey({
      hash: hashKey(key),
      prefix: key.slice(0, 12),
      role,
      principal,
      createdAt: new Date(NOW).toISOString(),
    });
  await stack.services.flags.save(FLAGS.map((flag) => ({ flag, basedOn: undefined })));
  await stack.services.flags.putExpectedActivity({
    id: 'exp-1',
    customerId: 'bolt',
    from: FLAGS[2]!.window.from,
    to: new Date(Date.parse(FLAGS[2]!.window.from) + DAY_MS).toISOString(),
    rules: ['leaked_key'],
    meters: ['api_calls'],
    reason: 'migration',
    createdBy: 'ana',
    createdAt: new Date(NOW).toISOString(),
  });
}, 120_000);
afterAll(async () => stack?.stop());

/** Every page of a listing, following cursors. */
async function allPages(query: string, key = KEYS.ana.key): Promise<{ pages: string[][]; rows: QueuedFlag[] }> {
  const pages: string[][] = [];
  const rows: QueuedFlag[] = [];
  let cursor: string | undefined;
  do {
    const r = await call<Queue>('GET', `/v1/flags?${query}${cursor ? `&cursor=${cursor}` : ''}`, key);
    expect(r.status).toBe(200);
    pages.push(r.body.flags.map((f) => f.id));
    rows.push(...r.body.flags);
    cursor = r.body.cursor;
  } while (cursor && pages.length < 20);
  return { pages, rows };
}

describe('the open flag queue', () => {
  it('lists open flags in urgency order across pages, with hold figures', async () => {
    const { pages, rows } = await allPages('status=open&limit=3');
    expect(pages.flat()).toEqual(URGENCY);
    expect(pages[0]).toHaveLength(3);
    const first = rows[0]!;
    expect(first).toMatchObject({ customerId: 'bolt', holding: true, heldQuantity: 48_120, daysLeft: 3, evidence: { summary: 'flag 3' } });
    expect(first.escalateBy).toBe(new Date(NOW + 3 * DAY_MS).toISOString());
    expect(first).not.toHaveProperty('history');
    const last = rows.at(-1)!;
    expect(last.holding).toBe(false);
    expect(last).not.toHaveProperty('daysLeft');
  });

  it('filters by meter, severity and customer, keeping the order', async () => {
    expect((await allPages('status=open&meter=active_users&limit=1')).pages.flat()).toEqual([6, 4].map(byN));
    expect((await allPages('status=open&severity=high')).pages.flat()).toEqual([3, 5, 2, 6].map(byN));
    expect((await allPages('status=open&customer=acme&limit=2')).pages.flat()).toEqual([5, 2, 1].map(byN));
  });

  it('refuses bad input naming the field, and a finance key', async () => {
    const bad = await call<Refusal>('GET', '/v1/flags?status=open&meter=bytes', KEYS.ana.key);
    const cursor = await call<Refusal>('GET', '/v1/flags?status=open&cursor=eyJwayI6IkNGI3gifQ', KEYS.ana.key);
    const finance = await call('GET', '/v1/flags?status=open', KEYS.fin.key);
    expect([bad.status, bad.body.errors?.[0]?.field]).toEqual([400, 'meter']);
    expect([cursor.status, cursor.body.errors?.[0]?.field]).toEqual([400, 'cursor']);
    expect(finance.status).toBe(403);
  });
});

describe('one flag', () => {
  it('shows its hold, what each decision does, and the expected activity beside it', async () => {
    const r = await call<
      Flag & { holding: boolean; daysLeft: number; impact: { confirm: string; dismiss: string }; expectedActivity: { id: string }[] }
    >('GET', `/v1/flags/${byN(3)}`, KEYS.ana.key);
    const day = new Date(Date.parse(FLAGS[2]!.window.from));
    const dated = `${day.getUTCDate()} March`;
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ holding: true, heldQuantity: 48_120, daysLeft: 3 });
    expect(r.body.impact.dismiss).toBe(`Dismissing releases 48,120 API calls, dated ${dated}, at the next close.`);
    expect(r.body.expectedActivity.map((e) => e.id)).toEqual(['exp-1']);
    const other = await call<{ impact: { dismiss: string }; expectedActivity: unknown[] }>('GET', `/v1/flags/${byN(1)}`, KEYS.ana.key);
    expect(other.body.impact.dismiss).toMatch(/^This flag holds no usage/);
    expect(other.body.expectedActivity).toEqual([]);
  });
});

describe('claims', () => {
  it('assigns a flag, refuses another analyst naming the holder, releases, and audits', async () => {
    const id = byN(2);
    const mine = await call<{ claim: { by: string } }>('POST', `/v1/flags/${id}/claim`, KEYS.ana.key);
    const again = await call('POST', `/v1/flags/${id}/claim`, KEYS.ana.key);
    const theirs = await call<Refusal>('POST', `/v1/flags/${id}/claim`, KEYS.bo.key);
    const release = await call('DELETE', `/v1/flags/${id}/claim`, KEYS.bo.key);
    const queued = (await allPages('status=open')).rows.find((f) => f.id === id);
    expect([mine.status, mine.body.claim.by, again.status, theirs.status, release.status]).toEqual([200, 'ana', 200, 409, 403]);
    expect(theirs.body.error).toContain('ana');
    expect(queued?.claim?.by).toBe('ana');
    expect((await call('DELETE', `/v1/flags/${id}/claim`, KEYS.ana.key)).status).toBe(200);
    expect((await stack.services.flags.get(id))!.claim).toBeUndefined();
    expect((await call('POST', `/v1/flags/${id}/claim`, KEYS.fin.key)).status).toBe(403);
    expect((await call('POST', '/v1/flags/nope/claim', KEYS.ana.key)).status).toBe(404);
    const audit = (await stack.services.audit.list(new Date(NOW).toISOString().slice(0, 10))) as AuditEntry[];
    // Both at the one instant of the fixed clock: their ids do not order them, so compare sorted.
    expect(
      audit
        .filter((e) => e.details?.flagId === id)
        .map((e) => [e.action, e.actor])
        .sort(),
    ).toEqual([
      ['flag.claim', 'ana'],
      ['flag.unclaim', 'ana'],
    ]);
  });

  it('a review clears the claim and the flag leaves the open queue', async () => {
    const id = byN(7);
    expect((await call('POST', `/v1/flags/${id}/claim`, KEYS.bo.key)).status).toBe(200);
    expect((await call('POST', `/v1/flags/${id}/review`, KEYS.bo.key, { decision: 'confirm', note: 'real' })).status).toBe(200);
    expect((await stack.services.flags.get(id))!.claim).toBeUndefined();
    expect((await allPages('status=open')).pages.flat()).not.toContain(id);
  });
});

describe('bulk dismiss', () => {
  it('refuses bad input naming the field and a finance key', async () => {
    const noIds = await call<Refusal>('POST', '/v1/flags/review', KEYS.ana.key, { ids: [], decision: 'dismiss', note: 'x' });
    const confirm = await call<Refusal>('POST', '/v1/flags/review', KEYS.ana.key, { ids: [byN(1)], decision: 'confirm', note: 'x' });
    const noNote = await call<Refusal>('POST', '/v1/flags/review', KEYS.ana.key, { ids: [byN(1)], decision: 'dismiss' });
    const tooMany = await call<Refusal>('POST', '/v1/flags/review', KEYS.ana.key, {
      ids: Array.from({ length: 101 }, (_, i) => `f${i}`),
      decision: 'dismiss',
      note: 'x',
    });
    const finance = await call('POST', '/v1/flags/review', KEYS.fin.key, { ids: [byN(1)], decision: 'dismiss', note: 'x' });
    expect([noIds, confirm, noNote, tooMany].map((r) => [r.status, r.body.errors?.[0]?.field])).toEqual([
      [400, 'ids'],
      [400, 'decision'],
      [400, 'note'],
      [400, 'ids'],
    ]);
    expect(finance.status).toBe(403);
    expect((await stack.services.flags.get(byN(1)))!.status).toBe('open');
  });

  it('dismisses each flag through the single review and reports each one', async () => {
    const r = await call<{ results: { id: string; ok: boolean; status?: string; error?: string }[] }>(
      'POST',
      '/v1/flags/review',
      KEYS.ana.key,
      {
        ids: [byN(1), byN(4), 'missing', byN(7)],
        decision: 'dismiss',
        note: 'known test traffic',
      },
    );
    expect(r.status).toBe(200);
    expect(r.body.results.map((x) => [x.id, x.ok, x.status])).toEqual([
      [byN(1), true, 'dismissed'],
      [byN(4), true, 'dismissed'],
      ['missing', false, undefined],
      [byN(7), false, 'confirmed'],
    ]);
    const audit = (await stack.services.audit.list(new Date(NOW).toISOString().slice(0, 10))) as AuditEntry[];
    expect(audit.filter((e) => e.action === 'flag.review' && e.details?.decision === 'dismiss').map((e) => e.details?.flagId)).toEqual(
      expect.arrayContaining([byN(1), byN(4)]),
    );
    expect((await allPages('status=open')).pages.flat()).toEqual([3, 5, 2, 6].map(byN));
  });
});
