import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import {
  AuthError,
  ConfigError,
  ConflictError,
  NotFoundError,
  PermanentError,
  StateConflictError,
  TransientError,
  ValidationError,
  WebhookSignatureError,
} from '../../../contract/errors.js';
import { ExpectedActivityWithdrawnError } from '../../../functions/core/fraud/expected-activity.js';
import { FlagAlreadyReviewedError, FlagConflictError } from '../../../functions/core/fraud/review-flag.js';
import { errorResponse } from '../../../functions/http/responses.js';
import { makeRouter } from '../../../functions/http/router.js';

const request = (method: string, path: string) =>
  ({ rawPath: path, headers: {}, requestContext: { http: { method, path } } }) as unknown as APIGatewayProxyEventV2;

describe('errorResponse: every domain error mapped to its status in one place', () => {
  it.each([
    ['a validation error', new ValidationError([{ field: 'period', message: 'must be YYYY-MM' }]), 400],
    ['a Stripe webhook whose signature does not verify', new WebhookSignatureError('the Stripe-Signature header does not verify'), 400],
    ['a missing key', new AuthError('missing bearer token'), 401],
    ['a key without the role', new AuthError('a finance key cannot do this', 403), 403],
    ['an unknown record', new NotFoundError('no flag f1'), 404],
    ['a record that moved on (even though a retry may help)', new ConflictError('changed since read'), 409],
    ['a flag conflict the route could not resolve', new FlagConflictError(['f1']), 409],
    ['a step already taken', new StateConflictError('already done'), 409],
    ['a flag already reviewed', new FlagAlreadyReviewedError({ id: 'f1', status: 'dismissed', history: [] }), 409],
    [
      'an expectation already withdrawn',
      new ExpectedActivityWithdrawnError({ id: 'e1', withdrawnBy: 'ana', withdrawnAt: '2026-03-01T00:00:00Z' } as never),
      409,
    ],
    ['an outside system that may recover', new TransientError('throttled'), 503],
    ['a permanent failure', new PermanentError('no'), 500],
    ['bad configuration', new ConfigError('TABLE_X is not set'), 500],
    ['anything else', new Error('boom'), 500],
  ])('%s', (_, err, status) => {
    // Act
    const res = errorResponse(err, 'req-1');
    // Assess: the status, and a 500 says nothing of its cause
    expect(res.statusCode).toBe(status);
    if (status === 500) expect(JSON.parse(res.body ?? '{}')).toEqual({ error: 'internal error', requestId: 'req-1' });
    if (status === 503) expect(res.headers?.['retry-after']).toBe('1');
  });
});

describe('makeRouter', () => {
  const routes = {
    'GET /v1/things/{id}': async ({ params }: { params: Record<string, string> }) => ({ statusCode: 200, body: params.id }),
    'GET /v1/missing/{id}': async () => {
      throw new NotFoundError('no such thing');
    },
  };
  const router = makeRouter(routes, { newId: () => 'req-9' });

  it('hands a route its path parameters and answers 404 for a request no route takes', async () => {
    // Act
    const [found, unknown, emptySegment] = await Promise.all([
      router(request('GET', '/v1/things/t%201')),
      router(request('POST', '/v1/things/t1')),
      router(request('GET', '/v1/things/')),
    ]);
    // Assess
    expect([found.statusCode, found.body]).toEqual([200, 't%201']);
    expect([unknown.statusCode, emptySegment.statusCode]).toEqual([404, 404]);
  });

  it('maps what a route throws', async () => {
    // Act
    const res = await router(request('GET', '/v1/missing/x'));
    // Assess
    expect([res.statusCode, JSON.parse(res.body ?? '{}')]).toEqual([404, { error: 'no such thing' }]);
  });
});
