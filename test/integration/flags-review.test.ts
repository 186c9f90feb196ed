import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Asynchronous on purpose: the API the CLI calls is served by this very process.
const run = (args: string[], env: Record<string, string>) =>
  promisify(execFile)(process.execPath, ['bin/meter.mjs', ...args], { env: { ...process.env, ...env } }).then(
    (r) => ({ status: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code?: number; stdout?: string; stderr?: string }) => ({ status: e.code ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' }),
  );

import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { FieldError } from '../../contract/errors.js';
import type { ExpectedActivity } from '../../functions/core/fraud/expected-activity.js';
import { flagRevision, mergeFlags, openFlag } from '../../functions/core/fraud/merge-flags.js';
import type { Detection, Flag } from '../../functions/core/fraud/types.js';
import { hashKey } from '../../functions/core/shared/api-keys.js';
import { makeApiHandler } from '../../functions/handlers/api.js';
import type { Services } from '../../functions/runtime/services.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';

let stack: LocalStack;
const ANALYST = 'mk_analyst_review-test-key-ana';
let flagId = '';

const detection: Detection = {
  customerId: 'acme',
  rule: 'volume_spike',
  meter: 'api_calls',
  window: { from: '2026-11-20T10:00:00.000Z', to: '2026-11-20T12:00:00.000Z' },
  score: 0.9,
  severity: 'high',
  evidence: { summary: '5,000 calls against about 300 expected', observed: 5000, expected: 300, signals: { z: 9 }, series: [] },
};

/** What the API answers a request it refuses; a 400 names each field at fault. */
type Refusal = { error: string; errors?: FieldError[] };

/** Calls the local stack's API; `T` is the body the call is expected to answer with. */
async function call<T = unknown>(method: string, path: string, key?: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${stack.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as T };
}

beforeAll(async () => {
  stack = await startLocalStack({ noPoller: true });
  await stack.services.registry.putKey({
    hash: hashKey(ANALYST),
    prefix: ANALYST.slice(0, 12),
    role: 'analyst',
    principal: 'ana',
    createdAt: new Date().toISOString(),
  });
  const flag = openFlag(detection, '2026-11-21T00:30:00.000Z');
  flagId = flag.id;
  await stack.services.flags.save([{ flag, basedOn: undefined }]);
});
afterAll(async () => stack?.stop());

describe('flag review API', () => {
  it('refuses a missing or wrong key, and an ingest key cannot review', async () => {
    // Act
    const none = await call('GET', '/v1/flags');
    const wrong = await call('GET', '/v1/flags', 'mk_analyst_nope');
    const ingest = await call('POST', `/v1/flags/${flagId}/review`, stack.ingestKey, { decision: 'dismiss', note: 'x' });
    // Assess
    expect([none.status, wrong.status, ingest.status]).toEqual([401, 401, 403]);
    expect((await stack.services.flags.get(flagId))!.status).toBe('open');
  });

  it('lists and shows flags with evidence, filtered', async () => {
    const list = await call<{ flags: Pick<Flag, 'id'>[] }>('GET', '/v1/flags?status=open&severity=high', ANALYST);
    const none = await call<{ flags: Pick<Flag, 'id'>[] }>('GET', '/v1/flags?rule=leaked_key', ANALYST);
    const bad = await call<Refusal>('GET', '/v1/flags?severity=extreme', ANALYST);
    const one = await call<Flag>('GET', `/v1/flags/${flagId}`, ANALYST);
    expect(list.body.flags.map((f) => f.id)).toEqual([flagId]);
    expect(none.body.flags).toEqual([]);
    expect(bad.status).toBe(400);
    expect(bad.body.errors?.[0]?.field).toBe('severity');
    expect(one.body.evidence).toMatchObject({ observed: 5000, expected: 300, signals: { z: 9 } });
  });

  it('takes the reviewer from the key, audits the review, and refuses a second one', async () => {
    // Act
    const smuggled = await call('POST', `/v1/flags/${flagId}/review`, ANALYST, {
      decision: 'dismiss',
      note: 'ok',
      reviewer: 'someone-else',
    });
    const review = await call<Flag>('POST', `/v1/flags/${flagId}/review`, ANALYST, { decision: 'dismiss', note: 'launch day, expected' });
    const again = await call('POST', `/v1/flags/${flagId}/review`, ANALYST, { decision: 'confirm', note: 'changed my mind' });
    // Assess
    expect(smuggled.status).toBe(400);
    expect(review.status).toBe(200);
    expect(review.body.status).toBe('dismissed');
    expect(review.body.history.at(-1)).toMatchObject({ by: 'ana', action: 'dismissed', note: 'launch day, expected' });
    expect(again.status).toBe(409);
    expect(await stack.services.rollups.lateDays()).toContainEqual({ customerId: 'acme', day: '2026-11-20' });
    const audit = (await stack.services.audit.list(new Date().toISOString().slice(0, 10))).filter((a) => a.action === 'flag.review');
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({
      actor: 'ana',
      ipPrefix: '127.0.0.0/24',
      details: { flagId, decision: 'dismiss', note: 'launch day, expected' },
    });
  });
});

describe('meter flags', () => {
  it('lists flags through the API with the analyst key it is given', async () => {
    // Act
    const listed = await run(['flags', 'list', '--json', '--key', ANALYST], { METER_API_URL: stack.url });
    const refused = await run(['flags', 'list', '--key', 'mk_analyst_wrong'], { METER_API_URL: stack.url });
    // Assess
    expect(listed.status).toBe(0);
    expect(JSON.parse(listed.stdout).map((f: { id: string }) => f.id)).toEqual([flagId]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain('401');
  });
});

describe('confirming a flag', () => {
  it('marks the customer for finance', async () => {
    // Prepare
    await stack.services.registry.putCustomer({ id: 'acme', createdAt: '2026-01-01T00:00:00Z', updatedAt: '2026-01-01T00:00:00Z' });
    const other = openFlag(
      { ...detection, window: { from: '2026-11-22T10:00:00.000Z', to: '2026-11-22T11:00:00.000Z' } },
      '2026-11-23T00:30:00.000Z',
    );
    await stack.services.flags.save([{ flag: other, basedOn: undefined }]);
    // Act
    const res = await call('POST', `/v1/flags/${other.id}/review`, ANALYST, { decision: 'confirm', note: 'key posted publicly' });
    // Assess
    expect(res.status).toBe(200);
    const customer = (await stack.services.registry.customers(['acme'])).get('acme')!;
    expect(customer.financeReview).toMatchObject({ flagId: other.id, rule: 'volume_spike', by: 'ana' });
  });
});

describe('expected activity', () => {
  const day = (n: number) => new Date(Date.now() + n * 86_400_000).toISOString().slice(0, 10);

  it('registers what a customer told us to expect, with the registrant from the key, audited; refuses bad input by field', async () => {
    // Prepare
    await stack.services.registry.putCustomer({ id: 'expo', createdAt: '2026-01-01T00:00:00Z', updatedAt: '2026-01-01T00:00:00Z' });
    const body = {
      from: `${day(1)}T00:00:00Z`,
      to: `${day(3)}T00:00:00Z`,
      meters: ['api_calls'],
      reason: 'archive backfill, announced by email',
    };

    // Act
    const ingest = await call('POST', '/v1/customers/expo/expected-activity', stack.ingestKey, body);
    const unknown = await call('POST', '/v1/customers/nobody/expected-activity', ANALYST, body);
    const bad = await call<Refusal>('POST', '/v1/customers/expo/expected-activity', ANALYST, {
      ...body,
      to: body.from,
      rules: ['spiky'],
      createdBy: 'mallory',
    });
    const made = await call<ExpectedActivity>('POST', '/v1/customers/expo/expected-activity', ANALYST, body);
    const listed = await call<{ expectedActivity: ExpectedActivity[] }>('GET', '/v1/customers/expo/expected-activity', ANALYST);
    const cli = await run(['flags', 'expected', '--customer', 'expo', '--json', '--key', ANALYST], { METER_API_URL: stack.url });

    // Assess
    expect([ingest.status, unknown.status, bad.status, made.status]).toEqual([403, 404, 400, 201]);
    expect(bad.body.errors?.map((e) => e.field)).toEqual(['createdBy', 'to', 'rules']);
    expect(made.body).toMatchObject({
      customerId: 'expo',
      from: `${day(1)}T00:00:00.000Z`,
      to: `${day(3)}T00:00:00.000Z`,
      rules: ['volume_spike', 'off_hours_burst'],
      meters: ['api_calls'],
      createdBy: 'ana',
    });
    expect(listed.body.expectedActivity).toEqual([made.body]);
    expect(cli.status).toBe(0);
    expect(JSON.parse(cli.stdout)).toEqual([made.body]);
    const audit = (await stack.services.audit.list(new Date().toISOString().slice(0, 10))).filter(
      (a) => a.action === 'expected_activity.create',
    );
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({
      actor: 'ana',
      customerId: 'expo',
      ipPrefix: '127.0.0.0/24',
      details: { expectedActivityId: made.body.id, reason: body.reason },
    });
  });

  it('registers one through the CLI', async () => {
    // Act
    const made = await run(
      [
        'flags',
        'expect',
        '--customer',
        'expo',
        '--from',
        `${day(5)}T00:00:00Z`,
        '--to',
        `${day(6)}T00:00:00Z`,
        '--rules',
        'volume_spike',
        '--reason',
        'load test',
        '--key',
        ANALYST,
      ],
      { METER_API_URL: stack.url },
    );
    const refused = await run(
      ['flags', 'expect', '--customer', 'expo', '--from', `${day(5)}T00:00:00Z`, '--to', `${day(6)}T00:00:00Z`, '--key', ANALYST],
      { METER_API_URL: stack.url },
    );

    // Assess
    expect(made.status).toBe(0);
    expect(made.stdout).toMatch(
      new RegExp(`: volume_spike on api_calls, active_users, protected_files expected ${day(5)}T00:00:00.000Z .. ${day(6)}T00:00:00.000Z`),
    );
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain('reason');
    expect((await stack.services.flags.expectedActivity('expo')).map((e) => e.reason)).toEqual([
      'archive backfill, announced by email',
      'load test',
    ]);
  });

  it('withdraws one through the API and the CLI: audited, 409 the second time, 404 for an unknown one', async () => {
    // Prepare
    const [first] = await stack.services.flags.expectedActivity('expo');

    // Act
    const ingest = await call('DELETE', `/v1/customers/expo/expected-activity/${first!.id}`, stack.ingestKey);
    const unknown = await call('DELETE', '/v1/customers/expo/expected-activity/nope', ANALYST);
    const cli = await run(['flags', 'unexpect', first!.id, '--customer', 'expo', '--key', ANALYST], { METER_API_URL: stack.url });
    const again = await call<Refusal>('DELETE', `/v1/customers/expo/expected-activity/${first!.id}`, ANALYST);

    // Assess
    expect([ingest.status, unknown.status, again.status]).toEqual([403, 404, 409]);
    expect(cli.status).toBe(0);
    expect(cli.stdout).toMatch(new RegExp(`^${first!.id}: withdrawn by ana at `));
    const stored = (await stack.services.flags.expectedActivity('expo')).find((e) => e.id === first!.id)!;
    expect(stored).toMatchObject({ reason: first!.reason, withdrawnBy: 'ana' });
    expect(again.body.error).toContain('already withdrawn by ana');
    const audit = (await stack.services.audit.list(new Date().toISOString().slice(0, 10))).filter(
      (a) => a.action === 'expected_activity.withdraw',
    );
    expect(audit.map((a) => [a.actor, a.details])).toEqual([['ana', { expectedActivityId: first!.id }]]);
  });
});

/** A review request as API Gateway hands it to the api Lambda. */
const reviewEvent = (id: string, body: unknown) =>
  ({
    rawPath: `/v1/flags/${id}/review`,
    headers: { authorization: `Bearer ${ANALYST}` },
    body: JSON.stringify(body),
    isBase64Encoded: false,
    requestContext: { http: { method: 'POST', path: `/v1/flags/${id}/review`, sourceIp: '203.0.113.9' } },
  }) as unknown as APIGatewayProxyEventV2;
/** POST /v1/flags/{id}/review through the api function's router, on the given services. */
const postReview = (id: string, body: unknown, s: Services) => makeApiHandler(s)(reviewEvent(id, body));

describe('reviews that fail halfway or race the nightly close', () => {
  it('finishes a review whose audit write failed when the analyst retries it, recording it once', async () => {
    // Prepare: a flag of its own; an audit log that fails once
    const flag = openFlag(
      { ...detection, window: { from: '2026-11-24T10:00:00.000Z', to: '2026-11-24T11:00:00.000Z' } },
      '2026-11-25T00:30:00.000Z',
    );
    await stack.services.flags.save([{ flag, basedOn: undefined }]);
    let failures = 1;
    const flaky: Services = {
      ...stack.services,
      audit: {
        ...stack.services.audit,
        record: async (e) => (failures-- > 0 ? Promise.reject(new Error('audit table throttled')) : stack.services.audit.record(e)),
      },
    };
    const body = { decision: 'dismiss', note: 'planned load test' };

    // Act: the first try stores the dismissal and fails at the audit; the analyst retries; then tries another decision
    const first = await postReview(flag.id, body, flaky);
    const retry = await postReview(flag.id, body, flaky);
    const again = await postReview(flag.id, body, flaky);
    const other = await postReview(flag.id, { decision: 'confirm', note: 'planned load test' }, flaky);

    // Assess
    // The audit failure is no error of the caller's: a 500, and the retry finishes the job.
    expect(first.statusCode).toBe(500);
    expect([retry.statusCode, again.statusCode, other.statusCode]).toEqual([200, 200, 409]);
    expect((await stack.services.flags.get(flag.id))!.history.map((h) => h.action)).toEqual(['opened', 'dismissed']);
    expect(await stack.services.rollups.lateDays()).toContainEqual({ customerId: 'acme', day: '2026-11-24' });
    const audit = (await stack.services.audit.list(new Date().toISOString().slice(0, 10))).filter((a) => a.details?.flagId === flag.id);
    expect(audit.map((a) => [a.action, a.actor, a.details?.decision])).toEqual([['flag.review', 'ana', 'dismiss']]);
  });

  it('reads the flag again when the close extended it between the read and the write, keeping both changes', async () => {
    // Prepare: a flag the nightly close extends to the next day while the review is being made
    const flag = openFlag(
      { ...detection, window: { from: '2026-11-26T10:00:00.000Z', to: '2026-11-26T11:00:00.000Z' } },
      '2026-11-27T00:30:00.000Z',
    );
    await stack.services.flags.save([{ flag, basedOn: undefined }]);
    const nextDay = { ...detection, window: { from: '2026-11-27T09:00:00.000Z', to: '2026-11-27T10:00:00.000Z' } };
    let reads = 0;
    const racing: Services = {
      ...stack.services,
      flags: {
        ...stack.services.flags,
        get: async (id) => {
          const read = await stack.services.flags.get(id);
          if (reads++ === 0) {
            // The close's merge lands right after the review's first read.
            const { updated } = mergeFlags([read!], [nextDay], '2026-11-28T00:30:00.000Z');
            await stack.services.flags.save(updated.map((f) => ({ flag: f, basedOn: flagRevision(read!) })));
          }
          return read;
        },
        save: (w) => stack.services.flags.save(w),
      },
    };

    // Act
    const res = await postReview(flag.id, { decision: 'dismiss', note: 'customer migration' }, racing);

    // Assess: two reads (the first write lost to the close's), and the stored flag has the extension and the dismissal
    expect([res.statusCode, reads]).toEqual([200, 2]);
    const stored = (await stack.services.flags.get(flag.id))!;
    expect([stored.status, stored.window.to, stored.history.map((h) => h.action)]).toEqual([
      'dismissed',
      '2026-11-27T10:00:00.000Z',
      ['opened', 'extended', 'dismissed'],
    ]);
    expect(await stack.services.rollups.lateDays()).toEqual(
      expect.arrayContaining([
        { customerId: 'acme', day: '2026-11-26' },
        { customerId: 'acme', day: '2026-11-27' },
      ]),
    );
  });

  it('refuses to store a flag over a version other than the one it was made from', async () => {
    // Prepare
    const flag = openFlag(
      { ...detection, window: { from: '2026-11-29T10:00:00.000Z', to: '2026-11-29T11:00:00.000Z' } },
      '2026-11-30T00:30:00.000Z',
    );
    await stack.services.flags.save([{ flag, basedOn: undefined }]);

    // Act
    const again = await stack.services.flags.save([{ flag, basedOn: undefined }]).catch((e: Error) => e);
    const stale = await stack.services.flags
      .save([{ flag: { ...flag, status: 'dismissed' }, basedOn: flagRevision(flag) - 1 }])
      .catch((e: Error) => e);

    // Assess
    expect([again, stale].map((e) => (e as Error).name)).toEqual(['FlagConflictError', 'FlagConflictError']);
    expect((await stack.services.flags.get(flag.id))!.status).toBe('open');
  });
});

describe('late marks', () => {
  it('clears only the marks made before the close began: one made while it ran stays for the next close', async () => {
    // Prepare: one day marked before a close begins at t=2000, another marked again at t=3000 while it runs
    const marks = [
      { customerId: 'marks-co', day: '2026-11-01' },
      { customerId: 'marks-co', day: '2026-11-02' },
    ];
    await stack.services.rollups.markLate(marks, 1000);
    await stack.services.rollups.markLate([marks[1]!], 3000);

    // Act
    await stack.services.rollups.clearLate(marks, 2000);
    const left = (await stack.services.rollups.lateDays()).filter((m) => m.customerId === 'marks-co');
    await stack.services.rollups.clearLate(marks, 3000);
    const none = (await stack.services.rollups.lateDays()).filter((m) => m.customerId === 'marks-co');

    // Assess
    expect(left).toEqual([marks[1]]);
    expect(none).toEqual([]);
  });
});
