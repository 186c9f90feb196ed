import { describe, expect, it } from 'vitest';
import { type ConsoleRequest, cookieValue, makeConsoleServer } from '../../../local/console-server.js';
import { fileUnder } from '../../../local/console-static.js';

const HOST = '127.0.0.1:4000';
const req = (method: string, path: string, headers: Record<string, string> = {}, body = ''): ConsoleRequest => ({
  method,
  path,
  query: new URLSearchParams(),
  headers: { host: HOST, ...headers },
  body: Buffer.from(body),
});

describe('console sessions', () => {
  it('expire 12 hours after sign-in: the cookie is then neither a session nor a bearer', async () => {
    // Prepare
    let now = Date.parse('2026-12-03T08:00:00Z');
    const server = makeConsoleServer({
      dir: '/nonexistent',
      port: 4000,
      signInKey: 'mk_admin_x',
      lookupKey: async (key) => (key === 'mk_admin_x' ? { principal: 'p', role: 'admin' } : undefined),
      now: () => now,
    });
    const opened = await server.handle(
      req('POST', '/console/session', { 'content-type': 'application/json' }, JSON.stringify({ apiKey: 'mk_admin_x' })),
    );
    if (!('respond' in opened)) throw new Error('sign-in was forwarded');
    const cookie = String(opened.respond.headers['set-cookie']).split(';')[0]!;
    // Act
    now += 12 * 3_600_000 - 1;
    const before = await server.handle(req('GET', '/v1/me', { cookie }));
    now += 1;
    const after = await server.handle(req('GET', '/v1/me', { cookie }));
    const session = await server.handle(req('GET', '/console/session', { cookie }));
    // Assert
    expect(before).toEqual({ forward: { host: HOST, authorization: 'Bearer mk_admin_x' } });
    expect(after).toEqual({ forward: { host: HOST } });
    expect('respond' in session && session.respond.statusCode).toBe(401);
  });
});

describe('fileUnder', () => {
  it('resolves paths inside the directory and refuses escapes, NUL and backslashes', () => {
    expect(fileUnder('/srv/dist', '/assets/a.js')).toBe('/srv/dist/assets/a.js');
    expect(fileUnder('/srv/dist', '/')).toBe('');
    expect(fileUnder('/srv/dist', '/../secret')).toBe('/srv/dist/secret');
    expect(fileUnder('/srv/dist', '/%2e%2e/%2e%2e/etc/passwd')).toBe('/srv/dist/etc/passwd');
    expect(fileUnder('/srv/dist', '/a%00b')).toBeUndefined();
    expect(fileUnder('/srv/dist', '/..%5csecret')).toBeUndefined();
    expect(fileUnder('/srv/dist', '/%E0%A4%A')).toBeUndefined();
  });
});

describe('cookieValue', () => {
  it('finds the named cookie among others', () => {
    expect(cookieValue('a=1; meter_session=abc; b=2', 'meter_session')).toBe('abc');
    expect(cookieValue('meter_sessionx=abc', 'meter_session')).toBeUndefined();
    expect(cookieValue(undefined, 'meter_session')).toBeUndefined();
  });
});
