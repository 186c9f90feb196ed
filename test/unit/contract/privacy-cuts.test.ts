import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { redactForStorage, type UsageEvent, validateEvent } from '../../../contract/event-contract.js';
import { looksLikeCardNumber, truncateIp } from '../../../contract/privacy.js';
import { parseMessage } from '../../../contract/queue-message.js';
import { consumeMessage } from '../../../functions/core/count/consume.js';
import { ingestEvents } from '../../../functions/core/ingest/ingest.js';
import { apiCall, userActive } from '../../fakes/events.js';
import { customersOf, MemoryEventStore, MemoryQuarantine, MemoryQueue, MemoryUserRefs } from '../../fakes/memory-ports.js';
import { addressWriting, cardWriting, coordinatesWriting, emailWriting, GEOGRAPHY_KEYS } from '../../fakes/privacy-arbitraries.js';
import { leaksInValue } from '../../fakes/stored-bytes.js';

const NOW = Date.parse('2026-12-02T12:00:00Z');
const ctx = { now: NOW, newId: () => 'generated' };
const at = (e: Record<string, unknown>) => ({ ...e, time: '2026-12-02T11:00:00Z' });
const leaks = (v: unknown) => leaksInValue(v, 'test').map((l) => `${l.kind} ${l.found}`);
const validMeta = (data: Record<string, unknown>) => {
  const r = validateEvent(at(apiCall('c1', {}, data)), ctx);
  if (!r.ok) throw new Error(`rejected: ${JSON.stringify(r.errors)}`);
  return r.event;
};
const fieldsOf = (data: Record<string, unknown>, over: Record<string, unknown> = {}) => {
  const r = validateEvent(at(apiCall('c1', over, data)), ctx);
  return r.ok ? [] : r.errors.map((e) => e.field);
};

describe('defect 4: addresses in any writing keep only their network prefix', () => {
  it.each([
    ['2002:cb00:714d::1', '203.0.113.0/24'],
    ['2002:CB00:714D:1::5', '203.0.113.0/24'],
    ['64:ff9b::203.0.113.77', '203.0.113.0/24'],
    ['64:ff9b::cb00:714d', '203.0.113.0/24'],
    ['[2001:db8::1]:443', '2001:db8:0::/48'],
    ['203.0.113.77:443', '203.0.113.0/24'],
    ['fe80::1%eth0', 'fe80:0:0::/48'],
  ])('truncateIp(%s) is %s', (ip, prefix) => {
    expect(truncateIp(ip)).toBe(prefix);
  });

  it('cuts a full IPv4 and an IPv6 address, with ports and in X-Forwarded-For lists, in metadata', () => {
    // Act
    const e = validMeta({ forwarded: '203.0.113.77, 198.51.100.9', peer: '[2001:db8::1]:443', v6: '2001:db8:85a3::8a2e:370:7334' });
    // Assess
    expect(e.metadata).toEqual({ forwarded: '203.0.113.0/24, 198.51.100.0/24', peer: '2001:db8:0::/48', v6: '2001:db8:85a3::/48' });
  });

  it('cuts a 6to4 address to the /24 of the IPv4 address its /48 holds', () => {
    // Act
    const e = validMeta({ clientIp: '2002:cb00:714d::1', relay: 'via 2002:cb00:714d::1' });
    // Assess
    expect(e.ipPrefix).toBe('203.0.113.0/24');
    expect(e.metadata).toEqual({ relay: 'via 203.0.113.0/24' });
  });

  it('accepts a client address with a port or a zone, keeping its prefix', () => {
    expect(validMeta({ clientIp: '203.0.113.77:443' }).ipPrefix).toBe('203.0.113.0/24');
    expect(validMeta({ clientIp: '[2001:db8::1]:8443' }).ipPrefix).toBe('2001:db8:0::/48');
  });

  it('finds card numbers written with dots, double spaces, dashes or mixed separators, or after another number', () => {
    for (const text of [
      '4111.1111.1111.1111',
      '5555  5555  5555  4444',
      '4111-1111 1111.1111',
      'qty 12 4111 1111 1111 1111',
      '3782 822463 10005',
    ]) {
      expect(looksLikeCardNumber(text), text).toBe(true);
    }
    expect(looksLikeCardNumber('version 1.2.3')).toBe(false);
    expect(looksLikeCardNumber(0.1234567890123)).toBe(false);
  });

  it('rejects an event with a card number written with dots or double spaces, naming the field', () => {
    expect(fieldsOf({ note: 'card 4111.1111.1111.1111' })).toEqual(['data.note']);
    expect(fieldsOf({ note: 'card 5555  5555  5555  4444' })).toEqual(['data.note']);
  });

  it('redacts an e-mail address in a metadata value and rejects one as a user id', () => {
    // Act
    const e = validMeta({ contact: 'write to jane.doe@example.com today' });
    const user = validateEvent(at(userActive('c1', 'jane.doe@example.com')), ctx);
    // Assess
    expect(e.metadata).toEqual({ contact: 'write to [redacted: e-mail] today' });
    expect(user.ok).toBe(false);
    expect(!user.ok && user.errors).toEqual([{ field: 'data.userId', message: expect.stringContaining('e-mail') }]);
    expect(JSON.stringify(user)).not.toContain('jane.doe');
  });

  it('redacts coordinates in a metadata value and rejects fine-geography names in every common spelling', () => {
    // Act
    const e = validMeta({ where: '37.7749,-122.4194', also: '37.7749 -122.4194' });
    // Assess
    expect(e.metadata).toEqual({ where: '[redacted: coordinates]', also: '[redacted: coordinates]' });
    for (const key of GEOGRAPHY_KEYS) expect(fieldsOf({ [key]: 'x' }), key).toEqual([`data.${key}`]);
    expect(fieldsOf({ ipAddress: 'x', emailAddress: 'x' })).toEqual([]);
  });

  it('rejects an address, an e-mail or a card number as an id, user id, file id, operation or key id', () => {
    expect(fieldsOf({ operation: '203.0.113.77' })).toEqual(['data.operation']);
    expect(fieldsOf({ apiKeyId: 'ops@example.org' })).toEqual(['data.apiKeyId']);
    expect(fieldsOf({}, { id: '2001:db8::1' })).toEqual(['id']);
    expect(fieldsOf({}, { subject: '203.0.113.77' })).toEqual(['subject']);
    const user = validateEvent(at(userActive('c1', '198.51.100.23')), ctx);
    expect(!user.ok && user.errors.map((x) => x.field)).toEqual(['data.userId']);
  });

  it('keeps nothing forbidden of any rejected event it stores (property)', () => {
    const anywhere = fc.oneof(addressWriting, cardWriting, emailWriting, coordinatesWriting);
    fc.assert(
      fc.property(anywhere, fc.constantFrom(...GEOGRAPHY_KEYS), (s, geo) => {
        const raw = at(apiCall('c1', { [s]: s, id: s }, { note: `x ${s} y`, [geo]: s, nested: { list: [s], [s]: 1 } }));
        expect(leaks(redactForStorage(raw))).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it('accepts nothing forbidden in the event it keeps (property)', () => {
    const anywhere = fc.oneof(addressWriting, cardWriting, emailWriting, coordinatesWriting);
    fc.assert(
      fc.property(anywhere, fc.constantFrom('note', 'operation', 'apiKeyId', 'clientIp', 'key'), (s, where) => {
        const data = where === 'key' ? { [s]: 1 } : { [where]: s };
        const r = validateEvent(at(apiCall('c1', {}, data)), ctx);
        expect(leaks(r)).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });
});

describe('defect 3: field names in errors never carry a card number (or an address or e-mail)', () => {
  it('masks a card-number key in the error field, the answer and the quarantined errors', async () => {
    // Prepare
    const quarantine = new MemoryQuarantine();
    const deps = { queue: new MemoryQueue(), quarantine, clock: { now: () => NOW }, newId: () => 'x', userRefs: new MemoryUserRefs() };
    const events = [
      at(apiCall('c1', {}, { '4111111111111111': { nested: 1 } })),
      at(apiCall('c1', {}, { 'card 4111-1111-1111-1111': { nested: true } })),
      at(apiCall('c1', {}, { 'ops@example.org': 'x', '203.0.113.77': 'y' })),
    ];
    // Act
    const r = await ingestEvents({ requestId: 'r1', events }, deps);
    const stored = await quarantine.list();
    // Assess
    expect(JSON.stringify([r, stored]).match(/"field":"[^"]*4111[^"]*"/g) ?? []).toEqual([]);
    expect(r.rejected[0]!.errors.map((e) => e.field)).toContain('data.[card number]');
    expect(r.rejected).toHaveLength(3);
    expect(leaks(r)).toEqual([]);
    expect(leaks(stored)).toEqual([]);
  });

  it('masks them in the errors of an event the consumer rejects', async () => {
    // Prepare
    const body = JSON.stringify({ v: 1, events: [{ ...base(), metadata: { '4111 1111 1111 1111': { deep: 1 } } }] });
    const quarantine = new MemoryQuarantine();
    // Act
    await consumeMessage(body, parseMessage(body), consumeDeps(quarantine));
    // Assess
    const stored = await quarantine.list();
    expect(stored).toHaveLength(1);
    expect(leaks(stored)).toEqual([]);
  });
});

const base = (): UsageEvent => ({
  id: 'p-1',
  source: 'producer',
  customerId: 'c1',
  type: 'com.serenity.api.call',
  time: '2026-12-02T11:00:00.000Z',
  quantity: 1,
});
const consumeDeps = (quarantine = new MemoryQuarantine(), events = new MemoryEventStore()) => ({
  events,
  usage: { putFragments: async () => {}, fragments: async () => [] },
  customers: customersOf(['c1']),
  quarantine,
  clock: { now: () => NOW },
  markLate: async () => {},
  userRefs: new MemoryUserRefs(),
});

describe('defect 7: the consumer applies the same privacy cuts as ingest', () => {
  async function consume(events: unknown[] | string) {
    const body = typeof events === 'string' ? events : JSON.stringify({ v: 1, events });
    const quarantine = new MemoryQuarantine();
    const store = new MemoryEventStore();
    const r = await consumeMessage(body, parseMessage(body), consumeDeps(quarantine, store));
    return { r, stored: await store.listDay('c1', '2026-12-02'), quarantined: await quarantine.list() };
  }

  it('cuts a full address sent as ipPrefix and refuses an ipPrefix that is no address', async () => {
    // Act
    const { stored, quarantined } = await consume([
      { ...base(), id: 'a', ipPrefix: '198.51.100.23' },
      { ...base(), id: 'b', ipPrefix: '2002:cb00:714d::1' },
      { ...base(), id: 'c', ipPrefix: 'jane.doe@example.com' },
    ]);
    // Assess
    expect(stored.map((e) => e.ipPrefix)).toEqual(['198.51.100.0/24', '203.0.113.0/24']);
    expect(quarantined.map((q) => q.errors.map((e) => e.field))).toEqual([['ipPrefix']]);
    expect(leaks(quarantined)).toEqual([]);
  });

  it('scans metadata: cuts addresses, e-mails and coordinates, refuses card numbers and fine geography', async () => {
    // Act
    const { stored, quarantined } = await consume([
      { ...base(), id: 'a', metadata: { fwd: '203.0.113.77, 2001:db8::1', mail: 'ops@example.org', at: '37.7749 -122.4194' } },
      { ...base(), id: 'b', metadata: { card: '4111.1111.1111.1111' } },
      { ...base(), id: 'c', metadata: { zip: '94103' } },
      { ...base(), id: 'd', userId: '203.0.113.77', type: 'com.serenity.user.active' },
    ]);
    // Assess
    expect(stored.map((e) => e.metadata)).toEqual([
      { fwd: '203.0.113.0/24, 2001:db8:0::/48', mail: '[redacted: e-mail]', at: '[redacted: coordinates]' },
    ]);
    expect(quarantined.map((q) => q.errors[0]!.field).sort()).toEqual(['metadata.card', 'metadata.zip', 'userId']);
    expect(leaks(quarantined)).toEqual([]);
  });

  it('never stores what a producer sent outside the schema, or a body that is not a message, as sent', async () => {
    // Act
    const invalid = await consume([{ ...base(), clientIp: '203.0.113.77', note: 'jane.doe@example.com' }]);
    const junk = await consume('not json 203.0.113.77 4111 1111 1111 1111 ops@example.org 37.7749,-122.4194');
    const other = await consume(JSON.stringify({ v: 2, city: 'Springfield', peer: '2001:db8::1' }));
    // Assess
    expect(invalid.quarantined).toHaveLength(1);
    expect(junk.quarantined).toHaveLength(1);
    expect(leaks([invalid.quarantined, junk.quarantined, other.quarantined])).toEqual([]);
    expect(JSON.stringify(other.quarantined)).not.toContain('Springfield');
  });
});

describe('the stored form of what a producer sent, whatever its size', () => {
  it('redacts a 200,000-character value in bounded time, keeping its head and cutting what the head holds', () => {
    // Prepare: a queued event the schema refuses (the consumer quarantines its raw form) with one huge value
    const huge = `mail jane.doe@example.com from 203.0.113.77 ${'a'.repeat(200_000)}`;
    const split = `${'b '.repeat(505)}jane.doe@example.com ${'c'.repeat(2_000)}`; // the cut falls inside the address
    // Act (this took 265 s before values were cut to their head: far past a consumer invocation's 30 s)
    const stored = JSON.stringify(redactForStorage({ note: huge, dotted: '1.'.repeat(100_000), split }));
    // Assess: only heads kept, nothing personal in them, and no half address left by the cut
    expect(stored.length).toBeLessThan(4_000);
    expect(stored).not.toContain('jane.doe@');
    expect(stored).not.toContain('jane.doe@example.com');
    expect(stored).not.toContain('203.0.113.77');
    expect(stored).toContain('[cut:');
  });
});
