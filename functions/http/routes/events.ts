import { INGEST_LIMITS } from '../../../contract/ingest-limits.js';
import { ingestEvents } from '../../core/ingest/ingest.js';
import { authenticate, keyAllowsCustomer } from '../../core/shared/api-keys.js';
import { auditEntry } from '../../core/shared/audit-entries.js';
import { logger } from '../../runtime/logger.js';
import { count, ingestCounts } from '../../runtime/metrics.js';
import type { Services } from '../../runtime/services.js';
import { rememberCaller } from '../auth.js';
import { bodyBytes, callerOf } from '../request.js';
import { json } from '../responses.js';
import type { Route } from '../router.js';

export { INGEST_LIMITS };

/**
 * POST /v1/events: authenticate, parse, then validate-enqueue-quarantine in the core.
 * @example curl -H 'authorization: Bearer mk_ingest_…' -H 'content-type: application/cloudevents-batch+json' -d '[…]' $URL/v1/events
 */
export const postEvents: Route<Services> = async ({ event, requestId }, s) => {
  const key = rememberCaller(event, await authenticate(event.headers?.authorization, s.keyByHash, ['ingest', 'admin']));
  const raw = bodyBytes(event);
  if (raw.length > INGEST_LIMITS.maxBytes) return json(413, { error: `request body exceeds ${INGEST_LIMITS.maxBytes} bytes` });
  const refused = unsupportedEncoding(event.headers?.['content-type'], event.headers?.['content-encoding']);
  if (refused) return json(415, { error: refused });
  const text = utf8(raw);
  if (text === undefined) return json(400, { error: 'body is not valid UTF-8' });
  const parsed = parseBody(text, event.headers?.['content-type']);
  if ('error' in parsed) return json(400, { error: parsed.error });
  if (parsed.events.length > INGEST_LIMITS.maxEvents) return json(413, { error: `at most ${INGEST_LIMITS.maxEvents} events per request` });

  // Time-ordered (a ULID): the audit record's id and its quarantined events' key prefix, so each leads to the other.
  const entryId = s.newId();
  const result = await ingestEvents(
    { requestId: entryId, events: parsed.events, boundSource: key.source, allowsCustomer: (id) => keyAllowsCustomer(key, id) },
    { ...s, erasedCustomers: (ids) => s.customerData.erased(ids) },
  );
  await s.audit
    .record(
      auditEntry(entryId, s.clock.now(), {
        action: 'ingest',
        actor: key.principal,
        ...callerOf(event, s.config),
        counts: result.counts,
        details: { source: key.source },
      }),
    )
    // The events are enqueued already: answering 5xx now would make the client resend them.
    .catch((err) => logger.error('audit record lost', { requestId, counts: result.counts, error: err as Error }));
  logger.info('ingest', { requestId, auditId: entryId, source: key.source, ...result.counts });
  count(ingestCounts(result.counts));
  const body = { accepted: result.accepted, rejected: result.rejected };
  // Nothing valid could be enqueued: 503, so a client may resend the whole request as it is.
  // When some could, 202 names the rest as retryable with their ids, so a resend cannot double count.
  const enqueueFailed = result.rejected.some((r) => r.retryable);
  if (enqueueFailed && result.accepted.length === 0) return json(503, body, { 'retry-after': '1' });
  return json(202, body);
};

/** Media types a batch may come as; a missing content type is read as JSON too. */
const JSON_TYPES = new Set(['application/json', 'application/cloudevents+json', 'application/cloudevents-batch+json']);

/** Why the body cannot be read as sent (a compressed body, a type that is not JSON, a charset other than UTF-8), if so. */
function unsupportedEncoding(contentType: string | undefined, contentEncoding: string | undefined): string | undefined {
  const encoding = (contentEncoding ?? '').trim().toLowerCase();
  if (encoding !== '' && encoding !== 'identity') return 'content-encoding is not supported; send the body uncompressed';
  if (contentType === undefined || contentType.trim() === '') return undefined;
  const [type, ...params] = contentType.split(';').map((p) => p.trim().toLowerCase());
  if (!JSON_TYPES.has(type ?? '')) return `content-type must be one of ${[...JSON_TYPES].join(', ')}`;
  const charset = params
    .find((p) => p.startsWith('charset='))
    ?.slice('charset='.length)
    .replace(/"/g, '');
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') return 'charset must be utf-8: JSON is UTF-8 (RFC 8259)';
  return undefined;
}

/** The body as text, or undefined when its bytes are not UTF-8 (decoding would silently replace them). */
function utf8(raw: Buffer): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(raw);
  } catch {
    return undefined;
  }
}

function parseBody(text: string, contentType: string | undefined): { events: unknown[] } | { error: string } {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return { error: 'body is not valid JSON' };
  }
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase();
  if (type === 'application/cloudevents-batch+json' && !Array.isArray(body))
    return { error: 'a batch must be a JSON array of CloudEvents' };
  if (type === 'application/cloudevents+json' && (Array.isArray(body) || typeof body !== 'object' || body === null)) {
    return { error: 'a single CloudEvent must be a JSON object' };
  }
  if (Array.isArray(body)) return { events: body };
  if (typeof body === 'object' && body !== null) return { events: [body] };
  return { error: 'body must be a CloudEvent object or an array of them' };
}
