import type { Clock } from '../../../contract/clock.js';
import type { FieldError } from '../../../contract/errors.js';
import type { UsageEvent } from '../../../contract/event-contract.js';
import { redactForStorage, validateEvent } from '../../../contract/event-contract.js';
import { packMessages } from '../../../contract/queue-message.js';
import type { EventQueue, QuarantineItem, QuarantineStore } from '../shared/ports.js';

export interface IngestDeps {
  queue: EventQueue;
  quarantine: QuarantineStore;
  clock: Clock;
  newId: () => string;
}

export interface IngestRequest {
  requestId: string;
  events: readonly unknown[];
  /** The source the caller's key is bound to. */
  boundSource?: string;
}

export interface RejectedEvent {
  index: number;
  id?: string;
  errors: FieldError[];
  /** True when the event was valid but could not be enqueued: resend it with the same id. */
  retryable?: boolean;
}

export interface IngestResult {
  accepted: { id: string }[];
  rejected: RejectedEvent[];
  /** Audit counts for the request. */
  counts: Record<string, number>;
}

/**
 * Validates a batch of CloudEvents, enqueues the valid ones and quarantines the invalid ones.
 * An event is reported accepted only once SQS holds it; one that could not be enqueued is reported
 * retryable with its id, so a client retry cannot double count.
 */
export async function ingestEvents(req: IngestRequest, deps: IngestDeps): Promise<IngestResult> {
  const now = deps.clock.now();
  const valid: { index: number; event: UsageEvent }[] = [];
  const rejected: RejectedEvent[] = [];
  const quarantined: QuarantineItem[] = [];
  req.events.forEach((raw, index) => {
    const r = validateEvent(raw, { now, newId: deps.newId, boundSource: req.boundSource });
    if (r.ok) {
      valid.push({ index, event: r.event });
      return;
    }
    // Never kept as sent: card numbers, full addresses and fine geography are cut before storing, and
    // an oversized event is kept as its top-level attributes only (a DynamoDB item holds 400 KB).
    const redacted = redactForStorage(raw);
    const size = JSON.stringify(redacted).length;
    const oversized = size > MAX_QUARANTINED_CHARS;
    const visible = oversized ? attributesOnly(redacted, size) : redacted;
    rejected.push({ index, ...(r.id !== undefined && !r.containsCardNumber ? { id: r.id } : {}), errors: r.errors });
    quarantined.push({
      customerId: subjectOf(visible),
      key: `${req.requestId}#${index}`,
      reason: 'invalid',
      errors: r.errors,
      raw: visible,
      replayable: !r.containsCardNumber && !oversized,
      ...(req.boundSource !== undefined ? { boundSource: req.boundSource } : {}),
      origin: 'ingest',
      quarantinedAt: new Date(now).toISOString(),
      attempts: 0,
    });
  });
  await deps.quarantine.put(quarantined);

  const packed = packMessages(valid.map((v) => v.event));
  const { failed } = await deps.queue.send(packed.map((p) => p.body));
  const failedEvents = new Set(failed.flatMap((m) => packed[m]!.indexes));
  const accepted: { id: string }[] = [];
  valid.forEach((v, i) => {
    if (failedEvents.has(i)) {
      rejected.push({
        index: v.index,
        id: v.event.id,
        retryable: true,
        errors: [{ field: '', message: 'could not be enqueued; resend it with the same id' }],
      });
    } else accepted.push({ id: v.event.id });
  });
  rejected.sort((a, b) => a.index - b.index);
  return {
    accepted,
    rejected,
    counts: {
      received: req.events.length,
      accepted: accepted.length,
      rejected: rejected.length,
      quarantined: quarantined.length,
      messages: packed.length,
    },
  };
}

/** Characters of a rejected event's JSON kept in the quarantine; beyond that only its top-level attributes are. */
export const MAX_QUARANTINED_CHARS = 32_000;

function attributesOnly(raw: unknown, size: number): Record<string, unknown> {
  const top = typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? Object.entries(raw) : [];
  const scalars = top
    .filter(([, v]) => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')
    .map(([k, v]) => [k.slice(0, 64), typeof v === 'string' ? v.slice(0, 256) : v]);
  return {
    ...Object.fromEntries(scalars.slice(0, 16)),
    truncated: `the event's ${size} characters were over ${MAX_QUARANTINED_CHARS}; only its top-level attributes are kept`,
  };
}

function subjectOf(raw: unknown): string {
  const s = (raw as { subject?: unknown } | null)?.subject;
  return typeof s === 'string' && /^[^#\s]{1,256}$/.test(s) ? s : '-';
}
