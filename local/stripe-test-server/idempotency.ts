import { DAY_MS } from './state.js';

/** A response kept so a retry with the same key gets it back unchanged. */
export interface SavedResponse {
  status: number;
  body: unknown;
  headers: Record<string, string>;
  requestId: string;
}

/** What to do with an incoming request that carries an `Idempotency-Key`. */
export type IdempotencyDecision =
  | { kind: 'execute' }
  | { kind: 'replay'; saved: SavedResponse }
  | { kind: 'mismatch' }
  | { kind: 'in_use' };

interface Entry {
  fingerprint: string;
  atMs: number;
  saved: SavedResponse | null;
}

/**
 * Stripe's idempotency layer: the first response for a key is saved for 24 hours and replayed
 * for the same endpoint and parameters; other parameters get an idempotency_error.
 */
export class IdempotencyStore {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly ttlMs = DAY_MS) {}

  /** Claims `key` for this request or says how to answer instead. */
  begin(key: string, fingerprint: string, nowMs: number): IdempotencyDecision {
    const entry = this.entries.get(key);
    if (entry && nowMs - entry.atMs >= this.ttlMs) this.entries.delete(key);
    const live = this.entries.get(key);
    if (!live) {
      this.entries.set(key, { fingerprint, atMs: nowMs, saved: null });
      return { kind: 'execute' };
    }
    if (live.fingerprint !== fingerprint) return { kind: 'mismatch' };
    if (!live.saved) return { kind: 'in_use' };
    return { kind: 'replay', saved: live.saved };
  }

  /** Keeps the endpoint's answer, or with `null` frees the key so the next try runs afresh. */
  finish(key: string, saved: SavedResponse | null): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    if (saved) entry.saved = saved;
    else this.entries.delete(key);
  }

  /** Forgets every key. */
  clear(): void {
    this.entries.clear();
  }
}

/** Same endpoint plus same parameters, independent of key order in the body. */
export function fingerprint(method: string, path: string, params: unknown): string {
  return `${method} ${path} ${canonicalJson(params)}`;
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
