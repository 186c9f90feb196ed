import { describe, expect, it } from 'vitest';
import { validateEvent, toCloudEvent, type ValidateResult } from '../../functions/core/event-contract.js';

const NOW = Date.parse('2026-11-29T12:00:00Z');
const ctx = { now: NOW, newId: () => '01JGENERATED0000000000000' };
const base = { specversion: '1.0', type: 'com.serenity.api.call', source: 'gw', subject: 'acme', id: 'e1', time: '2026-11-29T11:59:00Z', data: {} };
const errorsOf = (r: ValidateResult) => (r.ok ? [] : r.errors);

describe('validateEvent', () => {
  it('normalises a good API call: default quantity 1, UTC time, truncated IP', () => {
    // Act
    const r = validateEvent({ ...base, time: '2026-11-29T12:59:00+01:00', data: { clientIp: '203.0.113.9', operation: 'encrypt' } }, ctx);
    // Assess
    expect(r).toEqual({
      ok: true,
      generatedId: false,
      event: { id: 'e1', source: 'gw', customerId: 'acme', type: 'com.serenity.api.call', time: '2026-11-29T11:59:00.000Z', quantity: 1, operation: 'encrypt', ipPrefix: '203.0.113.0/24' },
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
    ['time without zone', { time: '2026-11-29T11:00:00' }, 'time', 'must be an RFC 3339 timestamp with a time zone, e.g. 2026-01-31T12:00:00Z'],
    ['unknown type', { type: 'com.serenity.other' }, 'type', 'is unknown; expected one of com.serenity.api.call, com.serenity.user.active, com.serenity.file.protected, com.serenity.file.unprotected'],
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
  ])('rejects %s naming the field and the reason', (_name, patch, field, message) => {
    // Act
    const r = validateEvent({ ...base, ...patch }, ctx);
    // Assess
    expect(errorsOf(r)).toContainEqual({ field, message });
  });

  it('requires userId and fileId for their types', () => {
    expect(errorsOf(validateEvent({ ...base, type: 'com.serenity.user.active', data: {} }, ctx))).toEqual([{ field: 'data.userId', message: 'is required' }]);
    expect(errorsOf(validateEvent({ ...base, type: 'com.serenity.file.protected', data: { fileId: 7 } }, ctx))).toEqual([{ field: 'data.fileId', message: 'must be a string' }]);
  });

  it('reports every problem at once', () => {
    const r = validateEvent({ specversion: '1.0', type: 'x', time: 'yesterday' }, ctx);
    expect(errorsOf(r).map((e) => e.field).sort()).toEqual(['source', 'subject', 'time', 'type']);
  });

  it('rejects a card-number-like metadata value without echoing it', () => {
    // Act
    const r = validateEvent({ ...base, data: { note: 'card 4111-1111-1111-1111' } }, ctx);
    // Assess
    expect(r.ok).toBe(false);
    expect(!r.ok && r.containsCardNumber).toBe(true);
    expect(JSON.stringify(r)).not.toContain('1111');
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
