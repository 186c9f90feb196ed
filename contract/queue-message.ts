import { createHash } from 'node:crypto';
import type { FieldError } from './errors.js';
import { eventKey, type UsageEvent, usageEventSchema } from './event-contract.js';

/** SQS's message size limit; a packed message stays below it with room for attributes. */
export const MAX_MESSAGE_BYTES = 256 * 1024;
const PACK_BUDGET_BYTES = MAX_MESSAGE_BYTES - 4 * 1024;

/** The body of one queue message: contract version and the normalised events it carries. */
export interface QueueMessage {
  v: 1;
  events: UsageEvent[];
}

/** A packed message with the indexes (into the input array) of the events it carries. */
export interface PackedMessage {
  body: string;
  indexes: number[];
  customerIds: string[];
}

/**
 * Packs events into as few queue messages as fit the size limit. Events are grouped by customer,
 * so that a message usually touches one customer's partitions; order within a customer is kept.
 */
export function packMessages(events: readonly UsageEvent[], budgetBytes = PACK_BUDGET_BYTES): PackedMessage[] {
  const order = events.map((_e, i) => i).sort((a, b) => cmp(events[a]!.customerId, events[b]!.customerId) || a - b);
  const out: PackedMessage[] = [];
  const header = '{"v":1,"events":[]}'.length;
  let cur: { parts: string[]; indexes: number[]; bytes: number; customers: Set<string> } | undefined;
  for (const i of order) {
    const json = JSON.stringify(events[i]);
    const size = Buffer.byteLength(json) + 1;
    if (!cur || cur.bytes + size > budgetBytes) {
      if (cur) out.push(finish(cur));
      cur = { parts: [], indexes: [], bytes: header, customers: new Set() };
    }
    cur.parts.push(json);
    cur.indexes.push(i);
    cur.bytes += size;
    cur.customers.add(events[i]!.customerId);
  }
  if (cur) out.push(finish(cur));
  return out;
}

function finish(c: { parts: string[]; indexes: number[]; customers: Set<string> }): PackedMessage {
  return { body: `{"v":1,"events":[${c.parts.join(',')}]}`, indexes: c.indexes, customerIds: [...c.customers] };
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The message's identity, derived from the events it carries (never from SQS's message id):
 * the same events packed the same way give the same key on every redelivery.
 */
export function messageKey(events: readonly Pick<UsageEvent, 'source' | 'id'>[]): string {
  const h = createHash('sha256');
  for (const k of events.map(eventKey).sort()) h.update(k).update('\n');
  return h.digest('base64url').slice(0, 22);
}

export interface ParsedMessage {
  events: UsageEvent[];
  invalid: { index: number; raw: unknown; errors: FieldError[] }[];
}

/** Parses a queue message body; each event is re-checked against the shared schema. */
export function parseMessage(body: string): ParsedMessage {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return { events: [], invalid: [{ index: -1, raw: body.slice(0, 2048), errors: [{ field: 'body', message: 'is not valid JSON' }] }] };
  }
  const msg = parsed as Partial<QueueMessage>;
  if (typeof msg !== 'object' || msg === null || msg.v !== 1 || !Array.isArray(msg.events)) {
    return {
      events: [],
      invalid: [{ index: -1, raw: body.slice(0, 2048), errors: [{ field: 'body', message: 'is not a v1 queue message' }] }],
    };
  }
  const out: ParsedMessage = { events: [], invalid: [] };
  msg.events.forEach((raw, index) => {
    const r = usageEventSchema.safeParse(raw);
    if (r.success) out.events.push(r.data);
    else out.invalid.push({ index, raw, errors: r.error.issues.map((i) => ({ field: i.path.join('.'), message: i.message })) });
  });
  return out;
}
