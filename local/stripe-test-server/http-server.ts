import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  apiError,
  idempotencyInUse,
  idempotencyMismatch,
  invalidApiKey,
  invalidParam,
  missingApiKey,
  rateLimited,
  StripeHttpError,
  sessionExpired,
  unrecognizedUrl,
} from './errors.js';
import type { FaultController } from './faults.js';
import { type Params, parseForm } from './form-params.js';
import { fingerprint, type IdempotencyStore, type SavedResponse } from './idempotency.js';
import { newId } from './ids.js';
import type { RequestRecorder } from './request-log.js';
import type { Route, RouteContext, RouteMatch, Router } from './router.js';
import type { StripeState } from './state.js';
import type { ClockControl } from './test-clock.js';
import type { FaultSpec } from './types.js';

/** Bodies above this are refused; real meter calls are a few hundred bytes. */
const MAX_BODY_BYTES = 1_000_000;

/** The parts one request passes through. */
export interface Pipeline {
  state: StripeState;
  clock: ClockControl;
  faults: FaultController;
  idempotency: IdempotencyStore;
  recorder: RequestRecorder;
  router: Router;
  /** Answers `/_test/...`; these calls skip auth, faults and the request log. */
  control(method: string, url: URL, body: string): Promise<{ status: number; body: unknown }>;
}

interface Answer {
  status: number;
  body: unknown;
  headers: Record<string, string>;
  reset?: boolean;
  replayed?: boolean;
  fault?: string;
}

/** The `http.createServer` listener: control surface first, then the fake Stripe API. */
export function requestListener(p: Pipeline) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    void (async () => {
      const started = performance.now();
      const method = (req.method ?? 'GET').toUpperCase();
      const url = new URL(req.url ?? '/', 'http://stripe-test-server');
      const raw = await readBody(req).catch(() => null);
      if (url.pathname.startsWith('/_test/')) {
        const answer = raw === null ? { status: 413, body: { error: { message: 'body too large' } } } : await p.control(method, url, raw);
        return send(res, answer.status, answer.body, {});
      }
      const match = p.router.match(method, url.pathname);
      const idempotencyKey = method === 'POST' ? headerOf(req, 'idempotency-key') : null;
      const requestId = newId('req_', 14);
      const answer =
        raw === null
          ? errorAnswer(invalidParam('Request body too large.', 'body'))
          : await apiAnswer(p, req, method, url, raw, match, idempotencyKey, requestId);
      p.recorder.record({
        atMs: p.clock.now(),
        method,
        path: url.pathname,
        endpoint: match ? `${method} ${match.route.pattern}` : `${method} ${url.pathname}`,
        status: answer.reset ? 0 : answer.status,
        durationMs: Math.round(performance.now() - started),
        idempotencyKey,
        replayed: answer.replayed ?? false,
        fault: answer.fault ?? null,
      });
      if (answer.reset) {
        req.socket.destroy();
        return;
      }
      const headers: Record<string, string> = { 'Request-Id': requestId, ...answer.headers };
      const version = headerOf(req, 'stripe-version');
      if (version) headers['Stripe-Version'] = version;
      if (idempotencyKey) headers['Idempotency-Key'] = idempotencyKey;
      send(res, answer.status, answer.body, headers);
    })().catch((error: unknown) => {
      // A bug in the server itself: answer like Stripe's own 500 so the client does not hang.
      if (!res.headersSent) send(res, 500, { error: { type: 'api_error', message: `stripe-test-server bug: ${String(error)}` } }, {});
    });
  };
}

async function apiAnswer(
  p: Pipeline,
  req: IncomingMessage,
  method: string,
  url: URL,
  raw: string,
  match: RouteMatch | undefined,
  idempotencyKey: string | null,
  requestId: string,
): Promise<Answer> {
  let concurrencyKey: string | null = null;
  try {
    authenticate(p.state, headerOf(req, 'authorization'), match?.route.auth ?? 'secret', p.clock.now());
    const fault = p.faults.take(method, url.pathname);
    const params = parseParams(method, url, raw);
    const ctx: RouteContext = { method, path: url.pathname, pathParams: match?.pathParams ?? {}, ...params, nowMs: p.clock.now() };
    // Checked on arrival: the rule is about calls that overlap, including their time in flight.
    concurrencyKey = match?.route.concurrencyKey?.(ctx) ?? null;
    if (concurrencyKey !== null && !p.faults.enter(concurrencyKey)) {
      concurrencyKey = null;
      throw rateLimited(
        'Too many concurrent requests for this customer and meter: only one meter event call per customer per meter may be in flight.',
      );
    }
    const delay = p.faults.baseLatency() + (fault?.delayMs ?? 0);
    if (delay > 0) await sleep(delay);
    const failing = fault && (fault.status !== undefined || fault.reset) ? fault : undefined;
    if (failing && !failing.processed) return faultAnswer(failing);
    if (!p.faults.admit())
      throw rateLimited('Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.');
    if (!match) throw unrecognizedUrl(method, url.pathname);
    // The clock is read again after any delay, so a held request is judged at the time it runs.
    const answer = execute(p, match.route, { ...ctx, nowMs: p.clock.now() }, idempotencyKey, requestId);
    return failing ? faultAnswer(failing) : answer;
  } catch (error) {
    if (error instanceof StripeHttpError) return errorAnswer(error);
    throw error;
  } finally {
    if (concurrencyKey !== null) p.faults.leave(concurrencyKey);
  }
}

/** Runs the handler behind Stripe's idempotency layer. */
function execute(p: Pipeline, route: Route, ctx: RouteContext, key: string | null, requestId: string): Answer {
  if (key === null) return runHandler(route, ctx).answer;
  const print = fingerprint(ctx.method, ctx.path, ctx.path.startsWith('/v2/') ? ctx.json : ctx.form);
  const decision = p.idempotency.begin(key, print, ctx.nowMs);
  switch (decision.kind) {
    case 'replay': {
      const { saved } = decision;
      return {
        status: saved.status,
        body: saved.body,
        headers: { ...saved.headers, 'Idempotent-Replayed': 'true', 'Original-Request': saved.requestId },
        replayed: true,
      };
    }
    case 'mismatch':
      throw idempotencyMismatch(key);
    case 'in_use':
      throw idempotencyInUse(key);
    case 'execute': {
      let outcome: { answer: Answer; save: boolean } | undefined;
      try {
        outcome = runHandler(route, ctx);
        return outcome.answer;
      } finally {
        // A handler that blew up (a server bug) frees the key rather than leaving it "in use" forever.
        const saved: SavedResponse | null = outcome?.save
          ? { status: outcome.answer.status, body: outcome.answer.body, headers: outcome.answer.headers, requestId }
          : null;
        p.idempotency.finish(key, saved);
      }
    }
    default: {
      const unreachable: never = decision;
      throw new Error(`unknown idempotency decision ${JSON.stringify(unreachable)}`);
    }
  }
}

function runHandler(route: Route, ctx: RouteContext): { answer: Answer; save: boolean } {
  try {
    const result = route.handle(ctx);
    return { answer: { status: result.status ?? 200, body: result.body, headers: result.headers ?? {} }, save: true };
  } catch (error) {
    if (error instanceof StripeHttpError) return { answer: errorAnswer(error), save: error.saveIdempotent };
    throw error;
  }
}

function authenticate(state: StripeState, header: string | null, mode: Route['auth'], nowMs: number): void {
  if (!header) throw missingApiKey();
  const [scheme, value = ''] = header.split(' ', 2);
  // Stripe also takes the key as the Basic-auth user name (curl -u sk_test_...:), so accept both.
  const key = scheme?.toLowerCase() === 'basic' ? (Buffer.from(value, 'base64').toString('utf8').split(':')[0] ?? '') : value;
  if (scheme?.toLowerCase() !== 'bearer' && scheme?.toLowerCase() !== 'basic') throw missingApiKey();
  if (mode === 'session') {
    const session = state.sessions.get(key);
    if (!session) throw invalidApiKey(key);
    if (nowMs >= session.expiresAtMs) throw sessionExpired();
    return;
  }
  // Test-mode secret or restricted keys only: a live key pointed here is a configuration mistake.
  if (!/^(sk|rk)_test_\S+$/.test(key)) throw invalidApiKey(key);
}

function parseParams(method: string, url: URL, raw: string): { form: Params; json: unknown } {
  if (!url.pathname.startsWith('/v2/')) return { form: parseForm(method === 'GET' ? url.search.slice(1) : raw), json: {} };
  if (method !== 'POST' || raw.trim() === '') return { form: parseForm(url.search.slice(1)), json: {} };
  try {
    return { form: {}, json: JSON.parse(raw) as unknown };
  } catch {
    throw invalidParam('The request body is not valid JSON.', 'body');
  }
}

function faultAnswer(fault: FaultSpec): Answer {
  const label = fault.reset ? 'reset' : String(fault.status);
  if (fault.reset) return { status: 0, body: null, headers: {}, reset: true, fault: label };
  const error =
    fault.status === 429
      ? rateLimited('Request rate limit exceeded (injected by the Stripe test server).', fault.shouldRetry)
      : apiError(fault.status ?? 500, fault.shouldRetry);
  return { ...errorAnswer(error), fault: label };
}

function errorAnswer(error: StripeHttpError): Answer {
  return { status: error.status, body: { error: error.error }, headers: error.headers };
}

function headerOf(req: IncomingMessage, name: string): string | null {
  const value = req.headers[name];
  return Array.isArray(value) ? (value[0] ?? null) : (value ?? null);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) reject(new Error('body too large'));
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string>): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}
