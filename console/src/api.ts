// The one door to the public API. Every page goes through `api` so that cookie credentials, the CSRF
// header on mutations and the Cognito bearer token are added in exactly one place.

export type Query = Record<string, string | number | undefined>;

export class ApiError extends Error {
  status: number;
  errors?: { field: string; message: string }[];
  constructor(status: number, message: string, errors?: { field: string; message: string }[]) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    if (errors) this.errors = errors;
  }
}

// Set by the session layer once it knows the CSRF token (local) or the id token (cognito).
let csrfToken: string | undefined;
let bearerToken: string | undefined;
let onUnauthorized: (() => void) | undefined;

export function setCsrfToken(token: string | undefined): void {
  csrfToken = token;
}
/** The CSRF header for a cookie-carried mutation outside `api` (signing out). */
export function csrfHeaders(): Record<string, string> {
  return csrfToken ? { 'x-csrf-token': csrfToken } : {};
}
export function setBearerToken(token: string | undefined): void {
  bearerToken = token;
}
export function setUnauthorizedHandler(fn: (() => void) | undefined): void {
  onUnauthorized = fn;
}

export function apiUrl(path: string, query?: Query): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) {
    if (v !== undefined && v !== '') params.set(k, String(v));
  }
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

export async function api<T>(path: string, opts: { method?: string; query?: Query; body?: unknown } = {}): Promise<T> {
  const method = (opts.method ?? 'GET').toUpperCase();
  const headers: Record<string, string> = { accept: 'application/json' };
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  if (!SAFE.has(method) && csrfToken) headers['x-csrf-token'] = csrfToken;
  if (bearerToken) headers.authorization = `Bearer ${bearerToken}`;
  const res = await fetch(apiUrl(path, opts.query), {
    method,
    headers,
    credentials: 'same-origin',
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  const text = await res.text();
  let data: unknown;
  try {
    data = text ? JSON.parse(text) : undefined;
  } catch {
    data = text;
  }
  if (!res.ok) {
    const body = (data && typeof data === 'object' ? data : {}) as {
      error?: string;
      errors?: { field: string; message: string }[];
    };
    // A lapsed session anywhere sends the user back to sign-in; the sign-in call itself handles its own 401.
    if (res.status === 401 && !path.startsWith('/console/')) onUnauthorized?.();
    throw new ApiError(res.status, body.error ?? `Request failed (${res.status})`, body.errors);
  }
  return data as T;
}

/** A message fit for a role=alert region, naming the fields the server rejected. */
export function errorText(err: unknown): string {
  if (err instanceof ApiError) {
    const fields = err.errors?.map((e) => `${e.field}: ${e.message}`).join('; ');
    return fields ? `${err.message} (${fields})` : err.message;
  }
  return err instanceof Error ? err.message : String(err);
}
