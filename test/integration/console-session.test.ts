import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalStack, startLocalStack } from '../../local/stack.js';

// The local stack serving the console: static files with the SPA fallback, one-time sign-in links, API-key
// sign-in, the cookie session forwarded to /v1 as the key's bearer, and CSRF on cookie-carried mutations.
let stack: LocalStack;
const root = mkdtempSync(join(tmpdir(), 'console-dist-'));
const dist = join(root, 'dist');
const SECRET = 'a-file-next-to-the-console-that-must-never-be-served';
const INDEX = '<!doctype html><html lang="en"><title>console</title><div id="root"></div></html>';
const ASSET = 'console.log("app")';

type Answer = { status: number; headers: Headers; text: string; json: Record<string, unknown> };
async function call(path: string, init: RequestInit = {}): Promise<Answer> {
  const res = await fetch(`${stack.url}${path}`, { redirect: 'manual', ...init });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = text ? JSON.parse(text) : {};
  } catch {}
  return { status: res.status, headers: res.headers, text, json };
}
const cookieOf = (a: Answer) => a.headers.get('set-cookie')?.split(';')[0];

async function issue(role: string, principal: string) {
  const r = await call('/v1/keys', {
    method: 'POST',
    headers: { authorization: `Bearer ${stack.adminKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ role, principal }),
  });
  expect(r.status).toBe(201);
  return r.json as { key: string; id: string };
}

async function signInWithKey(apiKey: string, headers: Record<string, string> = {}) {
  return call('/console/session', {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: stack.url, ...headers },
    body: JSON.stringify({ apiKey }),
  });
}

/** A session opened with a key: its cookie and CSRF token. */
async function session(apiKey: string) {
  const opened = await signInWithKey(apiKey);
  expect(opened.status).toBe(204);
  const cookie = cookieOf(opened)!;
  const s = await call('/console/session', { headers: { cookie } });
  expect(s.status).toBe(200);
  return { cookie, csrf: s.json.csrfToken as string };
}

/** A raw request naming its own Host header, which fetch will not send. */
function rawGet(path: string, host: string, headers: Record<string, string> = {}): Promise<number> {
  const u = new URL(stack.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path, headers: { host, ...headers } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  mkdirSync(join(dist, 'assets'), { recursive: true });
  writeFileSync(join(dist, 'index.html'), INDEX);
  writeFileSync(join(dist, 'assets', 'index-abc123.js'), ASSET);
  writeFileSync(join(root, 'secret.txt'), SECRET);
  stack = await startLocalStack({ noPoller: true, consoleDir: dist });
}, 180_000);
afterAll(async () => {
  await stack?.stop();
  rmSync(root, { recursive: true, force: true });
});

describe('static console', () => {
  it('serves index.html uncached with the security headers, hashed assets immutable, and deep links as the app', async () => {
    // Act
    const index = await call('/');
    const asset = await call('/assets/index-abc123.js');
    const deep = await call('/flags/01JXYZ?status=open');
    const dotted = await call('/finance/statements/acme.corp');
    // Assert
    expect(index.status).toBe(200);
    expect(index.text).toBe(INDEX);
    expect(index.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(index.headers.get('cache-control')).toBe('no-cache');
    expect(index.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(index.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(index.headers.get('x-content-type-options')).toBe('nosniff');
    expect(index.headers.get('referrer-policy')).toBe('no-referrer');
    expect(index.headers.get('x-frame-options')).toBe('DENY');
    expect(asset.status).toBe(200);
    expect(asset.text).toBe(ASSET);
    expect(asset.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(deep.text).toBe(INDEX);
    expect(dotted.text).toBe(INDEX);
  });

  it('answers 404 for a missing asset, 405 for a write outside the API, and leaves /v1 to the API', async () => {
    // Act
    const missing = await call('/assets/gone-000.js');
    const write = await call('/flags', { method: 'POST', body: 'x' });
    const unknownApi = await call('/v1/no-such-route');
    const keys = await call('/v1/keys');
    // Assert
    expect(missing.status).toBe(404);
    expect(write.status).toBe(405);
    expect(unknownApi.status).toBe(404);
    expect(unknownApi.headers.get('content-security-policy')).toBeNull();
    expect(keys.status).toBe(401);
  });

  it('never serves a byte from outside the console directory, however the path is spelled', async () => {
    // Prepare: paths built of traversal spellings, encoded and not
    const part = fc.constantFrom('..', '%2e%2e', '.%2e', '%2E%2E', '%2f', '%5c', '..%2f', '..%5c', 'secret.txt', '.', '', 'dist', '%00');
    await fc.assert(
      fc.asyncProperty(fc.array(part, { minLength: 1, maxLength: 6 }), async (parts) => {
        // Act
        const res = await call(`/${parts.join('/')}`);
        // Assert
        expect(res.text).not.toContain(SECRET);
      }),
      { numRuns: 60 },
    );
  });

  it('refuses requests for another Host, so a rebound DNS name cannot reach the console', async () => {
    // Act
    const port = new URL(stack.url).port;
    const own = await rawGet('/', `127.0.0.1:${port}`);
    const localhost = await rawGet('/', `localhost:${port}`);
    const rebound = await rawGet('/', `evil.example:${port}`);
    // Assert
    expect(own).toBe(200);
    expect(localhost).toBe(200);
    expect(rebound).toBe(403);
  });

  it('publishes the local sign-in mode', async () => {
    // Act
    const config = await call('/console/config.json');
    // Assert
    expect(config.json).toEqual({ auth: 'local' });
  });
});

describe('the one-time sign-in link', () => {
  it('swaps its token for an HttpOnly, SameSite=Strict cookie and a clean URL, once', async () => {
    // Act
    const first = await call(new URL(stack.signInUrl!).pathname + new URL(stack.signInUrl!).search);
    const again = await call(new URL(stack.signInUrl!).pathname + new URL(stack.signInUrl!).search);
    const cookie = cookieOf(first)!;
    const who = await call('/console/session', { headers: { cookie } });
    // Assert
    expect(first.status).toBe(302);
    expect(first.headers.get('location')).toBe('/');
    const attrs = first.headers.get('set-cookie')!;
    expect(attrs).toMatch(/^meter_session=[A-Za-z0-9_-]{43};/);
    expect(attrs).toContain('HttpOnly');
    expect(attrs).toContain('SameSite=Strict');
    expect(attrs).toContain('Path=/');
    expect(attrs).not.toContain('Secure');
    expect(again.status).toBe(401);
    expect(again.headers.get('set-cookie')).toBeNull();
    expect(who.json).toMatchObject({ principal: 'local-admin', role: 'admin' });
    expect(who.json.csrfToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('marks the cookie Secure behind https, and refuses a made-up token', async () => {
    // Act
    const link = new URL(stack.newSignInUrl!());
    const secure = await call(link.pathname + link.search, { headers: { 'x-forwarded-proto': 'https' } });
    const forged = await call(`/console/sign-in?token=${'A'.repeat(43)}`);
    const empty = await call('/console/sign-in');
    // Assert
    expect(secure.status).toBe(302);
    expect(secure.headers.get('set-cookie')).toContain('Secure');
    expect(forged.status).toBe(401);
    expect(empty.status).toBe(401);
    expect(forged.headers.get('set-cookie')).toBeNull();
  });
});

describe('signing in with an API key', () => {
  it('opens a session for finance, analyst and admin keys, forwarded to /v1 as that key', async () => {
    // Prepare
    const finance = await issue('finance', 'fin@example.com');
    const analyst = await issue('analyst', 'ana@example.com');
    // Act
    const fin = await session(finance.key);
    const ana = await session(analyst.key);
    const finMe = await call('/v1/me', { headers: { cookie: fin.cookie } });
    const anaMe = await call('/v1/me', { headers: { cookie: ana.cookie } });
    const finKeys = await call('/v1/keys', { headers: { cookie: fin.cookie } });
    // Assert
    expect(finMe.json).toEqual({ principal: 'fin@example.com', role: 'finance' });
    expect(anaMe.json).toEqual({ principal: 'ana@example.com', role: 'analyst' });
    expect(finKeys.status).toBe(403);
  });

  it('refuses ingest keys (403), unknown and revoked keys (401), a missing key (400) and cross-origin sign-in, without a cookie', async () => {
    // Prepare
    const revoked = await issue('finance', 'gone@example.com');
    const del = await call(`/v1/keys/${revoked.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${stack.adminKey}` } });
    expect(del.status).toBe(200);
    // Act
    const answers = {
      ingest: await signInWithKey(stack.ingestKey),
      unknown: await signInWithKey('mk_admin_not-a-key-we-issued'),
      revoked: await signInWithKey(revoked.key),
      missing: await call('/console/session', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }),
      form: await call('/console/session', {
        method: 'POST',
        headers: { 'content-type': 'text/plain' },
        body: `{"apiKey":"${stack.adminKey}"}`,
      }),
      crossOrigin: await signInWithKey(stack.adminKey, { origin: 'https://evil.example' }),
    };
    // Assert
    expect(answers.ingest.status).toBe(403);
    expect(answers.unknown.status).toBe(401);
    expect(answers.revoked.status).toBe(401);
    expect(answers.missing.status).toBe(400);
    expect(answers.missing.json.errors).toEqual([{ field: 'apiKey', message: 'is required (a string)' }]);
    expect(answers.form.status).toBe(415);
    expect(answers.crossOrigin.status).toBe(403);
    for (const a of Object.values(answers)) expect(a.headers.get('set-cookie')).toBeNull();
  });

  it("keeps a request's own Authorization over the cookie, and never forwards the cookie to the API", async () => {
    // Prepare
    const admin = await session(stack.adminKey);
    const finance = await issue('finance', 'own-bearer@example.com');
    // Act
    const me = await call('/v1/me', { headers: { cookie: admin.cookie, authorization: `Bearer ${finance.key}` } });
    // Assert
    expect(me.json).toEqual({ principal: 'own-bearer@example.com', role: 'finance' });
  });
});

describe('CSRF on cookie-carried mutations', () => {
  it('refuses a mutation without the token, with a wrong one, or from another origin, and nothing is done', async () => {
    // Prepare
    const admin = await session(stack.adminKey);
    const before = await call('/v1/keys?limit=200', { headers: { cookie: admin.cookie } });
    const body = JSON.stringify({ role: 'finance', principal: 'csrf-victim@example.com' });
    const post = (headers: Record<string, string>) =>
      call('/v1/keys', { method: 'POST', headers: { cookie: admin.cookie, 'content-type': 'application/json', ...headers }, body });
    // Act
    const none = await post({ origin: stack.url });
    const wrong = await post({ origin: stack.url, 'x-csrf-token': 'x'.repeat(43) });
    const foreign = await post({ origin: 'https://evil.example', 'x-csrf-token': admin.csrf });
    const noOrigin = await post({ 'x-csrf-token': admin.csrf });
    const after = await call('/v1/keys?limit=200', { headers: { cookie: admin.cookie } });
    const good = await post({ origin: stack.url, 'x-csrf-token': admin.csrf });
    // Assert
    for (const refused of [none, wrong, foreign, noOrigin]) expect(refused.status).toBe(403);
    expect(after.json).toEqual(before.json);
    expect(good.status).toBe(201);
  });

  it('signs out only with the token; afterwards the cookie opens nothing', async () => {
    // Prepare
    const admin = await session(stack.adminKey);
    // Act
    const forged = await call('/console/session', { method: 'DELETE', headers: { cookie: admin.cookie, origin: stack.url } });
    const stillIn = await call('/console/session', { headers: { cookie: admin.cookie } });
    const out = await call('/console/session', {
      method: 'DELETE',
      headers: { cookie: admin.cookie, origin: stack.url, 'x-csrf-token': admin.csrf },
    });
    const session401 = await call('/console/session', { headers: { cookie: admin.cookie } });
    const api401 = await call('/v1/me', { headers: { cookie: admin.cookie } });
    // Assert
    expect(forged.status).toBe(403);
    expect(stillIn.status).toBe(200);
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toContain('Max-Age=0');
    expect(session401.status).toBe(401);
    expect(api401.status).toBe(401);
  });

  it('ends a session whose key is revoked', async () => {
    // Prepare
    const key = await issue('analyst', 'revoked-later@example.com');
    const s = await session(key.key);
    // Act
    await call(`/v1/keys/${key.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${stack.adminKey}` } });
    const who = await call('/console/session', { headers: { cookie: s.cookie } });
    const me = await call('/v1/me', { headers: { cookie: s.cookie } });
    // Assert
    expect(who.status).toBe(401);
    expect(me.status).toBe(401);
  });
});
