import type { FieldError } from '../contract/errors.js';
import { INGEST_REQUEST_LIMITS } from './constants.js';
import { TransportError } from './errors.js';
import type { CloudEvent, Transport, TransportRejection, TransportResult } from './types.js';

/** Where and how to reach POST /v1/events. */
export interface HttpTransportOptions {
  /** Base URL of the ingest API; events go to `${endpoint}/v1/events`. */
  endpoint: string;
  /** An ingest key, sent as `authorization: Bearer <apiKey>`. */
  apiKey: string;
  requestTimeoutMs: number;
  /** For tests; default the global fetch. */
  fetch?: typeof fetch;
}

/** The body of a 202 from POST /v1/events. */
interface IngestResponse {
  accepted?: { id?: unknown }[];
  rejected?: { index?: unknown; id?: unknown; errors?: FieldError[]; retryable?: unknown }[];
}

/**
 * Transport to POST /v1/events. A batch larger than one request allows (1000 events, 1 MiB) is split.
 * Network errors, timeouts, 429 and 5xx throw retryable TransportErrors; other statuses non-retryable ones.
 * @example const transport = createHttpTransport({ endpoint: 'https://metering.example.com', apiKey, requestTimeoutMs: 10_000 });
 */
export function createHttpTransport(o: HttpTransportOptions): Transport {
  const url = `${o.endpoint.replace(/\/+$/, '')}/v1/events`;
  const doFetch = o.fetch ?? fetch;

  const post = async (events: readonly CloudEvent[], body: string, signal: AbortSignal | undefined): Promise<TransportResult> => {
    const timeout = AbortSignal.timeout(o.requestTimeoutMs);
    let res: Response;
    let text: string;
    try {
      res = await doFetch(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${o.apiKey}`, 'content-type': 'application/cloudevents-batch+json' },
        body,
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
      text = await res.text();
    } catch (err) {
      const reason = timeout.aborted ? 'timeout' : 'network';
      throw new TransportError(reason, `POST ${url} failed (${reason})`, true, {}, { cause: err });
    }
    if (res.status === 429 || res.status >= 500) {
      // The server's own pacing (seconds, or an HTTP date) is honoured by the next try.
      const header = res.headers.get('retry-after');
      const seconds = header === null ? NaN : /^\d+$/.test(header.trim()) ? Number(header) : (Date.parse(header) - Date.now()) / 1000;
      const retryAfterMs = Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds * 1000, MAX_RETRY_AFTER_MS) : undefined;
      throw new TransportError(`http_${res.status}`, `POST ${url} answered ${res.status}`, true, {
        status: res.status,
        ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
      });
    }
    if (res.status !== 202 && res.status !== 200) {
      // 400/401/403/413: the same request would fail the same way. The server's message names no secrets.
      throw new TransportError(`http_${res.status}`, `POST ${url} answered ${res.status}: ${errorOf(text)}`, false, { status: res.status });
    }
    return parseVerdicts(events, text);
  };

  return {
    async send(events, options = {}) {
      const requests = split(events);
      if (requests.length === 1) return post(requests[0]!.events, requests[0]!.body, options.signal);
      // Several requests: one failing must not hide the others' verdicts, so failures become per-event ones.
      const results = await Promise.all(
        requests.map((r) =>
          post(r.events, r.body, options.signal).catch((err: TransportError) => ({
            accepted: [],
            rejected: r.events.map((e) => ({
              id: e.id,
              retryable: err.retryable,
              reason: err.reason,
              errors: [{ field: '', message: err.message }],
            })),
          })),
        ),
      );
      return { accepted: results.flatMap((r) => r.accepted), rejected: results.flatMap((r) => r.rejected) };
    },
  };
}

/** The longest Retry-After honoured: a server asking for more is retried after this (the shutdown deadline still applies). */
const MAX_RETRY_AFTER_MS = 60_000;

/** Splits a batch into request bodies within the ingest limits (a JSON array of CloudEvents each). */
function split(events: readonly CloudEvent[]): { events: CloudEvent[]; body: string }[] {
  const out: { events: CloudEvent[]; body: string }[] = [];
  let cur: { events: CloudEvent[]; parts: string[]; bytes: number } = { events: [], parts: [], bytes: 2 };
  const finish = () => out.push({ events: cur.events, body: `[${cur.parts.join(',')}]` });
  for (const e of events) {
    const json = JSON.stringify(e);
    const size = Buffer.byteLength(json) + 1;
    if (
      cur.events.length > 0 &&
      (cur.events.length === INGEST_REQUEST_LIMITS.maxEvents || cur.bytes + size > INGEST_REQUEST_LIMITS.maxBytes)
    ) {
      finish();
      cur = { events: [], parts: [], bytes: 2 };
    }
    cur.events.push(e);
    cur.parts.push(json);
    cur.bytes += size;
  }
  if (cur.events.length > 0 || out.length === 0) finish();
  return out;
}

/** Reads a 202's verdicts; rejections name events by index (a card-number event comes back without id). */
function parseVerdicts(events: readonly CloudEvent[], text: string): TransportResult {
  let body: IngestResponse;
  try {
    body = JSON.parse(text) as IngestResponse;
  } catch {
    // No readable verdict: every event is retried under the same id, which the pipeline dedupes.
    return { accepted: [], rejected: [] };
  }
  const accepted = (Array.isArray(body.accepted) ? body.accepted : []).flatMap((a) => (typeof a?.id === 'string' ? [a.id] : []));
  const rejected: TransportRejection[] = [];
  for (const r of Array.isArray(body.rejected) ? body.rejected : []) {
    const event = typeof r?.index === 'number' ? events[r.index] : undefined;
    if (event === undefined) continue;
    const errors = Array.isArray(r.errors) ? r.errors : [];
    const retryable = r.retryable === true;
    rejected.push({ id: event.id, retryable, reason: retryable ? 'not_enqueued' : `invalid:${errors[0]?.field || 'event'}`, errors });
  }
  return { accepted, rejected };
}

function errorOf(text: string): string {
  try {
    const e = (JSON.parse(text) as { error?: unknown }).error;
    if (typeof e === 'string') return e.slice(0, 200);
  } catch {
    /* not JSON: fall through */
  }
  return 'no error message';
}
