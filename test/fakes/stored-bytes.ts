import { isIPv6 } from 'node:net';
import { type AttributeValue, ListTablesCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { ChangeMessageVisibilityCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { CLOSE_QUEUE, EVENT_QUEUE } from '../../functions/resources.js';
import type { LocalStack } from '../../local/stack.js';

/**
 * An independent leak scanner: it reads every byte the local stack stored (every DynamoDB table, item by item with
 * keys, the event, close and dead-letter queues, and the captured logs) and looks for what the privacy policy forbids.
 * It shares no code with `contract/privacy.ts` on purpose: a check built on the code it checks cannot fail.
 */

export interface Leak {
  kind: 'ipv4' | 'ipv6' | 'ipv4-in-ipv6' | 'card' | 'email' | 'coordinates' | 'geography-key';
  where: string;
  found: string;
}

// Four dotted decimal octets not inside a longer number. One whose last octet is 0 is a /24's network address.
const IPV4 = /(?<!\d)(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?!\d)/g;
// Runs of the characters an IPv6 address (with a dotted tail) is written with.
const V6_RUN = /[0-9A-Fa-f:.]+/g;
// Digits joined by the separators people write card numbers with (1-3 of space, dot, dash, underscore, slash, NBSP).
const DIGIT_RUN = /\d+(?:[ .\-_/\u00a0]{1,3}\d+)*/g;
const CARD_BRAND = /^(4|5[1-5]|2[2-7]|3[0-9]|6)/;
const EMAIL = /[^\s@<>"'(),;:[\]\\]@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+/g;
const COORDINATES = /(?<![\d.])([-+]?\d{1,3}\.\d{2,})\s*[,; ]\s*([-+]?\d{1,3}\.\d{2,})(?![\d.])/g;
const GEO_WORDS = new Set([
  'city',
  'town',
  'postal',
  'postcode',
  'postalcode',
  'zip',
  'zipcode',
  'lat',
  'lng',
  'lon',
  'latitude',
  'longitude',
  'coord',
  'coords',
  'coordinates',
  'geo',
  'geolocation',
  'location',
  'street',
  'streetaddress',
  'address',
  'addr',
  'latlng',
  'latlon',
]);

function luhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return sum % 10 === 0;
}

function expand(v6: string): number[] {
  let text = v6;
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [left, right] = text.split('::') as [string, string | undefined];
  const l = left ? left.split(':') : [];
  const r = right ? right.split(':') : [];
  const zeros = right === undefined ? [] : Array(8 - l.length - r.length).fill('0');
  return [...l, ...zeros, ...r].map((g) => parseInt(g, 16));
}

/** Every leak in one piece of text. */
export function leaksInText(text: string, where: string): Leak[] {
  const out: Leak[] = [];
  for (const m of text.matchAll(IPV4)) {
    const o = m.slice(1, 5).map(Number);
    if (o.every((n) => n <= 255) && o[3] !== 0) out.push({ kind: 'ipv4', where, found: m[0] });
  }
  for (const m of text.matchAll(V6_RUN)) {
    if ((m[0].match(/:/g) ?? []).length < 2) continue;
    const tries = [m[0], m[0].replace(/^:(?!:)/, ''), m[0].replace(/[.:]+$/, ''), m[0].replace(/^:(?!:)/, '').replace(/[.:]+$/, '')];
    const addr = tries.find((t) => isIPv6(t));
    if (!addr) continue;
    const g = expand(addr);
    if (g[0] === 0x2002 && (g[2]! & 0xff) !== 0) out.push({ kind: 'ipv4-in-ipv6', where, found: addr });
    else if (g.slice(3).some((x) => x !== 0)) out.push({ kind: 'ipv6', where, found: addr });
  }
  for (const m of text.matchAll(DIGIT_RUN)) {
    const groups = m[0].split(/[^\d]+/);
    // Every span of whole groups, so a card after another number ("qty 12 4111 1111 ...") is still found.
    for (let i = 0; i < groups.length; i++) {
      let digits = '';
      for (let j = i; j < groups.length; j++) {
        digits += groups[j];
        if (digits.length > 19) break;
        if (digits.length >= 13 && CARD_BRAND.test(digits) && luhn(digits)) out.push({ kind: 'card', where, found: m[0] });
      }
    }
  }
  for (const m of text.matchAll(EMAIL)) out.push({ kind: 'email', where, found: m[0] });
  for (const m of text.matchAll(COORDINATES)) {
    if (Math.abs(Number(m[1])) <= 90 && Math.abs(Number(m[2])) <= 180) out.push({ kind: 'coordinates', where, found: m[0] });
  }
  return out;
}

/** Whether a key names geography finer than a state, in any spelling (camelCase, snake_case, kebab-case, prefixed). */
export function isGeographyKey(key: string): boolean {
  const words = key
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z]+/)
    .filter(Boolean);
  const joined = words.join('');
  if (GEO_WORDS.has(joined)) return !/^(ip|mac|email|mail)/.test(joined);
  return words.some((w) => GEO_WORDS.has(w)) && !words.some((w) => ['ip', 'mac', 'email', 'mail'].includes(w));
}

/** Walks a value: every string and key as text, keys as geography names; strings holding JSON are walked too. */
export function leaksInValue(value: unknown, where: string, depth = 0): Leak[] {
  if (depth > 20) return [];
  if (typeof value === 'string') {
    const out = leaksInText(value, where);
    const t = value.trim();
    if ((t.startsWith('{') || t.startsWith('[')) && t.length > 1) {
      try {
        out.push(...leaksInValue(JSON.parse(t), `${where}(json)`, depth + 1));
      } catch {
        // not JSON: scanned as text above
      }
    }
    return out;
  }
  if (typeof value === 'number' || typeof value === 'bigint') return leaksInText(String(value), where);
  if (value instanceof Set || Array.isArray(value)) return [...value].flatMap((v, i) => leaksInValue(v, `${where}[${i}]`, depth + 1));
  if (typeof value === 'object' && value !== null) {
    return Object.entries(value).flatMap(([k, v]) => [
      ...leaksInText(k, `${where}{key}`),
      ...(isGeographyKey(k) ? [{ kind: 'geography-key' as const, where: `${where}{key}`, found: k }] : []),
      ...leaksInValue(v, `${where}.${k}`, depth + 1),
    ]);
  }
  return [];
}

/** Every item of every table, raw (the marshalled JSON, as stored) and as values. */
export async function scanTables(stack: LocalStack): Promise<{ leaks: Leak[]; items: number }> {
  const ddb = stack.services.clients.dynamo;
  const leaks: Leak[] = [];
  let items = 0;
  const tables: string[] = [];
  let start: string | undefined;
  do {
    const page = await ddb.send(new ListTablesCommand({ ExclusiveStartTableName: start }));
    tables.push(...(page.TableNames ?? []));
    start = page.LastEvaluatedTableName;
  } while (start);
  for (const table of tables) {
    let key: Record<string, AttributeValue> | undefined;
    do {
      const page = await ddb.send(new ScanCommand({ TableName: table, ExclusiveStartKey: key, ConsistentRead: true }));
      for (const item of page.Items ?? []) {
        items++;
        const where = `${table}:${JSON.stringify([item.pk, item.sk])}`;
        leaks.push(...leaksInText(JSON.stringify(item), `${where} raw`), ...leaksInValue(unmarshall(item), where));
      }
      key = page.LastEvaluatedKey;
    } while (key);
  }
  return { leaks, items };
}

/** Reads every message of every queue without consuming it: received, scanned, then made visible again at once. */
export async function scanQueues(stack: LocalStack): Promise<{ leaks: Leak[]; messages: number }> {
  const sqs = stack.services.clients.sqs;
  const urls = [EVENT_QUEUE.env, EVENT_QUEUE.dlqEnv, CLOSE_QUEUE.env, CLOSE_QUEUE.dlqEnv].map((e) => stack.env[e]!);
  const leaks: Leak[] = [];
  let messages = 0;
  for (const url of urls) {
    const held: string[] = [];
    for (;;) {
      const r = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, VisibilityTimeout: 30, WaitTimeSeconds: 0 }),
      );
      if (!r.Messages?.length) break;
      for (const m of r.Messages) {
        messages++;
        held.push(m.ReceiptHandle!);
        leaks.push(...leaksInValue(m.Body ?? '', `${url.split('/').pop()}:${m.MessageId}`));
      }
    }
    for (const h of held) await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: url, ReceiptHandle: h, VisibilityTimeout: 0 }));
  }
  return { leaks, messages };
}

/** Captures everything written to stdout and stderr (where the Powertools logger writes) until `stop`. */
export function captureOutput(): { text: () => string; stop: () => void } {
  const chunks: string[] = [];
  const originals = [process.stdout.write, process.stderr.write] as const;
  for (const stream of [process.stdout, process.stderr]) {
    const original = stream.write.bind(stream);
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
      return (original as (...a: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof stream.write;
  }
  return {
    text: () => chunks.join(''),
    stop: () => {
      process.stdout.write = originals[0];
      process.stderr.write = originals[1];
    },
  };
}
