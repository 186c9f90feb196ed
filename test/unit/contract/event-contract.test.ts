import { describe, expect, it } from 'vitest';
import { redactForStorage, toCloudEvent, type ValidateResult, validateEvent } from '../../../contract/event-contract.js';

const NOW = Date.parse('2026-11-29T12:00:00Z');
const ctx = { now: NOW, newId: () => '01JGENERATED0000000000000' };
const base = {
  specversion: '1.0',
  type: 'com.serenity.api.call',
  source: 'gw',
  subject: 'acme',
  id: 'e1',
  time: '2026-11-29T11:59:00Z',
  data: {},
};
const errorsOf = (r: ValidateResult) => (r.ok ? [] : r.errors);

describe('validateEvent', () => {
  it('normalises a good API call: default quantity 1, UTC time, truncated IP', () => {
    // Act
    const r = validateEvent({ ...base, time: '2026-11-29T12:59:00+01:00', data: { clientIp: '203.0.113.9', operation: 'encrypt' } }, ctx);
    // Assess
    expect(r).toEqual({
      ok: true,
      generatedId: false,
      event: {
        id: 'e1',
        source: 'gw',
        customerId: 'acme',
        type: 'com.serenity.api.call',
        time: '2026-11-29T11:59:00.000Z',
        quantity: 1,
        operation: 'encrypt',
        ipPrefix: '203.0.113.0/24',
      },
    });
  });

  it('generates an id when absent and says so', () => {
    const { id: _id, ...noId } = base;
    const r = validateEvent(noId, ctx);
    expect(r.ok && r.event.id).toBe('01JGENERATED0000000000000');
    expect(r.ok && r.generatedId).toBe(true);
  });

  it.each([
    ['time too old', { time: '2026-10-24T11:00:00Z' }, 'time', 'is more than 35 days in the past; Stripe cannot bill it'],
    ['time in the future', { time: '2026-11-29T12:06:00Z' }, 'time', 'is more than 5 minutes in the future'],
    [
      'time without zone',
      { time: '2026-11-29T11:00:00' },
      'time',
      'must be an RFC 3339 timestamp with a time zone, e.g. 2026-01-31T12:00:00Z',
    ],
    [
      'unknown type',
      { type: 'com.serenity.other' },
      'type',
      'is unknown; expected one of com.serenity.api.call, com.serenity.user.active, com.serenity.file.protected, com.serenity.file.unprotected',
    ],
    ['missing subject', { subject: undefined }, 'subject', 'is required'],
    ['numeric source', { source: 42 }, 'source', 'must be a string'],
    ['fractional quantity', { data: { quantity: 1.5 } }, 'data.quantity', 'must be an integer'],
    ['zero quantity', { data: { quantity: 0 } }, 'data.quantity', 'must be at least 1'],
    ['huge quantity', { data: { quantity: 1_000_001 } }, 'data.quantity', 'must be at most 1000000'],
    ['long string', { data: { operation: 'x'.repeat(257) } }, 'data.operation', 'must be at most 256 characters'],
    ['city-level region', { data: { region: 'Berlin' } }, 'data.region', 'must be an ISO 3166-2 state-level code such as "US-CA"'],
    ['bad IP', { data: { clientIp: '300.1.1.1' } }, 'data.clientIp', 'must be an IPv4 or IPv6 address'],
    ['nested metadata', { data: { extra: { a: 1 } } }, 'data.extra', 'metadata values must be strings, numbers or booleans'],
    ['wrong specversion', { specversion: '0.3' }, 'specversion', 'must be "1.0"'],
    [
      '29 February in a common year',
      { time: '2026-02-29T10:00:00Z' },
      'time',
      'must be an RFC 3339 timestamp with a time zone, e.g. 2026-01-31T12:00:00Z',
    ],
    ['hour 24', { time: '2026-11-28T24:00:00Z' }, 'time', 'must be an RFC 3339 timestamp with a time zone, e.g. 2026-01-31T12:00:00Z'],
    ['30 February', { time: '2026-02-30T10:00:00Z' }, 'time', 'must be an RFC 3339 timestamp with a time zone, e.g. 2026-01-31T12:00:00Z'],
    [
      'a city as metadata',
      { data: { city: 'Berlin' } },
      'data.city',
      'is finer than state-level geography, which is not stored; send data.country and data.region',
    ],
    [
      'a non-character SQS refuses',
      { data: { fileId: 'f\uFFFE' }, type: 'com.serenity.file.protected' },
      'data.fileId',
      'holds a control or non-character code point (U+0000-U+001F other than tab and newlines, U+FFFE, U+FFFF or a lone surrogate)',
    ],
    [
      'a lone surrogate',
      { data: { operation: 'x\uD800' } },
      'data.operation',
      'holds a control or non-character code point (U+0000-U+001F other than tab and newlines, U+FFFE, U+FFFF or a lone surrogate)',
    ],
    [
      'a postal code as an attribute',
      { postalcode: '10115' },
      'postalcode',
      'is finer than state-level geography, which is not stored; send data.country and data.region',
    ],
  ])('rejects %s naming the field and the reason', (_name, patch, field, message) => {
    // Act
    const r = validateEvent({ ...base, ...patch }, ctx);
    // Assess
    expect(errorsOf(r)).toContainEqual({ field, message });
  });

  it('requires userId and fileId for their types', () => {
    expect(errorsOf(validateEvent({ ...base, type: 'com.serenity.user.active', data: {} }, ctx))).toEqual([
      { field: 'data.userId', message: 'is required' },
    ]);
    expect(errorsOf(validateEvent({ ...base, type: 'com.serenity.file.protected', data: { fileId: 7 } }, ctx))).toEqual([
      { field: 'data.fileId', message: 'must be a string' },
    ]);
  });

  it('reports every problem at once', () => {
    const r = validateEvent({ specversion: '1.0', type: 'x', time: 'yesterday' }, ctx);
    expect(
      errorsOf(r)
        .map((e) => e.field)
        .sort(),
    ).toEqual(['source', 'subject', 'time', 'type']);
  });

  it('rejects a card-number-like metadata value without echoing it', () => {
    // Act
    const r = validateEvent({ ...base, data: { note: 'card 4111-1111-1111-1111' } }, ctx);
    // Assess
    expect(r.ok).toBe(false);
    expect(!r.ok && r.containsCardNumber).toBe(true);
    expect(JSON.stringify(r)).not.toContain('1111');
  });

  it.each([
    ['nested in an object', { ...base, data: { x: { pan: '4111111111111111' } } }],
    ['in an array', { ...base, data: { cards: ['4111 1111 1111 1111'] } }],
    ['as the whole data', { ...base, data: '4111 1111 1111 1111' }],
    ['as a key', { ...base, data: { '4111111111111111': true } }],
  ])('finds a card number %s, rejects the event and never echoes it', (_name, event) => {
    // Act
    const r = validateEvent(event, ctx);
    // Assess
    expect(r.ok).toBe(false);
    expect(!r.ok && r.containsCardNumber).toBe(true);
    expect(JSON.stringify(r)).not.toContain('1111');
  });

  it('keeps only the network prefix of an address sent as metadata', () => {
    // Act
    const r = validateEvent(
      { ...base, type: 'com.serenity.user.active', data: { userId: 'u1', clientIp: '203.0.113.77' }, peerip: '2001:db8:abcd:1234::1' },
      ctx,
    );
    // Assess
    expect(r.ok && r.event.metadata).toEqual({ clientIp: '203.0.113.0/24', peerip: '2001:db8:abcd::/48' });
  });

  it("takes the key's bound source for a null source, as for a missing one", () => {
    // Act
    const r = validateEvent({ ...base, source: null }, { ...ctx, boundSource: 'gw-bound' });
    // Assess
    expect(r.ok && r.event.source).toBe('gw-bound');
  });

  it('stores a rejected event without card numbers, full addresses or fine geography, and replayably', () => {
    // Prepare
    const raw = {
      ...base,
      subject: undefined,
      data: { clientIp: '198.51.100.23', city: 'Berlin', nested: { card: '4111 1111 1111 1111', at: ['10.1.2.3'] } },
    };

    // Act
    const kept = redactForStorage(raw) as typeof base & { data: Record<string, unknown> };
    const replayed = validateEvent({ ...kept, subject: 'acme', data: { clientIp: kept.data.clientIp } }, ctx);

    // Assess
    expect(kept.data).toEqual({ clientIp: '198.51.100.0', nested: { card: '[redacted: card number]', at: ['10.1.2.0'] } });
    expect(JSON.stringify(kept)).not.toMatch(/1111|198\.51\.100\.23|Berlin/);
    expect(replayed.ok && replayed.event.ipPrefix).toBe('198.51.100.0/24');
  });

  it('does not treat a 16-digit number failing Luhn as a card', () => {
    const r = validateEvent({ ...base, data: { orderNo: '4111111111111112' } }, ctx);
    expect(r.ok).toBe(true);
  });

  it('round-trips through toCloudEvent without the full IP', () => {
    // Prepare
    const first = validateEvent({ ...base, data: { clientIp: '2001:db8:85a3:8d3::7348', quantity: 4, country: 'DE' } }, ctx);
    if (!first.ok) throw new Error('fixture invalid');
    // Act
    const again = validateEvent(toCloudEvent(first.event), ctx);
    // Assess
    expect(again.ok && again.event).toEqual(first.event);
  });
});
