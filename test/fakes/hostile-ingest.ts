// One idea in one file, though over 300 lines: the hostile-request generator for POST /v1/events and the run that
// sends it over real HTTP and checks every answer and every stored byte against what each request should cause.
import { gzipSync } from 'node:zlib';
import { INGEST_LIMITS } from '../../contract/ingest-limits.js';
import { mulberry32 } from '../../eval/random.js';
import type { LocalStack } from '../../local/stack.js';

type Rand = () => number;
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const int = (r: Rand, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));

/** Tokens the JSON text carries in place of what a JS value cannot hold (1e400, an own `__proto__` key). */
const RAW_TOKENS: Record<string, string> = {
  '"__RAW_POS_INF__"': '1e400',
  '"__RAW_NEG_INF__"': '-1e400',
};
const rawJson = (v: unknown) => {
  let text = JSON.stringify(v);
  for (const [token, raw] of Object.entries(RAW_TOKENS)) text = text.split(token).join(raw);
  return text;
};

/** One event in a generated batch: whether ingest must accept it, and what it must count. */
interface Planned {
  value: unknown;
  valid: boolean;
  customer?: string;
  quantity?: number;
  id?: string;
  mutation?: string;
}

/** A generated request and what its answer must be. */
export interface HostileRequest {
  kind: string;
  body: string | Buffer;
  headers: Record<string, string>;
  /** The one status the answer must have. */
  expectStatus: number;
  /** For a 202: each event in order, and whether it must be accepted. */
  events?: Planned[];
}

interface Ctx {
  r: Rand;
  seq: { n: number };
  seed: number;
  customers: readonly string[];
  now: number;
}

function validEvent(c: Ctx): Planned {
  const { r } = c;
  const customer = pick(r, c.customers);
  const quantity = int(r, 1, 3);
  const withId = r() > 0.1;
  // Base 36, so no id is a run of digits that passes Luhn (it would be refused as a card number).
  const id = withId ? `fz-${c.seed.toString(36)}-${(c.seq.n++).toString(36)}` : undefined;
  // Inside the limits, at their edges: a key of exactly the longest length, a value of the longest, wide characters, safe numbers.
  const extras = pick(r, [
    {},
    { ['k'.repeat(64)]: 'v'.repeat(256) },
    { big: Number.MAX_SAFE_INTEGER, small: -Number.MAX_SAFE_INTEGER, zero: -0, half: 0.5 },
    { emoji: '🙂'.repeat(100), accent: 'é€', flag: true },
    { nan: 'NaN', inf: 'Infinity', tiny: 1e-9 },
  ]);
  return {
    valid: true,
    customer,
    quantity,
    id,
    value: {
      specversion: '1.0',
      type: 'com.serenity.api.call',
      source: 'local',
      subject: customer,
      ...(id ? { id } : {}),
      time: new Date(c.now - int(r, 0, 20 * 60_000)).toISOString(),
      data: { operation: 'encrypt', quantity, ...extras },
    },
  };
}

/** Mutations that each make an event invalid, whatever the rest of it holds. */
const MUTATIONS: Record<string, (e: Record<string, unknown>, d: Record<string, unknown>, r: Rand) => unknown> = {
  quantity: (_e, d, r) => {
    d.quantity = pick(r, ['1', 1.5, 0, -1, -0, 1e16, 1e308, 5e-324, 2 ** 53 + 1, 'NaN', 'Infinity', null, true, [], {}, '__RAW_POS_INF__']);
  },
  hugeNumber: (_e, d, r) => {
    d[`n${int(r, 0, 9)}`] = pick(r, [
      1e308,
      -1e308,
      5e-324,
      -5e-324,
      2 ** 53 + 1,
      -(2 ** 53 + 1),
      2 ** 60,
      1e16,
      '__RAW_POS_INF__',
      '__RAW_NEG_INF__',
    ]);
  },
  wrongType: (e, _d, r) => {
    const field = pick(r, ['id', 'subject', 'type', 'specversion', 'time', 'data', 'source']);
    const wrong: unknown[] = field === 'data' ? ['str', [1], 5, true] : [123, {}, [], true, field === 'id' || field === 'source' ? 0 : ''];
    e[field] = pick(r, wrong);
  },
  badTime: (e, _d, r) => {
    e.time = pick(r, ['yesterday', '2026-02-30T00:00:00Z', '2020-01-01T00:00:00Z', '2999-01-01T00:00:00Z', '2026-12-02T25:00:00Z', 1234]);
  },
  badType: (e, _d, r) => {
    e.type = pick(r, ['nope', 'com.serenity.api.call ', '']);
  },
  longKey: (_e, d, r) => {
    d['k'.repeat(pick(r, [65, 100, 1000, 20_000]))] = 1;
  },
  longExtension: (e, _d, r) => {
    e['x'.repeat(pick(r, [65, 500]))] = 'v';
  },
  longValue: (_e, d, r) => {
    d[pick(r, ['operation', 'note'])] = 'v'.repeat(pick(r, [257, 1000, 5000]));
  },
  deepData: (_e, d, r) => {
    let v: unknown = 'leaf';
    for (let i = int(r, 2, 200); i > 0; i--) v = { v };
    d.nested = v;
  },
  reservedKey: (e, d, r) => {
    const name = pick(r, ['__RAW_PROTO__', 'constructor', 'prototype']);
    (r() > 0.5 ? d : e)[name === '__RAW_PROTO__' ? 'PROTO_PLACEHOLDER' : name] = 'x';
  },
  loneSurrogate: (_e, d, r) => {
    if (r() > 0.5) d.note = pick(r, ['a\ud800', '\udc00b', 'x\ud83d']);
    else d[pick(r, ['k\ud800', '\udfff'])] = 'v';
  },
  controlChar: (_e, d, r) => {
    d.note = pick(r, ['a\u0000b', '\u0007', '\uffff', '\u001f']);
  },
  tooManyKeys: (_e, d) => {
    for (let i = 0; i < 17; i++) d[`m${i}`] = i;
  },
  sourceMismatch: (e) => {
    e.source = 'someone-else';
  },
  missingSubject: (e) => {
    delete e.subject;
  },
  badSubject: (e, _d, r) => {
    e.subject = pick(r, ['a#b', 'a b', 'x'.repeat(300)]);
  },
  datacontenttype: (e) => {
    e.datacontenttype = 'text/plain';
  },
  notAnObject: (_e, _d, r) => pick(r, [42, 'str', null, [], true, [{}]]),
  userWithoutId: (e) => {
    e.type = 'com.serenity.user.active';
    e.data = {};
  },
};

function badEvent(c: Ctx): Planned {
  const base = validEvent(c);
  const e = structuredClone(base.value) as Record<string, unknown>;
  e.id = `bad-${c.seed.toString(36)}-${(c.seq.n++).toString(36)}`;
  const d = e.data as Record<string, unknown>;
  const mutation = pick(c.r, Object.keys(MUTATIONS));
  const replaced = MUTATIONS[mutation]!(e, d, c.r);
  // An own "__proto__" key can only come from JSON text: the placeholder is renamed in the text.
  for (const o of [e, d]) {
    if (o && typeof o === 'object' && 'PROTO_PLACEHOLDER' in o) {
      o.__RAW_PROTO_KEY__ = o.PROTO_PLACEHOLDER;
      delete o.PROTO_PLACEHOLDER;
    }
  }
  return { valid: false, mutation, value: replaced !== undefined ? replaced : e };
}

const BATCH = 'application/cloudevents-batch+json';
const json = (events: unknown[]) => rawJson(events).split('"__RAW_PROTO_KEY__"').join('"__proto__"');

/** Generates one hostile request. */
export function hostileRequest(c: Ctx): HostileRequest {
  const { r } = c;
  const roll = r();
  if (roll < 0.68) {
    // A batch mixing valid and invalid events: answered 202, each invalid one named by field and reason.
    // Up to 12 events per request, most of them bad, as a broken emitter sends them: the quarantine takes them in one write.
    const events = Array.from({ length: int(r, 1, 12) }, () => (r() < 0.1 ? validEvent(c) : badEvent(c)));
    if (!events.some((e) => !e.valid)) events.push(badEvent(c));
    const type = pick(r, [BATCH, BATCH, 'application/json', `${BATCH}; charset=utf-8`, '']);
    // fetch labels a string body text/plain: a body without a content type is sent as bytes.
    const text = json(events.map((e) => e.value));
    return {
      kind: 'batch',
      body: type ? text : Buffer.from(text),
      headers: type ? { 'content-type': type } : {},
      expectStatus: 202,
      events,
    };
  }
  if (roll < 0.78) {
    const base = json([validEvent(c).value]);
    const body = pick(r, [
      base.slice(0, int(r, 1, base.length - 1)),
      '{not json',
      '',
      'null',
      '42',
      '"str"',
      'true',
      '[1,2,',
      '{"a":}',
      'NaN',
      `${base},`,
      `\ufeff${base}`,
    ]);
    return { kind: 'malformed', body, headers: { 'content-type': BATCH }, expectStatus: 400 };
  }
  if (roll < 0.84) {
    // Bytes that are not UTF-8, inside an otherwise valid batch.
    const text = json([validEvent(c).value]);
    const at = text.indexOf('encrypt') + 3;
    const bad = pick(r, [[0xff], [0xc0, 0xaf], [0x80], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xf8, 0x88, 0x80, 0x80, 0x80]]);
    const body = Buffer.concat([Buffer.from(text.slice(0, at)), Buffer.from(bad), Buffer.from(text.slice(at))]);
    return { kind: 'invalid-utf8', body, headers: { 'content-type': BATCH }, expectStatus: 400 };
  }
  if (roll < 0.92) {
    const text = json([validEvent(c).value]);
    const game = pick(r, ['text/plain', 'multipart', 'latin1', 'gzip-header', 'gzip', 'form', 'single-as-array', 'batch-as-object']);
    switch (game) {
      case 'text/plain':
        return { kind: game, body: text, headers: { 'content-type': 'text/plain' }, expectStatus: 415 };
      case 'multipart':
        return {
          kind: game,
          body: `--x\r\ncontent-disposition: form-data; name="a"\r\n\r\n${text}\r\n--x--`,
          headers: { 'content-type': 'multipart/form-data; boundary=x' },
          expectStatus: 415,
        };
      case 'latin1':
        return {
          kind: game,
          body: Buffer.from(text.replace('encrypt', 'encrypté'), 'latin1'),
          headers: { 'content-type': 'application/json; charset=latin1' },
          expectStatus: 415,
        };
      case 'gzip-header':
        return { kind: game, body: text, headers: { 'content-type': BATCH, 'content-encoding': 'gzip' }, expectStatus: 415 };
      case 'gzip':
        return { kind: game, body: gzipSync(text), headers: { 'content-type': BATCH, 'content-encoding': 'gzip' }, expectStatus: 415 };
      case 'form':
        return {
          kind: game,
          body: `a=${encodeURIComponent(text)}`,
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          expectStatus: 415,
        };
      case 'single-as-array':
        return { kind: game, body: text, headers: { 'content-type': 'application/cloudevents+json' }, expectStatus: 400 };
      default:
        return { kind: game, body: text.slice(1, -1), headers: { 'content-type': BATCH }, expectStatus: 400 };
    }
  }
  if (roll < 0.96) {
    // A single structured-mode event, valid or not.
    const e = r() < 0.5 ? validEvent(c) : badEvent(c);
    const single = e.value !== null && typeof e.value === 'object' && !Array.isArray(e.value);
    const body = json([e.value]).slice(1, -1);
    if (!single) return { kind: 'single-not-object', body, headers: { 'content-type': 'application/cloudevents+json' }, expectStatus: 400 };
    return { kind: 'single', body, headers: { 'content-type': 'application/cloudevents+json' }, expectStatus: 202, events: [e] };
  }
  if (roll < 0.985) {
    // Deep nesting of the whole body: an array of arrays is a batch of non-objects, each rejected.
    const depth = pick(r, [10, 1000, 5000]);
    return {
      kind: 'deep',
      body: `[${'['.repeat(depth)}${']'.repeat(depth)}]`,
      headers: { 'content-type': BATCH },
      expectStatus: 202,
      events: [{ value: [], valid: false, mutation: 'deep' }],
    };
  }
  if (roll < 0.993) {
    const events = Array.from({ length: INGEST_LIMITS.maxEvents + 1 }, () => ({ specversion: '1.0', subject: 'x' }));
    return { kind: 'too-many-events', body: JSON.stringify(events), headers: { 'content-type': BATCH }, expectStatus: 413 };
  }
  const valid = validEvent(c).value as Record<string, unknown>;
  return {
    kind: 'oversized',
    body: JSON.stringify([{ ...valid, pad: 'p'.repeat(INGEST_LIMITS.maxBytes) }]),
    headers: { 'content-type': BATCH },
    expectStatus: 413,
  };
}

/** What a run sent, what it got back, and what it must find stored. */
export interface FuzzRun {
  requests: number;
  events: number;
  validSent: number;
  rejectedEvents: number;
  statuses: Record<string, number>;
  serverErrors: number;
  problems: string[];
  /** Accepted ids per `customer|day`, with their quantities. */
  expected: Map<string, Map<string, number>>;
  durationMs: number;
}

interface IngestAnswer {
  accepted?: { id: string }[];
  rejected?: { index: number; id?: string; retryable?: boolean; errors: { field: unknown; message: unknown }[] }[];
  error?: unknown;
}

/** Sends `requests` generated requests to the stack's HTTP ingest, `concurrency` at a time, and checks each answer. */
export async function runHostileIngest(o: {
  url: string;
  ingestKey: string;
  customers: readonly string[];
  requests: number;
  seed: number;
  concurrency?: number;
}): Promise<FuzzRun> {
  const started = Date.now();
  const c: Ctx = { r: mulberry32(o.seed), seq: { n: 0 }, seed: o.seed, customers: o.customers, now: Date.now() };
  const run: FuzzRun = {
    requests: 0,
    events: 0,
    validSent: 0,
    rejectedEvents: 0,
    statuses: {},
    serverErrors: 0,
    problems: [],
    expected: new Map(),
    durationMs: 0,
  };
  const problem = (req: HostileRequest, what: string) => {
    if (run.problems.length < 50) run.problems.push(`${req.kind}: ${what}`);
  };
  let next = 0;
  const worker = async () => {
    while (next < o.requests) {
      next++;
      const req = hostileRequest(c);
      run.requests++;
      run.events += req.events?.length ?? 0;
      const res = await fetch(`${o.url}/v1/events`, {
        method: 'POST',
        headers: { authorization: `Bearer ${o.ingestKey}`, ...req.headers },
        body: typeof req.body === 'string' ? req.body : new Uint8Array(req.body),
      });
      const text = await res.text();
      run.statuses[res.status] = (run.statuses[res.status] ?? 0) + 1;
      if (res.status >= 500) {
        run.serverErrors++;
        problem(req, `answered ${res.status}: ${text.slice(0, 200)}`);
      }
      if (res.status !== req.expectStatus) {
        problem(req, `answered ${res.status}, expected ${req.expectStatus}: ${text.slice(0, 200)}`);
        continue;
      }
      let body: IngestAnswer;
      try {
        body = JSON.parse(text) as IngestAnswer;
      } catch {
        problem(req, `answer is not JSON: ${text.slice(0, 200)}`);
        continue;
      }
      if (res.status !== 202) {
        if (typeof body.error !== 'string' || body.error === '') problem(req, `refusal names no reason: ${text.slice(0, 200)}`);
        continue;
      }
      checkBatch(req, body, run, problem);
    }
  };
  await Promise.all(Array.from({ length: o.concurrency ?? 8 }, worker));
  run.durationMs = Date.now() - started;
  return run;
}

function checkBatch(req: HostileRequest, body: IngestAnswer, run: FuzzRun, problem: (req: HostileRequest, what: string) => void) {
  const events = req.events ?? [];
  const accepted = body.accepted ?? [];
  const rejected = body.rejected ?? [];
  const validIdx = events.flatMap((e, i) => (e.valid ? [i] : []));
  const badIdx = events.flatMap((e, i) => (e.valid ? [] : [i]));
  if (req.kind === 'deep') {
    if (accepted.length > 0 || rejected.length === 0) problem(req, 'a batch of nested arrays was not wholly rejected');
    run.rejectedEvents += rejected.length;
    return;
  }
  const rejectedIdx = rejected.map((x) => x.index);
  if (JSON.stringify(rejectedIdx) !== JSON.stringify(badIdx)) {
    problem(
      req,
      `rejected indexes ${JSON.stringify(rejectedIdx)}, expected ${JSON.stringify(badIdx)} (${badIdx.map((i) => events[i]!.mutation)})`,
    );
  }
  if (accepted.length !== validIdx.length) problem(req, `accepted ${accepted.length} events, expected ${validIdx.length}`);
  for (const x of rejected) {
    if (x.retryable) problem(req, 'an event could not be enqueued');
    const named =
      x.errors.length > 0 && x.errors.every((e) => typeof e.field === 'string' && typeof e.message === 'string' && e.message !== '');
    if (!named) problem(req, `rejected event ${x.index} is not named by field and reason: ${JSON.stringify(x.errors).slice(0, 200)}`);
  }
  run.rejectedEvents += rejected.length;
  validIdx.forEach((i, k) => {
    const e = events[i]!;
    const id = accepted[k]?.id;
    if (!id) return;
    if (e.id !== undefined && id !== e.id) problem(req, `accepted id ${id}, sent ${e.id}`);
    run.validSent++;
    const day = (e.value as { time: string }).time.slice(0, 10);
    const key = `${e.customer}|${day}`;
    const ids = run.expected.get(key) ?? new Map<string, number>();
    ids.set(id, e.quantity!);
    run.expected.set(key, ids);
  });
}

/** After draining: every accepted event stored exactly once, nothing else, usage counted once, and no message in the DLQ. */
export async function checkStored(stack: LocalStack, run: FuzzRun): Promise<string[]> {
  const problems: string[] = [];
  for (const [key, ids] of run.expected) {
    const [customer, day] = key.split('|') as [string, string];
    const stored = (await stack.services.events.listDay(customer, day)).map((e) => e.id);
    const extra = stored.filter((id) => !ids.has(id));
    const missing = [...ids.keys()].filter((id) => !stored.includes(id));
    if (stored.length !== new Set(stored).size) problems.push(`${key}: an event is stored twice`);
    if (missing.length > 0) problems.push(`${key}: ${missing.length} accepted events not stored`);
    // The run's customers are its own: anything stored for them that no answer accepted is half-stored.
    if (extra.length > 0) problems.push(`${key}: ${extra.length} events stored that were not accepted, e.g. ${extra[0]}`);
    const from = `${day}T00:00:00Z`;
    const to = new Date(Date.parse(from) + 86_400_000).toISOString();
    const res = await fetch(`${stack.url}/v1/usage?customer=${customer}&from=${from}&to=${to}&granularity=day`, {
      headers: { authorization: `Bearer ${stack.adminKey}` },
    });
    const usage = (await res.json()) as { totals?: { api_calls?: number } };
    const sum = [...ids.values()].reduce((a, b) => a + b, 0);
    const counted = usage.totals?.api_calls;
    // Other tests in the file may have counted for the same customer and day: the run's own customers are its own.
    if (counted !== sum) problems.push(`${key}: usage counts ${counted} api calls, accepted ${sum}`);
  }
  const depth = await stack.services.queue.depth();
  if (depth.dlq !== 0) problems.push(`${depth.dlq} messages in the DLQ`);
  return problems;
}
