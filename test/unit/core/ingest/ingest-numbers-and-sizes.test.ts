import { describe, expect, it } from 'vitest';
import { fixedClock } from '../../../../contract/clock.js';
import { LIMITS, usageEventSchema, validateEvent } from '../../../../contract/event-contract.js';
import { MAX_MESSAGE_BYTES, packMessages } from '../../../../contract/queue-message.js';
import { ingestEvents } from '../../../../functions/core/ingest/ingest.js';
import { MemoryQuarantine, MemoryQueue, MemoryUserRefs } from '../../../fakes/memory-ports.js';

const clock = fixedClock('2026-11-29T12:00:00Z');
const ctx = { now: clock.now(), newId: () => '01JTEST0000000000000000000' };
const call = (data: Record<string, unknown> = {}, over: Record<string, unknown> = {}) => ({
  specversion: '1.0',
  type: 'com.serenity.api.call',
  source: 'gw',
  subject: 'acme',
  id: 'e1',
  time: '2026-11-29T11:00:00Z',
  data,
  ...over,
});
const errorsOf = (input: unknown) => {
  const r = validateEvent(input, ctx);
  return r.ok ? [] : r.errors;
};

describe('numbers ingest accepts fit exactly in a double (defect 2)', () => {
  it.each([
    ['2**60', 2 ** 60],
    ['2**53', 2 ** 53],
    ['-(2**53)', -(2 ** 53)],
    ['1e308', 1e308],
    ['-1e16', -1e16],
    ['5e-324', 5e-324],
    ['Infinity (JSON 1e400)', JSON.parse('1e400') as number],
  ])('refuses metadata %s, naming the field and the reason', (_name, value) => {
    // Act
    const errors = errorsOf(call({ big: value }));
    // Assess
    expect(errors).toEqual([{ field: 'data.big', message: expect.stringMatching(/^must be a finite number/) }]);
  });

  it.each([0, -0, 1, -3, 0.5, 2 ** 53 - 1, -(2 ** 53 - 1), 1e-9])('keeps metadata %s', (value) => {
    const r = validateEvent(call({ n: value }), ctx);
    expect(r.ok && r.event.metadata?.n).toBe(value);
  });

  it('refuses quantity 1e16 with its bound', () => {
    expect(errorsOf(call({ quantity: 1e16 }))).toEqual([{ field: 'data.quantity', message: `must be at most ${LIMITS.maxQuantity}` }]);
  });

  it('refuses a queued event with metadata 2**60: the SQS path bounds numbers as ingest does', () => {
    // Prepare: an event that never passed ingest
    const queued = { id: 'e', source: 's', customerId: 'c', type: 'com.serenity.api.call', time: '2026-11-29T11:00:00.000Z', quantity: 1 };
    // Act
    const big = usageEventSchema.safeParse({ ...queued, metadata: { big: 2 ** 60 } });
    const fine = usageEventSchema.safeParse({ ...queued, metadata: { n: 2 ** 53 - 1 } });
    // Assess
    expect(big.success).toBe(false);
    expect(fine.success).toBe(true);
  });
});

describe('keys and events are bounded in size (defect 8)', () => {
  it('refuses a 300,000-character metadata key without echoing it', () => {
    // Act
    const r = validateEvent(call({ ['k'.repeat(300_000)]: 1 }), ctx);
    // Assess
    expect(r.ok).toBe(false);
    const errors = r.ok ? [] : r.errors;
    expect(errors).toEqual([
      { field: 'data[key]', message: `has a key of 300000 characters; metadata keys are at most ${LIMITS.maxKeyLength}` },
    ]);
  });

  it('refuses a long extension attribute name and a long key nested anywhere', () => {
    // Act
    const ext = errorsOf(call({}, { ['x'.repeat(1000)]: 'v' }));
    const nested = errorsOf(call({ operation: { ['y'.repeat(5000)]: 'z'.repeat(300) } }));
    // Assess
    expect(ext).toEqual([{ field: '[key]', message: `has a key of 1000 characters; metadata keys are at most ${LIMITS.maxKeyLength}` }]);
    expect(JSON.stringify(nested).length).toBeLessThan(1000);
    expect(nested).toContainEqual({ field: 'data.operation[key]', message: expect.stringMatching(/^has a key of 5000 characters/) });
  });

  it('refuses an event over the size one stored event may take, naming the size', () => {
    // Prepare: every field within its own bound, but three-byte characters throughout
    const wide = '€'.repeat(LIMITS.maxStringLength);
    const data = Object.fromEntries(Array.from({ length: LIMITS.maxMetadataKeys - 1 }, (_, i) => [`${'€'.repeat(60)}${i}`, wide]));
    // Act
    const errors = errorsOf(call({ ...data, operation: wide, apiKeyId: wide }, { id: wide }));
    // Assess
    expect(errors).toEqual([
      { field: '', message: expect.stringMatching(new RegExp(`^is \\d+ bytes as stored; at most ${LIMITS.maxEventBytes}`)) },
    ]);
  });

  it('bounds every accepted event so that it fits a queue message with its envelope and a DynamoDB item', () => {
    // Prepare: the largest event the limits allow, in characters that take the most bytes in JSON
    const wide = '€'.repeat(LIMITS.maxStringLength);
    const big = validateEvent(call({ operation: wide, apiKeyId: wide }, { id: wide, subject: 'acme' }), ctx);
    // Assess
    expect(big.ok).toBe(true);
    expect(LIMITS.maxEventBytes + '{"v":1,"events":[]}'.length).toBeLessThan(MAX_MESSAGE_BYTES - 4 * 1024);
    expect(LIMITS.maxEventBytes * 2).toBeLessThan(400 * 1000);
    if (big.ok) expect(Buffer.byteLength(packMessages([big.event])[0]!.body)).toBeLessThan(MAX_MESSAGE_BYTES);
  });

  it('reports at most a bounded number of errors for one event, so the answer and the quarantine item stay small', () => {
    // Prepare: 5,000 strings SQS would refuse
    const errors = errorsOf(call({ list: Array.from({ length: 5000 }, () => '\u0000') }));
    // Assess
    expect(errors.length).toBeLessThanOrEqual(LIMITS.maxErrorsPerEvent + 1);
    expect(errors.at(-1)).toEqual({ field: '', message: expect.stringMatching(/^and \d+ more problems$/) });
  });
});

describe('ingestEvents with a request over the limits', () => {
  it('rejects a 300,000-character key and enqueues the rest, every valid event in one piece', async () => {
    // Prepare
    const queue = new MemoryQueue();
    const quarantine = new MemoryQuarantine();
    // Act
    const r = await ingestEvents(
      { requestId: 'r', events: [call({}, { id: 'ok' }), call({ ['k'.repeat(300_000)]: 1 }, { id: 'long' })] },
      { queue, quarantine, clock, newId: ctx.newId, userRefs: new MemoryUserRefs() },
    );
    // Assess
    expect(r.accepted).toEqual([{ id: 'ok' }]);
    expect(r.rejected.map((x) => [x.index, x.id, x.errors[0]?.field])).toEqual([[1, 'long', 'data[key]']]);
    expect(queue.bodies.every((b) => Buffer.byteLength(b) < MAX_MESSAGE_BYTES)).toBe(true);
    expect(JSON.stringify([...quarantine.items.values()]).length).toBeLessThan(40_000);
  });
});

describe('hostile keys', () => {
  it.each(['__proto__', 'constructor', 'prototype'])('refuses metadata named %s rather than dropping it silently', (name) => {
    // Prepare: JSON.parse makes "__proto__" an own key, which plain assignment would drop
    const input = JSON.parse(
      `{"specversion":"1.0","type":"com.serenity.api.call","source":"gw","subject":"acme","id":"e1","time":"2026-11-29T11:00:00Z","data":{"${name}":"x"}}`,
    );
    // Act
    const errors = errorsOf(input);
    // Assess
    expect(errors).toEqual([{ field: `data.${name}`, message: 'is a reserved name and cannot be a metadata field' }]);
  });

  it('refuses a key SQS could not carry (a lone surrogate or a control character), as it refuses such values', () => {
    // Act
    const surrogate = errorsOf(call({ 'a\ud800': 'x' }));
    const control = errorsOf(call({}, { 'b\u0001': 'x' }));
    // Assess
    expect(surrogate).toEqual([
      { field: 'data[key]', message: expect.stringMatching(/^has a key holding a control or non-character code point/) },
    ]);
    expect(control).toEqual([
      { field: '[key]', message: expect.stringMatching(/^has a key holding a control or non-character code point/) },
    ]);
  });
});

describe('quarantining hostile input in bounded time', () => {
  it.each([
    ['a 300,000-character key and a 500,000-character value', 300_000, 125_000, 'only its top-level attributes are kept'],
    ['a 1,000-character key and a 20,000-character value', 1_000, 5_000, '[key of 1000 characters]'],
  ])(
    'quarantines an event with %s within seconds, clipped',
    async (_name, keyLength, repeats, kept) => {
      // Prepare
      const quarantine = new MemoryQuarantine();
      const started = Date.now();
      // Act
      const r = await ingestEvents(
        { requestId: 'r', events: [call({ ['k'.repeat(keyLength)]: 1, note: 'a b@'.repeat(repeats) }, { id: 'long' })] },
        { queue: new MemoryQueue(), quarantine, clock, newId: ctx.newId, userRefs: new MemoryUserRefs() },
      );
      // Assess
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(r.rejected.map((x) => x.id)).toEqual(['long']);
      const item = [...quarantine.items.values()][0];
      const stored = JSON.stringify(item?.raw);
      expect(stored.length).toBeLessThan(10_000);
      expect(stored).toContain(kept);
      expect(item?.replayable).toBe(false);
    },
    10_000,
  );
});

describe('the cut a long rejected value gets', () => {
  it.each([
    ['a metadata value', (note: string) => call({ note })],
    ['a top-level value of an over-sized event', (note: string) => ({ ...call(), note, pad: 'p '.repeat(200_000) })],
  ])('drops the word the cut splits in %s: no half e-mail address is kept', async (_name, make) => {
    // Prepare: an address straddling every cut ingest might make (320 and 256 characters)
    const quarantine = new MemoryQuarantine();
    const note = `${'w '.repeat(125)}jane.doe@example.com ${'v '.repeat(20)}jane.roe@example.com ${'z '.repeat(400)}`;
    // Act
    await ingestEvents(
      { requestId: 'r', events: [make(note)] },
      { queue: new MemoryQueue(), quarantine, clock, newId: ctx.newId, userRefs: new MemoryUserRefs() },
    );
    // Assess
    const stored = JSON.stringify([...quarantine.items.values()][0]?.raw);
    expect(stored).toContain('w w w');
    expect(stored).not.toMatch(/jane|exam|\[redac"/);
  });
});

describe('validating hostile input in bounded time', () => {
  it.each([
    ['a metadata value', { note: 'x'.repeat(1_000_000) }, {}],
    ['an id', {}, { id: 'x'.repeat(1_000_000) }],
  ])('refuses %s of 1,000,000 characters within a second, for its length', (_name, data, over) => {
    // Act
    const started = Date.now();
    const errors = errorsOf(call(data, over));
    // Assess
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(errors).toEqual([{ field: expect.any(String), message: `must be at most ${LIMITS.maxStringLength} characters` }]);
  });
});

describe('deeply nested input', () => {
  it('rejects and quarantines an event nested 100,000 arrays deep without overflowing the stack', async () => {
    // Prepare
    const quarantine = new MemoryQuarantine();
    const deep = JSON.parse(`${'['.repeat(100_000)}${']'.repeat(100_000)}`) as unknown;
    // Act
    const r = await ingestEvents(
      { requestId: 'r', events: [deep] },
      { queue: new MemoryQueue(), quarantine, clock, newId: ctx.newId, userRefs: new MemoryUserRefs() },
    );
    // Assess
    expect(r.rejected).toEqual([{ index: 0, errors: [{ field: '', message: 'must be a JSON object (a CloudEvent)' }] }]);
    expect(quarantine.items.size).toBe(1);
  });
});
