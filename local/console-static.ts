/**
 * The console's static half: the built app (console/dist) with an SPA fallback, the security headers every
 * console response carries, and the small JSON and HTML answers the session half shares.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { extname, join, normalize, resolve, sep } from 'node:path';

const SAFE_METHODS = new Set(['GET', 'HEAD']);

/** The security headers of every console response (the deployed console's CloudFront policy says the same). */
export const CONSOLE_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/** A request as the console sees it. */
export interface ConsoleRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  /** Lower-case header names. */
  headers: Record<string, string>;
  body: Buffer;
}

export interface ConsoleResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: Buffer | string;
}

/** A GET or HEAD for the built app under `dir`: the file, or index.html for a client-side route. */
export function serveStatic(dir: string, req: ConsoleRequest): ConsoleResponse {
  if (!SAFE_METHODS.has(req.method)) return jsonResponse(405, { error: 'method not allowed' });
  const index = join(dir, 'index.html');
  if (!existsSync(index))
    return htmlResponse(503, 'Console not built', 'The console is not built yet: run npm run build:console, or restart npm start.');
  const file = fileUnder(dir, req.path);
  if (file === undefined) return jsonResponse(400, { error: 'invalid path' });
  const hit = file && existsSync(file) && statSync(file).isFile() ? file : undefined;
  if (!hit && (req.path.startsWith('/assets/') || Object.hasOwn(CONTENT_TYPES, extname(req.path).toLowerCase())))
    return jsonResponse(404, { error: 'not found' });
  const served = hit ?? index;
  const isIndex = served === index;
  const body = readFileSync(served);
  return {
    statusCode: 200,
    headers: {
      'content-type': CONTENT_TYPES[extname(served).toLowerCase()] ?? 'application/octet-stream',
      // Built assets carry their content hash in their name; the page that names them must be revalidated.
      'cache-control': isIndex ? 'no-cache' : req.path.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
      'content-length': String(body.length),
    },
    body: req.method === 'HEAD' ? '' : body,
  };
}

/** The file a URL path names under `dir`: undefined for a path that is not one (NUL, escapes); '' for the root. */
export function fileUnder(dir: string, urlPath: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return undefined;
  if (decoded === '/' || decoded === '') return '';
  const full = resolve(dir, `.${normalize(`/${decoded}`)}`);
  return full.startsWith(`${dir}${sep}`) ? full : undefined;
}

export function jsonResponse(statusCode: number, body: unknown): ConsoleResponse {
  return { statusCode, headers: { 'content-type': 'application/json', 'cache-control': 'no-store' }, body: JSON.stringify(body) };
}

export function htmlResponse(statusCode: number, title: string, message: string): ConsoleResponse {
  const page = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head><body><main><h1>${title}</h1><p>${message}</p><p><a href="/">Sign in</a></p></main></body></html>`;
  return { statusCode, headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }, body: page };
}
