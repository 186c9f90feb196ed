// One idea in one file, though over 300 lines: event contract v1, its schema, the one validation that names
// every refusal by field, and the two forms an event takes (stored redacted, sent as a CloudEvent).
import { z } from 'zod';
import { DAY_MS, MINUTE_MS } from './clock.js';
import type { FieldError } from './errors.js';
import { EVENT_TYPES, type EventType } from './meters.js';
import {
  applyPrivacyCuts,
  CARD_NUMBER_KEY_MESSAGE,
  CARD_NUMBER_MESSAGE,
  isCountryCode,
  isFineGeographyName,
  isRegionCode,
  looksLikeCardNumber,
  maskFieldName,
  redactText,
  truncateIp,
} from './privacy.js';

/** Limits of contract v1, shared by ingest, emitter and consumer. */
export const LIMITS = {
  maxStringLength: 256,
  maxQuantity: 1_000_000,
  maxPastMs: 35 * DAY_MS,
  maxFutureMs: 5 * MINUTE_MS,
  maxMetadataKeys: 16,
  /** Longest key anywhere in an event (metadata names, extension attributes, nested keys). */
  maxKeyLength: 64,
  /** Largest normalised event in UTF-8 JSON: far inside a 256 KiB queue message and a 400 KB DynamoDB item. */
  maxEventBytes: 16 * 1024,
  /** Errors reported for one event; the rest are counted, so an answer and a quarantine item stay small. */
  maxErrorsPerEvent: 20,
  /** Smallest non-zero magnitude of a metadata number (DynamoDB stores none below 1e-130). */
  minNumberMagnitude: 1e-9,
} as const;

/** Why a number is refused: every number the contract accepts fits exactly in a double and in a DynamoDB number. */
export const NUMBER_BOUNDS_MESSAGE = `must be a finite number within ±${Number.MAX_SAFE_INTEGER} (2^53-1), and 0 or at least ${LIMITS.minNumberMagnitude} in magnitude`;

/** Whether a number is inside the contract's bounds (see NUMBER_BOUNDS_MESSAGE). */
export function isContractNumber(n: number): boolean {
  const abs = Math.abs(n);
  return Number.isFinite(n) && abs <= Number.MAX_SAFE_INTEGER && (abs === 0 || abs >= LIMITS.minNumberMagnitude);
}

const ID_SAFE = /^[^#\s]+$/;

/**
 * A user ref: the random token the pipeline stores for an end user instead of their id
 * (functions/core/shared/pseudonyms.ts). Only the pipeline's own replays put one on the queue, as `userRef`.
 */
export const USER_REF_PATTERN = /^ur_[A-Za-z0-9_-]{22}$/;

/**
 * A usage event after validation and normalisation: what travels on the queue and is stored.
 * `time` is UTC ISO-8601 with milliseconds; the client IP is already truncated to `ipPrefix`.
 */
export const usageEventSchema = z.strictObject({
  id: z.string().min(1).max(LIMITS.maxStringLength),
  source: z.string().min(1).max(LIMITS.maxStringLength).regex(ID_SAFE),
  customerId: z.string().min(1).max(LIMITS.maxStringLength).regex(ID_SAFE),
  type: z.enum(EVENT_TYPES as [EventType, ...EventType[]]),
  time: z.iso.datetime({ precision: 3 }),
  quantity: z.int().min(1).max(LIMITS.maxQuantity),
  operation: z.string().max(LIMITS.maxStringLength).optional(),
  apiKeyId: z.string().max(LIMITS.maxStringLength).optional(),
  ipPrefix: z.string().max(64).optional(),
  country: z
    .string()
    .regex(/^[A-Z]{2}$/)
    .optional(),
  region: z
    .string()
    .regex(/^[A-Z]{2}-[A-Z0-9]{1,3}$/)
    .optional(),
  userId: z.string().min(1).max(LIMITS.maxStringLength).optional(),
  /** The user's ref instead of its id: set by a replay of a quarantined event, never by a producer. */
  userRef: z.string().regex(USER_REF_PATTERN).optional(),
  fileId: z.string().min(1).max(LIMITS.maxStringLength).optional(),
  metadata: z
    .record(
      z
        .string()
        .max(LIMITS.maxKeyLength)
        .refine((k) => !RESERVED_NAMES.has(k), 'is a reserved name and cannot be a metadata field'),
      z.union([z.string().max(LIMITS.maxStringLength), z.number().refine(isContractNumber, NUMBER_BOUNDS_MESSAGE), z.boolean()]),
    )
    .optional(),
});

export type UsageEvent = z.infer<typeof usageEventSchema>;

/** The dedupe identity of an event: (source, id). */
export function eventKey(e: Pick<UsageEvent, 'source' | 'id'>): string {
  return `${e.source}#${e.id}`;
}

export interface ValidateContext {
  /** Current time in ms, from the injected clock. */
  now: number;
  /** Generates an id when the client sent none (a ULID in production). */
  newId: () => string;
  /** The source an ingest key is bound to: a missing `source` takes it, a different one is rejected. */
  boundSource?: string;
}

export type ValidateResult =
  | { ok: true; event: UsageEvent; generatedId: boolean }
  | {
      ok: false;
      id?: string;
      errors: FieldError[];
      containsCardNumber: boolean;
      /** Personal data was refused that a stored copy cannot keep (an address or e-mail as an id or key): not replayable. */
      withheld?: boolean;
    };

const CORE_ATTRIBUTES = new Set(['specversion', 'id', 'source', 'type', 'subject', 'time', 'datacontenttype', 'dataschema', 'data']);
const API_CALL_FIELDS = new Set(['quantity', 'operation', 'apiKeyId', 'clientIp', 'country', 'region']);
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/**
 * Validates one CloudEvents 1.0 structured-mode event against contract v1 and normalises it.
 * Reports every problem at once, each naming its field. Card-number-like values are named but never echoed.
 */
export function validateEvent(input: unknown, ctx: ValidateContext): ValidateResult {
  const errors: FieldError[] = [];
  let containsCardNumber = false;
  const fail = (field: string, message: string) => errors.push({ field, message });

  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return { ok: false, errors: [{ field: '', message: 'must be a JSON object (a CloudEvent)' }], containsCardNumber };
  }
  const ce = input as Record<string, unknown>;

  // Every value and key anywhere, however deep, is bounded and checked for card numbers before anything else reads it.
  const scan = (field: string, value: unknown, depth = 0) => {
    if (typeof value === 'string' && value.length > LIMITS.maxStringLength) {
      fail(field, `must be at most ${LIMITS.maxStringLength} characters`);
    }
    // SQS refuses a message holding any of these, so the event could never be queued.
    if (typeof value === 'string' && UNQUEUEABLE.test(value))
      fail(
        field,
        'holds a control or non-character code point (U+0000-U+001F other than tab and newlines, U+FFFE, U+FFFF or a lone surrogate)',
      );
    if ((typeof value === 'string' || typeof value === 'number') && field !== 'time' && looksLikeCardNumber(value)) {
      containsCardNumber = true;
      fail(field, CARD_NUMBER_MESSAGE);
    }
    if (typeof value !== 'object' || value === null || depth >= MAX_SCAN_DEPTH) return;
    for (const [k, v] of Object.entries(value)) {
      if (looksLikeCardNumber(k)) {
        containsCardNumber = true;
        fail(`${field}[key]`, 'has a key that looks like a payment card number; the event is rejected and the key is not stored');
      }
      // An over-long or unqueueable key is named by its problem, never echoed: it would swell or break the answer and the quarantine item.
      const keyProblem = badKey(k);
      if (keyProblem) fail(`${field}[key]`, keyProblem);
      scan(Array.isArray(value) ? `${field}[${k}]` : keyProblem ? `${field}[key]` : `${field}.${k}`, v, depth + 1);
    }
  };
  for (const [k, v] of Object.entries(ce)) {
    if (looksLikeCardNumber(k)) {
      containsCardNumber = true;
      fail('[key]', 'an attribute name looks like a payment card number; the event is rejected and the name is not stored');
    }
    const keyProblem = badKey(k);
    if (keyProblem) fail('[key]', keyProblem);
    scan(keyProblem ? '[key]' : k, v);
  }
  const data = ce.data;
  if (data !== undefined && (typeof data !== 'object' || data === null || Array.isArray(data))) {
    fail('data', 'must be a JSON object');
  }
  const d = (typeof data === 'object' && data !== null && !Array.isArray(data) ? data : {}) as Record<string, unknown>;

  if (ce.specversion !== '1.0') fail('specversion', 'must be "1.0"');

  const str = (field: string, value: unknown, required: boolean): string | undefined => {
    if (value === undefined || value === null) {
      if (required) fail(field, 'is required');
      return undefined;
    }
    if (typeof value !== 'string') {
      fail(field, 'must be a string');
      return undefined;
    }
    if (value.length === 0) {
      fail(field, 'must not be empty');
      return undefined;
    }
    // Reported by the scan; the privacy cuts below read only what fits the bound, so a 1 MiB string costs no more than a short one.
    if (value.length > LIMITS.maxStringLength) return undefined;
    return value;
  };

  let id = str('id', ce.id, false);
  let source = str('source', ce.source, ctx.boundSource === undefined);
  // A key bound to a source fills a missing one (absent or null alike).
  if (source === undefined && ctx.boundSource !== undefined && (ce.source === undefined || ce.source === null)) source = ctx.boundSource;
  if (source !== undefined && !ID_SAFE.test(source)) fail('source', 'must not contain "#" or whitespace');
  if (source !== undefined && ctx.boundSource !== undefined && source !== ctx.boundSource) {
    fail('source', `does not match the source "${ctx.boundSource}" that this ingest key is bound to`);
  }
  const subject = str('subject', ce.subject, true);
  if (subject !== undefined && !ID_SAFE.test(subject)) fail('subject', 'must be a customer id without "#" or whitespace');

  const type = ce.type;
  if (type === undefined) fail('type', 'is required');
  else if (typeof type !== 'string' || !(EVENT_TYPES as readonly string[]).includes(type)) {
    fail('type', `is unknown; expected one of ${EVENT_TYPES.join(', ')}`);
  }

  let time: string | undefined;
  const rawTime = str('time', ce.time, true);
  if (rawTime !== undefined) {
    const ms = RFC3339.test(rawTime) && realCalendarTime(rawTime) ? Date.parse(rawTime.replace(' ', 'T')) : NaN;
    if (Number.isNaN(ms)) fail('time', 'must be an RFC 3339 timestamp with a time zone, e.g. 2026-01-31T12:00:00Z');
    else if (ms < ctx.now - LIMITS.maxPastMs) fail('time', 'is more than 35 days in the past; Stripe cannot bill it');
    else if (ms > ctx.now + LIMITS.maxFutureMs) fail('time', 'is more than 5 minutes in the future');
    else time = new Date(ms).toISOString();
  }
  if (ce.datacontenttype !== undefined && ce.datacontenttype !== 'application/json') {
    fail('datacontenttype', 'must be "application/json" when present');
  }

  const event: Partial<UsageEvent> = { quantity: 1 };
  const metadata: Record<string, string | number | boolean> = {};
  const known = new Set<string>();
  const dataStr = (k: string, required: boolean) => {
    known.add(k);
    return str(`data.${k}`, d[k], required);
  };

  switch (type) {
    case 'com.serenity.api.call': {
      for (const k of API_CALL_FIELDS) known.add(k);
      const q = d.quantity;
      if (q !== undefined) {
        if (typeof q !== 'number' || !Number.isInteger(q)) fail('data.quantity', 'must be an integer');
        else if (q < 1) fail('data.quantity', 'must be at least 1');
        else if (q > LIMITS.maxQuantity) fail('data.quantity', `must be at most ${LIMITS.maxQuantity}`);
        else event.quantity = q;
      }
      event.operation = dataStr('operation', false);
      event.apiKeyId = dataStr('apiKeyId', false);
      const ip = dataStr('clientIp', false);
      if (ip !== undefined) {
        const prefix = truncateIp(ip);
        if (prefix === undefined) fail('data.clientIp', 'must be an IPv4 or IPv6 address');
        else event.ipPrefix = prefix;
      }
      const country = dataStr('country', false);
      if (country !== undefined) {
        if (!isCountryCode(country)) fail('data.country', 'must be an ISO 3166-1 alpha-2 code such as "DE"');
        else event.country = country;
      }
      const region = dataStr('region', false);
      if (region !== undefined) {
        if (!isRegionCode(region)) fail('data.region', 'must be an ISO 3166-2 state-level code such as "US-CA"');
        else event.region = region;
      }
      break;
    }
    case 'com.serenity.user.active':
      event.userId = dataStr('userId', true);
      break;
    case 'com.serenity.file.protected':
    case 'com.serenity.file.unprotected':
      event.fileId = dataStr('fileId', true);
      break;
    default:
      break; // reported above as an unknown type
  }

  // Anything else in data, and CloudEvents extension attributes, is metadata: flat and bounded.
  const metadataField = new Map<string, string>();
  const extras: [string, unknown][] = [
    ...Object.entries(d)
      .filter(([k]) => !known.has(k))
      .map(([k, v]) => [`data.${k}`, v] as [string, unknown]),
    ...Object.entries(ce).filter(([k]) => !CORE_ATTRIBUTES.has(k)),
  ];
  if (extras.length > LIMITS.maxMetadataKeys) fail('data', `has more than ${LIMITS.maxMetadataKeys} metadata fields`);
  for (const [field, v] of extras) {
    const name = field.startsWith('data.') ? field.slice(5) : field;
    if (badKey(name)) continue; // reported by the scan, without the key
    metadataField.set(name, field);
    if (RESERVED_NAMES.has(name)) fail(field, 'is a reserved name and cannot be a metadata field');
    // Strings are cut by the privacy cuts below (addresses, e-mail addresses, coordinates; fine geography refused).
    else if (typeof v === 'string') {
      if (v.length <= LIMITS.maxStringLength) metadata[name] = v; // a longer one is reported by the scan
    } else if (typeof v === 'number' && !isContractNumber(v)) fail(field, NUMBER_BOUNDS_MESSAGE);
    else if (typeof v === 'number' || typeof v === 'boolean') metadata[name] = v;
    else fail(field, 'metadata values must be strings, numbers or booleans');
  }

  // The privacy cuts the consumer applies too. Card numbers were found by the scan above, in every value and key.
  const cut = applyPrivacyCuts({ id, source, customerId: subject, ...event, metadata }, (attribute, key) =>
    key === undefined ? (INGEST_FIELDS[attribute] ?? attribute) : (metadataField.get(key) ?? `data.${key}`),
  );
  for (const e of cut.errors) if (e.message !== CARD_NUMBER_MESSAGE && e.message !== CARD_NUMBER_KEY_MESSAGE) errors.push(e);
  if (errors.length > 0) {
    const echoId = !cut.errors.some((e) => e.field === 'id');
    return { ok: false, ...(echoId ? { id } : {}), errors: capped(masked(errors)), containsCardNumber, withheld: cut.withheld };
  }
  const generatedId = id === undefined;
  id ??= ctx.newId();
  const normalized: UsageEvent = {
    id,
    source: source!,
    customerId: subject!,
    type: type as EventType,
    time: time!,
    quantity: event.quantity!,
    ...definedOnly({
      operation: event.operation,
      apiKeyId: event.apiKeyId,
      ipPrefix: cut.event.ipPrefix,
      country: event.country,
      region: event.region,
      userId: event.userId,
      fileId: event.fileId,
    }),
    ...(Object.keys(cut.event.metadata ?? {}).length > 0 ? { metadata: cut.event.metadata } : {}),
  };
  // Every field is bounded, but wide characters add up: the event must fit a queue message and a DynamoDB item.
  const bytes = utf8Length(JSON.stringify(normalized));
  if (bytes > LIMITS.maxEventBytes) {
    return {
      ok: false,
      id,
      errors: [{ field: '', message: `is ${bytes} bytes as stored; at most ${LIMITS.maxEventBytes} are allowed` }],
      containsCardNumber,
    };
  }
  return { ok: true, event: normalized, generatedId };
}

/** Why a key cannot be stored or queued, if it cannot. */
function badKey(k: string): string | undefined {
  if (k.length > LIMITS.maxKeyLength) return `has a key of ${k.length} characters; metadata keys are at most ${LIMITS.maxKeyLength}`;
  if (UNQUEUEABLE.test(k)) {
    return 'has a key holding a control or non-character code point (U+0000-U+001F other than tab and newlines, U+FFFE, U+FFFF or a lone surrogate)';
  }
  return undefined;
}

/** Names an object key cannot safely take: assigning `__proto__` drops the value, and the others shadow Object's own. */
const RESERVED_NAMES = new Set(['__proto__', 'constructor', 'prototype']);

function capped(errors: FieldError[]): FieldError[] {
  if (errors.length <= LIMITS.maxErrorsPerEvent) return errors;
  return [
    ...errors.slice(0, LIMITS.maxErrorsPerEvent),
    { field: '', message: `and ${errors.length - LIMITS.maxErrorsPerEvent} more problems` },
  ];
}

const utf8Length = (text: string) => new TextEncoder().encode(text).length;

/** Code points SQS does not accept in a message body: it allows #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF. */
const UNQUEUEABLE =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the pattern names the control characters SQS refuses, so that validation refuses them first
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** How deep the card scan looks into nested values (deeper is rejected as metadata anyway). */
const MAX_SCAN_DEPTH = 8;

/** How ingest names the attributes the privacy cuts read (the cuts speak the normalised event's names). */
const INGEST_FIELDS: Record<string, string> = {
  customerId: 'subject',
  operation: 'data.operation',
  apiKeyId: 'data.apiKeyId',
  userId: 'data.userId',
  fileId: 'data.fileId',
  ipPrefix: 'data.clientIp',
};

/** Errors as they may be shown and stored: field names masked (a key may hold a card number), each problem once. */
function masked(errors: FieldError[]): FieldError[] {
  const seen = new Set<string>();
  return errors
    .map((e) => ({ field: maskFieldName(e.field), message: e.message }))
    .filter((e) => {
      const k = `${e.field}\n${e.message}`;
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
}

/** Whether an RFC 3339 timestamp names a real date and time (Date.parse rolls 02-30 or 24:00 into the next day). */
function realCalendarTime(text: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?(?:[Zz]|[+-](\d{2}):(\d{2}))$/.exec(text);
  if (!m) return false;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  const offsetOk = m[8] === undefined || (Number(m[8]) <= 23 && Number(m[9]) <= 59);
  return month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth && hour <= 23 && minute <= 59 && second <= 59 && offsetOk;
}

/**
 * The longest text kept of a rejected input's value. Rejected input may come from a producer that never passed
 * ingest (a queued message holds up to 256 KiB); the redaction's patterns are not linear in a string's length, so
 * a value is cut to its head before they run (a 200,000-character value took 265 s before this bound).
 */
const MAX_STORED_TEXT = 1_024;

/**
 * `text` cut to at most `max` characters of its head (plus a note of the cut), up to the head's last whitespace:
 * a word the cut would split (half an e-mail address, which no pattern would recognise) is dropped whole.
 */
export function boundedText(text: string, max = MAX_STORED_TEXT): string {
  if (text.length <= max) return text;
  const head = text.slice(0, max);
  const end = head.search(/\s\S*$/);
  const kept = end >= 0 ? head.slice(0, end) : '';
  return `${kept} [cut: ${text.length - kept.length} characters]`;
}

/**
 * What a rejected event may keep for analysts and replay: card-number-like values and keys replaced, IP addresses
 * (in any writing, inside text too) cut to their network address, e-mail addresses and coordinates replaced, keys
 * holding any of these replaced, and names of geography finer than state level left out with their values.
 */
export function redactForStorage(input: unknown, depth = 0): unknown {
  if (typeof input === 'string' || typeof input === 'number') {
    const value = typeof input === 'string' ? boundedText(input) : input;
    if (looksLikeCardNumber(value)) return '[redacted: card number]';
    if (typeof value === 'number') return value;
    // The prefix's network address: it re-truncates to itself when the event is replayed.
    return truncateIp(value)?.split('/')[0] ?? redactText(value, 'network');
  }
  if (typeof input !== 'object' || input === null) return input;
  if (depth >= MAX_SCAN_DEPTH) return '[redacted: nested too deep]';
  if (Array.isArray(input)) return input.map((v) => redactForStorage(v, depth + 1));
  return Object.fromEntries(
    Object.entries(input)
      .filter(([k]) => !isFineGeographyName(k))
      .map(([k, v], i) => [
        k.length > MAX_STORED_TEXT || looksLikeCardNumber(k) || redactText(k) !== k ? `[redacted key ${i}]` : k,
        redactForStorage(v, depth + 1),
      ]),
  );
}

function definedOnly<T extends Record<string, unknown>>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Converts a normalised event back to the CloudEvent a client would send (for replay and for the emitter). */
export function toCloudEvent(e: UsageEvent): Record<string, unknown> {
  const data: Record<string, unknown> = { ...(e.metadata ?? {}) };
  switch (e.type) {
    case 'com.serenity.api.call':
      Object.assign(
        data,
        definedOnly({
          quantity: e.quantity,
          operation: e.operation,
          apiKeyId: e.apiKeyId,
          // The prefix's network address re-truncates to itself, so the full address is never needed.
          clientIp: e.ipPrefix?.split('/')[0],
          country: e.country,
          region: e.region,
        }),
      );
      break;
    case 'com.serenity.user.active':
      data.userId = e.userId;
      break;
    case 'com.serenity.file.protected':
    case 'com.serenity.file.unprotected':
      data.fileId = e.fileId;
      break;
  }
  return {
    specversion: '1.0',
    id: e.id,
    source: e.source,
    type: e.type,
    subject: e.customerId,
    time: e.time,
    datacontenttype: 'application/json',
    data,
  };
}
