import fc from 'fast-check';
import Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../../contract/errors.js';
import { METERS } from '../../../../contract/meters.js';
import {
  backoffDelayMs,
  classifyStripeError,
  classifyStripeFailure,
  DEFAULT_RETRY_POLICY,
  retryDecision,
  type StripeCallClass,
  type StripeFailure,
  stripeFailureOf,
} from '../../../../functions/core/billing/stripe-failures.js';
import {
  MAX_REVISION,
  type MeterEventIdentity,
  meterEventIdempotencyKey,
  meterEventIdentifier,
  STRIPE_METERS,
  streamRequestIdempotencyKey,
  validateMeterEvent,
} from '../../../../functions/core/billing/stripe-reporting.js';

const identity = fc.record({
  // Any characters at all, up to the 256 our customer ids allow, plus short plain ones that stay readable.
  customerId: fc.oneof(fc.string({ minLength: 1, maxLength: 256, unit: 'binary' }), fc.stringMatching(/^[A-Za-z0-9._-]{1,100}$/)),
  meter: fc.constantFrom(...METERS),
  day: fc
    .date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('9999-12-31T00:00:00Z'), noInvalidDate: true })
    .map((d) => d.toISOString().slice(0, 10)),
  revision: fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: MAX_REVISION })),
}) satisfies fc.Arbitrary<MeterEventIdentity>;

describe('STRIPE_METERS', () => {
  it('defines one meter per Meter with the agreed event names and formulas', () => {
    // Assess
    expect(Object.keys(STRIPE_METERS).sort()).toEqual([...METERS].sort());
    expect(Object.values(STRIPE_METERS).map((m) => [m.eventName, m.formula])).toEqual([
      ['serenity_api_calls', 'sum'],
      ['serenity_active_users', 'last'],
      ['serenity_protected_files', 'last'],
    ]);
    expect(new Set(Object.values(STRIPE_METERS).map((m) => m.code)).size).toBe(3);
  });
});

describe('meterEventIdentifier', () => {
  it('keeps short plain customer ids readable', () => {
    // Act
    const id = meterEventIdentifier({ customerId: 'acme-corp_1', meter: 'api_calls', day: '2026-03-09', revision: 0 });
    // Assess
    expect(id).toBe('srn:api:2026-03-09:r0:acme-corp_1');
  });

  it('hashes long customer ids and ids with other characters, within 100 characters', () => {
    // Prepare
    const long = 'c'.repeat(256);
    // Act
    const hashedLong = meterEventIdentifier({ customerId: long, meter: 'protected_files', day: '2026-03-09', revision: MAX_REVISION });
    const hashedOdd = meterEventIdentifier({ customerId: 'acme:eu', meter: 'active_users', day: '2026-03-09', revision: 2 });
    // Assess
    expect(hashedLong).toMatch(/^srn:files:2026-03-09:r999999:h:[A-Za-z0-9_-]{43}$/);
    expect(hashedLong.length).toBeLessThanOrEqual(100);
    expect(hashedOdd).toMatch(/^srn:users:2026-03-09:r2:h:[A-Za-z0-9_-]{43}$/);
  });

  it('never lets a readable id collide with a hashed one (readable segments have no colon)', () => {
    // Prepare
    const hashed = meterEventIdentifier({ customerId: 'x'.repeat(65), meter: 'api_calls', day: '2026-03-09', revision: 0 });
    const segment = hashed.split(':').slice(4).join(':');
    // Act
    const lookalike = meterEventIdentifier({ customerId: segment, meter: 'api_calls', day: '2026-03-09', revision: 0 });
    // Assess
    expect(lookalike).not.toBe(hashed);
  });

  it('reports every invalid field at once', () => {
    // Act
    let error: unknown;
    try {
      meterEventIdentifier({ customerId: '', meter: 'bytes' as never, day: '2026-02-30', revision: -1 });
    } catch (e) {
      error = e;
    }
    // Assess
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).errors.map((e) => e.field)).toEqual(['customerId', 'meter', 'day', 'revision']);
  });

  it('is stable, at most 100 characters, and printable ASCII for any input (property)', () => {
    fc.assert(
      fc.property(identity, (input) => {
        // Act
        const id = meterEventIdentifier(input);
        // Assess
        expect(id.length).toBeLessThanOrEqual(100);
        expect(id).toMatch(/^[\x21-\x7e]+$/);
        expect(meterEventIdentifier({ ...input })).toBe(id);
        expect(validateMeterEvent({ identifier: id, eventName: 'e', stripeCustomerId: 'cus_1', value: 1, timestamp: 1 })).toEqual([]);
      }),
      { numRuns: 3000 },
    );
  });

  it('gives distinct inputs distinct identifiers (property)', () => {
    fc.assert(
      fc.property(fc.uniqueArray(identity, { minLength: 2, maxLength: 60, selector: (i) => JSON.stringify(i) }), (inputs) => {
        // Act
        const ids = inputs.map(meterEventIdentifier);
        // Assess
        expect(new Set(ids).size).toBe(inputs.length);
      }),
      { numRuns: 500 },
    );
  });

  it('distinguishes inputs that differ in one field only (property)', () => {
    fc.assert(
      fc.property(identity, identity, (a, b) => {
        // Prepare
        const variants: MeterEventIdentity[] = [
          a,
          { ...a, customerId: b.customerId },
          { ...a, meter: b.meter },
          { ...a, day: b.day },
          { ...a, revision: b.revision },
        ];
        // Act
        const ids = new Map(variants.map((v) => [meterEventIdentifier(v), JSON.stringify(v)]));
        // Assess
        expect(ids.size).toBe(new Set(variants.map((v) => JSON.stringify(v))).size);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('idempotency keys', () => {
  it('derives one stable, distinct, header-safe key per identifier and per stream request', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.string({ minLength: 1, maxLength: 100, unit: 'binary' }), { minLength: 2, maxLength: 20 }),
        (identifiers) => {
          // Act
          const keys = identifiers.map(meterEventIdempotencyKey);
          // Assess
          expect(new Set(keys).size).toBe(identifiers.length);
          for (const key of keys) expect(key).toMatch(/^[\x21-\x7e]{1,255}$/);
          expect(identifiers.map(meterEventIdempotencyKey)).toEqual(keys);
          expect(streamRequestIdempotencyKey(identifiers)).toBe(streamRequestIdempotencyKey([...identifiers]));
          expect(streamRequestIdempotencyKey(identifiers)).not.toBe(streamRequestIdempotencyKey(identifiers.slice(1)));
        },
      ),
    );
    expect(meterEventIdempotencyKey('srn:api:2026-03-09:r0:acme')).toBe('srn-mev:srn:api:2026-03-09:r0:acme');
  });
});

describe('validateMeterEvent', () => {
  it('accepts negative whole values (corrections) and rejects fractions, long names and non-integer times', () => {
    // Prepare
    const ok = { identifier: 'i', eventName: 'serenity_api_calls', stripeCustomerId: 'cus_1', value: -5, timestamp: 1_770_000_000 };
    // Act / Assess
    expect(validateMeterEvent(ok)).toEqual([]);
    expect(
      validateMeterEvent({ ...ok, value: 1.5, identifier: 'x'.repeat(101), timestamp: 1.2, eventName: '' })
        .map((e) => e.field)
        .sort(),
    ).toEqual(['eventName', 'identifier', 'timestamp', 'value']);
    expect(validateMeterEvent(null as never)).toEqual([{ field: 'event', message: 'must be an object' }]);
  });
});

describe('classifyStripeFailure', () => {
  const table: Array<[string, StripeFailure, Partial<StripeCallClass> & { kind: StripeCallClass['kind'] }]> = [
    ['2xx', { status: 200, message: 'ok' }, { kind: 'delivered', duplicate: false }],
    [
      'duplicate identifier',
      {
        status: 400,
        rawType: 'invalid_request_error',
        message: 'An event already exists with identifier srn:api:2026-03-09:r0:a.',
        shouldRetry: false,
      },
      { kind: 'delivered', duplicate: true },
    ],
    ['429 rate limit', { status: 429, code: 'rate_limit', message: 'Request rate limit exceeded.' }, { kind: 'retry_rate_limited' }],
    [
      '429 with Stripe-Should-Retry: false',
      { status: 429, message: 'slow down', shouldRetry: false },
      { kind: 'retry_rate_limited', shouldRetry: false },
    ],
    [
      '400 code rate_limit (SDK treats it as rate limiting)',
      { status: 400, code: 'rate_limit', message: 'slow down' },
      { kind: 'retry_rate_limited' },
    ],
    ['500', { status: 500, rawType: 'api_error', message: 'boom' }, { kind: 'retry_transient', reason: 'server_error' }],
    [
      '503 should-retry false',
      { status: 503, message: 'boom', shouldRetry: false },
      { kind: 'retry_transient', reason: 'server_error', shouldRetry: false },
    ],
    [
      'timeout',
      { type: 'StripeConnectionError', networkCode: 'ETIMEDOUT', message: 'Request aborted due to timeout being reached (50ms)' },
      { kind: 'retry_transient', reason: 'timeout' },
    ],
    [
      'connection reset',
      { type: 'StripeConnectionError', networkCode: 'ECONNRESET', message: 'An error occurred with our connection to Stripe.' },
      { kind: 'retry_transient', reason: 'connection' },
    ],
    [
      '409 idempotency key in use',
      { status: 409, code: 'idempotency_key_in_use', message: 'in progress' },
      { kind: 'retry_transient', reason: 'conflict' },
    ],
    [
      'session expired',
      { status: 401, rawType: 'temporary_session_expired', message: 'expired' },
      { kind: 'retry_transient', reason: 'session_expired' },
    ],
    [
      '4xx with should-retry true',
      { status: 400, message: 'lock', shouldRetry: true },
      { kind: 'retry_transient', reason: 'should_retry' },
    ],
    [
      'unknown customer',
      { status: 400, param: 'payload[stripe_customer_id]', message: "No such customer: 'cus_nope'" },
      { kind: 'permanent', reason: 'unknown_customer', status: 400 },
    ],
    [
      'unknown customer by code',
      { status: 400, code: 'meter_event_customer_not_found', message: 'x' },
      { kind: 'permanent', reason: 'unknown_customer' },
    ],
    [
      'inactive meter',
      { status: 400, message: "The meter mtr_1 for event_name 'e' is inactive and accepts no events." },
      { kind: 'permanent', reason: 'meter_inactive' },
    ],
    ['no meter', { status: 400, message: "No active meter was found for event_name 'e'." }, { kind: 'permanent', reason: 'no_meter' }],
    [
      'timestamp too old',
      { status: 400, param: 'timestamp', message: 'The event timestamp must be within the past 35 calendar days.' },
      { kind: 'permanent', reason: 'timestamp_out_of_window' },
    ],
    [
      'timestamp in future by code',
      { status: 400, code: 'timestamp_in_future', message: 'x' },
      { kind: 'permanent', reason: 'timestamp_out_of_window' },
    ],
    [
      'bad value',
      { status: 400, param: 'payload[value]', message: "payload[value] must be a whole number, got '1.5'." },
      { kind: 'permanent', reason: 'invalid_value' },
    ],
    [
      'same idempotency key, other content',
      { status: 400, rawType: 'idempotency_error', message: 'Keys for idempotent requests can only be used with the same parameters' },
      { kind: 'permanent', reason: 'identifier_conflict' },
    ],
    ['bad key', { status: 401, message: 'Invalid API Key provided: sk_test_****' }, { kind: 'permanent', reason: 'authentication' }],
    ['restricted key', { status: 403, message: 'The provided key does not have access' }, { kind: 'permanent', reason: 'permission' }],
    ['unknown route', { status: 404, message: 'Unrecognized request URL' }, { kind: 'permanent', reason: 'not_found' }],
    [
      'other 400',
      { status: 400, code: 'parameter_unknown', message: 'Received unknown parameter: x' },
      { kind: 'permanent', reason: 'invalid_request' },
    ],
  ];

  it.each(table)('%s', (_name, failure, expected) => {
    // Act
    const result = classifyStripeFailure(failure);
    // Assess
    expect(result).toMatchObject(expected);
  });
});

describe('classifyStripeError on the SDK’s own error objects', () => {
  it('reads status, Stripe-Should-Retry and network codes from SDK errors', () => {
    // Prepare
    const duplicate = Stripe.errors.StripeError.generate({
      statusCode: 400,
      type: 'invalid_request_error',
      message: 'An event already exists with identifier i1.',
      headers: { 'stripe-should-retry': 'false' },
    } as never);
    const limited = new Stripe.errors.StripeRateLimitError({
      statusCode: 429,
      code: 'rate_limit',
      message: 'slow',
      headers: { 'stripe-should-retry': 'true' },
    } as never);
    const timeout = new Stripe.errors.StripeConnectionError({
      message: 'Request aborted due to timeout being reached (50ms)',
      detail: { code: 'ETIMEDOUT' },
    } as never);
    const rawReset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    // Act
    const results = [duplicate, limited, timeout, rawReset, 'weird'].map(classifyStripeError);
    // Assess
    expect(stripeFailureOf(limited)).toMatchObject({ status: 429, code: 'rate_limit', shouldRetry: true, type: 'StripeRateLimitError' });
    expect(stripeFailureOf(rawReset)).toEqual({ message: 'socket hang up', networkCode: 'ECONNRESET' });
    expect(results).toMatchObject([
      { kind: 'delivered', duplicate: true },
      { kind: 'retry_rate_limited', shouldRetry: true },
      { kind: 'retry_transient', reason: 'timeout' },
      { kind: 'retry_transient', reason: 'connection' },
      { kind: 'retry_transient', reason: 'connection' },
    ]);
  });
});

describe('backoffDelayMs (full jitter)', () => {
  const backoff = { baseMs: 100, capMs: 5_000 };

  it('spans [0, min(cap, base * 2^retry)) and grows exponentially until the cap', () => {
    // Act
    const highs = [0, 1, 2, 3, 6, 10].map((retry) => backoffDelayMs(retry, backoff, () => 0.999999));
    // Assess
    expect(highs).toEqual([99, 199, 399, 799, 4_999, 4_999]);
    expect(backoffDelayMs(3, backoff, () => 0)).toBe(0);
    expect(backoffDelayMs(2, backoff, () => 0.5)).toBe(200);
  });

  it('never leaves the window whatever the random source says (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 40 }), fc.double({ min: -1, max: 2, noNaN: true }), (retry, r) => {
        // Act
        const d = backoffDelayMs(retry, backoff, () => r);
        // Assess
        expect(Number.isInteger(d)).toBe(true);
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThan(Math.min(backoff.capMs, backoff.baseMs * 2 ** retry));
      }),
    );
  });
});

describe('retryDecision', () => {
  const policy = { ...DEFAULT_RETRY_POLICY, maxAttempts: 3 };
  const half = () => 0.5;

  it.each([
    ['delivered stops', { kind: 'delivered', duplicate: false }, 1, { retry: false, because: 'done' }],
    ['permanent stops', { kind: 'permanent', reason: 'unknown_customer', message: '' }, 1, { retry: false, because: 'permanent' }],
    [
      'Stripe-Should-Retry: false stops a 429',
      { kind: 'retry_rate_limited', shouldRetry: false, message: '' },
      1,
      { retry: false, because: 'stripe_should_retry_false' },
    ],
    [
      'Stripe-Should-Retry: false stops a 5xx',
      { kind: 'retry_transient', reason: 'server_error', shouldRetry: false, message: '' },
      1,
      { retry: false, because: 'stripe_should_retry_false' },
    ],
    [
      'attempts run out',
      { kind: 'retry_transient', reason: 'server_error', message: '' },
      3,
      { retry: false, because: 'attempts_exhausted' },
    ],
    ['a 429 waits on the rate-limit backoff', { kind: 'retry_rate_limited', message: '' }, 2, { retry: true, delayMs: 1_000 }],
    [
      'a 5xx waits on the transient backoff',
      { kind: 'retry_transient', reason: 'server_error', message: '' },
      1,
      { retry: true, delayMs: 125 },
    ],
    [
      'an expired session retries at once',
      { kind: 'retry_transient', reason: 'session_expired', message: '' },
      1,
      { retry: true, delayMs: 0 },
    ],
  ] as Array<[string, StripeCallClass, number, object]>)('%s', (_name, result, attempts, expected) => {
    // Act
    const decision = retryDecision(result, attempts, policy, half);
    // Assess
    expect(decision).toEqual(expected);
  });
});
