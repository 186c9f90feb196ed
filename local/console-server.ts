/**
 * The console, served locally by the HTTP bridge next to the API: the built app (console/dist) with an SPA
 * fallback, and cookie sessions in place of the deployed console's Cognito sign-in.
 *
 * - A one-time sign-in link (`/console/sign-in?token=…`, printed by `npm start` and `meter serve`, as Jupyter
 *   prints its token) or an API key posted to `/console/session` opens a session: an HttpOnly, SameSite=Strict
 *   cookie (Secure behind https) naming a session held in this process's memory for 12 hours.
 * - A request to `/v1/*` that carries the cookie and no Authorization of its own is forwarded with the session's
 *   key as its bearer, so the API checks roles, revocation and audit exactly as for any other caller.
 * - A cookie-carried mutation must carry the session's CSRF token (`x-csrf-token`) and a same-origin `Origin`;
 *   otherwise it is refused and nothing reaches the API. Requests naming another Host are refused (DNS rebinding).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { resolve } from 'node:path';
import type { KeyRole } from '../functions/core/shared/ports.js';
import { CONSOLE_HEADERS, type ConsoleRequest, type ConsoleResponse, htmlResponse, jsonResponse, serveStatic } from './console-static.js';

export type { ConsoleRequest, ConsoleResponse } from './console-static.js';

/** Console roles: an ingest key sends events, it does not sign in. */
const CONSOLE_ROLES: readonly KeyRole[] = ['finance', 'analyst', 'admin'];
export const SESSION_COOKIE = 'meter_session';
export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** What a key is, as far as signing in needs: undefined when no such key is stored. */
export type KeyLookup = (key: string) => Promise<{ principal: string; role: KeyRole; revokedAt?: string } | undefined>;

export interface ConsoleServerOptions {
  /** The built console (console/dist). */
  dir: string;
  /** The port the bridge listens on: same-origin checks accept 127.0.0.1, localhost and [::1] on it. */
  port: number;
  /** A host name the bridge is also reached by (its listen address, when not loopback). */
  host?: string;
  lookupKey: KeyLookup;
  /** The key a one-time sign-in link signs in as. */
  signInKey: string;
  /** Wall-clock milliseconds, for session expiry (never the business clock, which tests fix). */
  now?: () => number;
}

/** What to do with a request: answer it here, or pass it on to the API with these headers. */
export type ConsoleOutcome = { respond: ConsoleResponse } | { forward: Record<string, string> };

interface Session {
  key: string;
  principal: string;
  role: KeyRole;
  csrfToken: string;
  expiresAt: number;
}

export interface ConsoleServer {
  handle(req: ConsoleRequest): Promise<ConsoleOutcome>;
  /** Mints a new one-time sign-in token and returns the link's path and query (`/console/sign-in?token=…`). */
  newSignInPath(): string;
}

export function makeConsoleServer(o: ConsoleServerOptions): ConsoleServer {
  const now = o.now ?? Date.now;
  const dir = resolve(o.dir);
  const sessions = new Map<string, Session>();
  /** Pending one-time tokens, by their SHA-256 (so a lookup compares digests, never the token itself). */
  const pendingTokens: Buffer[] = [];
  const hosts = new Set([`127.0.0.1:${o.port}`, `localhost:${o.port}`, `[::1]:${o.port}`]);
  if (o.host && !['127.0.0.1', 'localhost', '::1', '0.0.0.0', '::'].includes(o.host)) hosts.add(`${o.host}:${o.port}`);

  const sessionOf = (headers: Record<string, string>): [string, Session] | undefined => {
    const id = cookieValue(headers.cookie, SESSION_COOKIE);
    if (!id) return undefined;
    const s = sessions.get(id);
    if (!s) return undefined;
    if (s.expiresAt <= now()) {
      sessions.delete(id);
      return undefined;
    }
    return [id, s];
  };

  const open = async (key: string): Promise<Session | undefined> => {
    const found = await o.lookupKey(key);
    if (!found || found.revokedAt !== undefined) return undefined;
    if (!CONSOLE_ROLES.includes(found.role)) return { key, principal: found.principal, role: found.role, csrfToken: '', expiresAt: 0 };
    return { key, principal: found.principal, role: found.role, csrfToken: token(), expiresAt: now() + SESSION_TTL_MS };
  };

  const cookieFor = (req: ConsoleRequest, id: string, maxAgeSec: number) =>
    [
      `${SESSION_COOKIE}=${id}`,
      'HttpOnly',
      'SameSite=Strict',
      'Path=/',
      `Max-Age=${maxAgeSec}`,
      ...(isHttps(req.headers) ? ['Secure'] : []),
    ].join('; ');

  const start = (s: Session): string => {
    const id = token();
    sessions.set(id, s);
    return id;
  };

  async function handleConsole(req: ConsoleRequest): Promise<ConsoleResponse> {
    const { method, path } = req;
    if (path === '/console/config.json' && SAFE_METHODS.has(method)) return jsonResponse(200, { auth: 'local' });

    if (path === '/console/sign-in' && method === 'GET') {
      const given = req.query.get('token') ?? '';
      if (!consumeToken(pendingTokens, given))
        return htmlResponse(
          401,
          'Sign-in link not valid',
          'This sign-in link was already used or is not valid. Restart the local stack for a new one, or sign in with an API key.',
        );
      const s = await open(o.signInKey);
      if (!s || s.expiresAt === 0) return htmlResponse(401, 'Sign-in link not valid', 'The key behind this link can no longer sign in.');
      const id = start(s);
      // The token leaves the address bar: the browser lands on the console's root.
      return {
        statusCode: 302,
        headers: { location: '/', 'set-cookie': cookieFor(req, id, SESSION_TTL_MS / 1000), 'cache-control': 'no-store' },
        body: '',
      };
    }

    if (path === '/console/session') {
      if (method === 'GET') {
        const found = sessionOf(req.headers);
        if (!found) return jsonResponse(401, { error: 'not signed in' });
        const [id, s] = found;
        // A key revoked since sign-in ends the session at once, as it ends the key's API access.
        const still = await o.lookupKey(s.key);
        if (!still || still.revokedAt !== undefined) {
          sessions.delete(id);
          return jsonResponse(401, { error: 'this session’s key was revoked' });
        }
        return jsonResponse(200, { principal: s.principal, role: s.role, csrfToken: s.csrfToken });
      }
      if (method === 'POST') {
        if (!sameOriginOrAbsent(req.headers, hosts)) return jsonResponse(403, { error: 'cross-origin sign-in refused' });
        if (!(req.headers['content-type'] ?? '').toLowerCase().startsWith('application/json'))
          return jsonResponse(415, { error: 'send {"apiKey": "..."} as application/json' });
        let apiKey: unknown;
        try {
          apiKey = (JSON.parse(req.body.toString('utf8')) as { apiKey?: unknown })?.apiKey;
        } catch {
          return jsonResponse(400, { error: 'invalid request', errors: [{ field: 'body', message: 'must be JSON' }] });
        }
        if (typeof apiKey !== 'string' || apiKey.trim() === '')
          return jsonResponse(400, { error: 'invalid request', errors: [{ field: 'apiKey', message: 'is required (a string)' }] });
        const s = await open(apiKey.trim());
        if (!s) return jsonResponse(401, { error: 'unknown or revoked API key' });
        if (s.expiresAt === 0) return jsonResponse(403, { error: `a ${s.role} key cannot sign in to the console` });
        const id = start(s);
        return {
          statusCode: 204,
          headers: { 'set-cookie': cookieFor(req, id, SESSION_TTL_MS / 1000), 'cache-control': 'no-store' },
          body: '',
        };
      }
      if (method === 'DELETE') {
        const found = sessionOf(req.headers);
        if (found) {
          const refusal = csrfRefusal(req, found[1], hosts);
          if (refusal) return refusal;
          sessions.delete(found[0]);
        }
        return { statusCode: 204, headers: { 'set-cookie': cookieFor(req, '', 0), 'cache-control': 'no-store' }, body: '' };
      }
      return jsonResponse(405, { error: 'method not allowed' });
    }
    return jsonResponse(404, { error: 'not found' });
  }

  return {
    newSignInPath() {
      const t = token();
      pendingTokens.push(digest(t));
      return `/console/sign-in?token=${t}`;
    },
    async handle(req) {
      const isApi = req.path === '/v1' || req.path.startsWith('/v1/');
      const found = sessionOf(req.headers);
      if (isApi) {
        const headers = { ...req.headers };
        // The session cookie is the console's business, never the API's (nor its logs').
        delete headers.cookie;
        if (!found || req.headers.authorization) return { forward: headers };
        if (!hosts.has(req.headers.host ?? ''))
          return { respond: withSecurity(jsonResponse(403, { error: 'unexpected Host for a console session' })) };
        if (!SAFE_METHODS.has(req.method)) {
          const refusal = csrfRefusal(req, found[1], hosts);
          if (refusal) return { respond: withSecurity(refusal) };
        }
        headers.authorization = `Bearer ${found[1].key}`;
        return { forward: headers };
      }
      if (!hosts.has(req.headers.host ?? '')) return { respond: withSecurity(jsonResponse(403, { error: 'unexpected Host' })) };
      const res = req.path === '/console' || req.path.startsWith('/console/') ? await handleConsole(req) : serveStatic(dir, req);
      return { respond: withSecurity(res) };
    },
  };
}

/** 403 unless a cookie-carried mutation names the session's CSRF token and comes from this origin. */
function csrfRefusal(req: ConsoleRequest, s: Session, hosts: ReadonlySet<string>): ConsoleResponse | undefined {
  const given = req.headers['x-csrf-token'] ?? '';
  if (!equalSecrets(given, s.csrfToken)) return jsonResponse(403, { error: 'missing or wrong x-csrf-token' });
  if (!sameOrigin(req.headers.origin, hosts)) return jsonResponse(403, { error: 'cross-origin request refused' });
  return undefined;
}

function sameOrigin(origin: string | undefined, hosts: ReadonlySet<string>): boolean {
  if (!origin) return false;
  try {
    const u = new URL(origin);
    return (u.protocol === 'http:' || u.protocol === 'https:') && hosts.has(u.host) && u.pathname === '/';
  } catch {
    return false;
  }
}

/** Sign-in from a page must be same-origin; a command-line client sends no Origin at all. */
function sameOriginOrAbsent(headers: Record<string, string>, hosts: ReadonlySet<string>): boolean {
  return headers.origin === undefined || sameOrigin(headers.origin, hosts);
}

function isHttps(headers: Record<string, string>): boolean {
  return (headers['x-forwarded-proto'] ?? '').split(',')[0]?.trim().toLowerCase() === 'https';
}

export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function token(): string {
  return randomBytes(32).toString('base64url');
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** Compares two secrets in time independent of where they differ. */
function equalSecrets(a: string, b: string): boolean {
  if (b === '') return false;
  return timingSafeEqual(digest(a), digest(b));
}

/** Removes and accepts `given` when it is a pending token; every pending token is compared, in constant time each. */
function consumeToken(pending: Buffer[], given: string): boolean {
  if (!given) return false;
  const d = digest(given);
  let hit = -1;
  for (let i = 0; i < pending.length; i++) if (timingSafeEqual(pending[i]!, d)) hit = i;
  if (hit < 0) return false;
  pending.splice(hit, 1);
  return true;
}

function withSecurity(res: ConsoleResponse): ConsoleResponse {
  return { ...res, headers: { ...CONSOLE_HEADERS, ...res.headers } };
}
