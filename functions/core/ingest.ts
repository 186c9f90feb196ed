import { redactCardNumbers, validateEvent } from './event-contract.js';
import type { FieldError } from './errors.js';
import { packMessages } from './queue-message.js';
import type { UsageEvent } from './event-contract.js';
import type { Clock } from './clock.js';
import type { AuditEntry, EventQueue, QuarantineItem, QuarantineStore } from './ports.js';

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
    const visible = r.containsCardNumber ? redactCardNumbers(raw) : raw;
    rejected.push({ index, ...(r.id !== undefined && !r.containsCardNumber ? { id: r.id } : {}), errors: r.errors });
    quarantined.push({
      customerId: subjectOf(visible),
      key: `${req.requestId}#${index}`,
      reason: 'invalid',
      errors: r.errors,
      raw: visible,
      replayable: !r.containsCardNumber,
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
      rejected.push({ index: v.index, id: v.event.id, retryable: true, errors: [{ field: '', message: 'could not be enqueued; resend it with the same id' }] });
    } else accepted.push({ id: v.event.id });
  });
  rejected.sort((a, b) => a.index - b.index);
  return {
    accepted,
    rejected,
    counts: { received: req.events.length, accepted: accepted.length, rejected: rejected.length, quarantined: quarantined.length, messages: packed.length },
  };
}

function subjectOf(raw: unknown): string {
  const s = (raw as { subject?: unknown } | null)?.subject;
  return typeof s === 'string' && /^[^#\s]{1,256}$/.test(s) ? s : '-';
}

/** Builds the audit record of an operation. */
export function auditEntry(id: string, at: number, fields: Omit<AuditEntry, 'id' | 'at'>): AuditEntry {
  return { id, at: new Date(at).toISOString(), ...fields };
}
