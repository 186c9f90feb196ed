import type { Clock } from '../../../contract/clock.js';
import { type FieldError, ValidationError } from '../../../contract/errors.js';
import type { UsageEvent } from '../../../contract/event-contract.js';
import { boundedText, redactForStorage, validateEvent } from '../../../contract/event-contract.js';
import { MAX_MESSAGE_BYTES, packMessages } from '../../../contract/queue-message.js';
import type { EventQueue, QuarantineItem, QuarantineStore, UserRefs } from '../shared/ports.js';
import { replaceUserId, WITHHELD_USER, withholdOddUserId } from '../shared/pseudonyms.js';

export interface IngestDeps {
  queue: EventQueue;
  quarantine: QuarantineStore;
  /** A rejected event is kept with its end user's ref in place of the id (read only when one is rejected). */
  userRefs: UserRefs;
  /** Which customers were (or are being) erased: their rejected events are not kept. */
  erasedCustomers?: (ids: readonly string[]) => Promise<Set<string>>;
  clock: Clock;
  newId: () => string;
}

export interface IngestRequest {
  requestId: string;
  events: readonly unknown[];
  /** The source the caller's key is bound to. */
  boundSource?: string;
  /** Whether the caller's key may write usage for a customer (a key scoped to customers); any customer when absent. */
  allowsCustomer?: (customerId: string) => boolean;
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
    const subject = r.ok ? r.event.customerId : subjectOf(raw);
    if (req.allowsCustomer !== undefined && subject !== '-' && !req.allowsCustomer(subject)) {
      // Refused, and nothing of it stored: a key may not put usage, nor quarantined events, in another customer's name.
      const id = r.ok ? r.event.id : r.id !== undefined && !r.containsCardNumber ? r.id : undefined;
      rejected.push({ index, ...(id !== undefined ? { id } : {}), errors: [{ field: 'subject', message: OUTSIDE_SCOPE }] });
      return;
    }
    if (r.ok) {
      valid.push({ index, event: r.event });
      return;
    }
    // Never kept as sent: card numbers, full addresses and fine geography are cut before storing, and
    // an oversized event is kept as its top-level attributes only (a DynamoDB item holds 400 KB).
    // Long strings and keys are clipped first (redaction reads every text); an event that needed clipping counts as oversized.
    const clip = { count: 0, removed: 0 };
    const redacted = redactForStorage(clipped(raw, clip));
    // Measured after redaction, which keeps 8 levels (the raw input may nest thousands deep), counting what clipping removed.
    const size = JSON.stringify(redacted).length + clip.removed;
    const oversized = size > MAX_QUARANTINED_CHARS;
    // A clipped event is no longer what was sent: it can never be replayed.
    const replayable = clip.count === 0 && !oversized;
    const visible = oversized ? attributesOnly(redacted, size) : redacted;
    rejected.push({ index, ...(r.id !== undefined && !r.containsCardNumber ? { id: r.id } : {}), errors: r.errors });
    quarantined.push({
      customerId: subjectOf(visible),
      key: `${req.requestId}#${index}`,
      reason: 'invalid',
      errors: r.errors,
      raw: visible,
      replayable: !r.containsCardNumber && !r.withheld && replayable,
      ...(req.boundSource !== undefined ? { boundSource: req.boundSource } : {}),
      origin: 'ingest',
      quarantinedAt: new Date(now).toISOString(),
      attempts: 0,
    });
  });
  // The whole plan is checked before anything is stored or sent: the request is refused as a whole, or carried out.
  const packed = packMessages(valid.map((v) => v.event));
  const tooLarge = packed.flatMap((p) =>
    new TextEncoder().encode(p.body).length > MAX_MESSAGE_BYTES ? p.indexes.map((i) => valid[i]!.index) : [],
  );
  if (tooLarge.length > 0) {
    throw new ValidationError(
      tooLarge.map((i) => ({ field: `[${i}]`, message: `does not fit a ${MAX_MESSAGE_BYTES}-byte queue message` })),
    );
  }
  const named = quarantined.map((q) => q.customerId).filter((c) => c !== '-');
  const erased = named.length > 0 && deps.erasedCustomers ? await deps.erasedCustomers(named) : new Set<string>();
  await deps.quarantine.put(
    await withUserRefs(
      quarantined.filter((q) => !erased.has(q.customerId)),
      deps.userRefs,
    ),
  );

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

/** Why an event for a customer outside the caller's key scope is refused. */
export const OUTSIDE_SCOPE = 'names a customer this ingest key may not write usage for (the key is scoped to customers)';

/** Characters of a rejected event's JSON kept in the quarantine; beyond that only its top-level attributes are. */
export const MAX_QUARANTINED_CHARS = 32_000;

/** Characters of one rejected string kept for redaction and storage; values over 256 are refused anyway. */
const MAX_CLIPPED_CHARS = 320;

/**
 * Rejected input with every string and key cut short before redaction reads it: redaction scans each text,
 * and a body of one 1 MiB string (or key) must not hold the request for minutes.
 */
function clipped(input: unknown, clip: { count: number; removed: number }, depth = 0): unknown {
  if (typeof input === 'string') {
    if (input.length <= MAX_CLIPPED_CHARS) return input;
    clip.count++;
    clip.removed += input.length - MAX_CLIPPED_CHARS;
    return boundedText(input, MAX_CLIPPED_CHARS);
  }
  if (typeof input !== 'object' || input === null || depth > MAX_CLIP_DEPTH) return input;
  if (Array.isArray(input)) return input.map((v) => clipped(v, clip, depth + 1));
  const key = (k: string) => {
    if (k.length <= MAX_CLIPPED_KEY) return k;
    clip.count++;
    clip.removed += k.length;
    return `[key of ${k.length} characters]`;
  };
  return Object.fromEntries(Object.entries(input).map(([k, v]) => [key(k), clipped(v, clip, depth + 1)]));
}
const MAX_CLIPPED_KEY = 64;
/** Deeper than redaction keeps, so everything it keeps is clipped. */
const MAX_CLIP_DEPTH = 16;

function attributesOnly(raw: unknown, size: number): Record<string, unknown> {
  const top = typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? Object.entries(raw) : [];
  const scalars = top
    .filter(([, v]) => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')
    .map(([k, v]) => [k.slice(0, 64), typeof v === 'string' ? boundedText(v, 256) : v]);
  return {
    ...Object.fromEntries(scalars.slice(0, 16)),
    truncated: `the event's ${size} characters were over ${MAX_QUARANTINED_CHARS}; only its top-level attributes are kept`,
  };
}

/**
 * Rejected events as they may be kept: the end user's id (`data.userId`, and every value equal to it) replaced by
 * the user's ref, noted on the item so a replay carries it as the ref. Without a customer there is no ref to
 * give: the id is withheld and the event cannot be replayed.
 */
async function withUserRefs(items: QuarantineItem[], userRefs: UserRefs): Promise<QuarantineItem[]> {
  return Promise.all(
    items.map(async (item) => {
      const odd = withholdOddUserId(item.raw, 'data');
      if (odd.withheld) return { ...item, raw: odd.raw, replayable: false };
      const user = (item.raw as { data?: { userId?: unknown } } | null)?.data?.userId;
      if (typeof user !== 'string' || user.length === 0) return item;
      if (item.customerId === '-') return { ...item, raw: replaceUserId(item.raw, user, WITHHELD_USER), replayable: false };
      const ref = (await userRefs.refs(item.customerId, [user])).get(user)!;
      return { ...item, raw: replaceUserId(item.raw, user, ref), userRef: ref };
    }),
  );
}

function subjectOf(raw: unknown): string {
  const s = (raw as { subject?: unknown } | null)?.subject;
  return typeof s === 'string' && /^[^#\s]{1,256}$/.test(s) ? s : '-';
}
