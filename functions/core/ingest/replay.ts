import { createHash } from 'node:crypto';
import type { Clock } from '../../../contract/clock.js';
import { type UsageEvent, validateEvent } from '../../../contract/event-contract.js';
import { packMessages } from '../../../contract/queue-message.js';
import type { Customer, EventQueue, QuarantineFilter, QuarantineItem, QuarantineStore } from '../shared/ports.js';

export interface ReplayDeps {
  quarantine: QuarantineStore;
  queue: EventQueue;
  customers: (ids: readonly string[]) => Promise<Map<string, Customer>>;
  clock: Clock;
}

export interface ReplayOutcome {
  replayed: number;
  /** Items that stay quarantined, with why. */
  kept: { customerId: string; reason: string; key: string; why: string }[];
}

/**
 * Replays quarantined events: each is checked again (validation, customer registration) and
 * re-enqueued; it leaves quarantine only once SQS holds it. Replaying is safe to repeat: the
 * consumer's dedupe counts an event once however often it arrives.
 */
/** An event rebuilt from a kept payload whose user id ingest replaced by the ref: the ref travels as the ref. */
function carryingRef(e: UsageEvent, ref: string): UsageEvent {
  const { userId: _replaced, ...rest } = e;
  return { ...rest, userRef: ref };
}

export async function replayQuarantine(filter: QuarantineFilter, deps: ReplayDeps): Promise<ReplayOutcome> {
  const items = await deps.quarantine.list(filter);
  const now = deps.clock.now();
  const ready: { item: QuarantineItem; event: UsageEvent }[] = [];
  const kept: { item: QuarantineItem; why: string }[] = [];

  for (const item of items) {
    if (!item.replayable) {
      kept.push({ item, why: `not replayable: ${item.errors.map((e) => `${e.field} ${e.message}`).join('; ') || item.reason}` });
      continue;
    }
    if (item.event) {
      ready.push({ item, event: item.event });
      continue;
    }
    // As ingest judged it (the key's bound source), and an event sent without an id gets one derived from
    // its quarantine item, so replaying it again, after a failure half-way, cannot count it twice.
    const r = validateEvent(item.raw, {
      now,
      newId: () => `q-${createHash('sha256').update(`${item.customerId}|${item.reason}|${item.key}`).digest('base64url').slice(0, 26)}`,
      ...(item.boundSource !== undefined ? { boundSource: item.boundSource } : {}),
    });
    if (r.ok) ready.push({ item, event: item.userRef === undefined ? r.event : carryingRef(r.event, item.userRef) });
    else kept.push({ item, why: r.errors.map((e) => `${e.field} ${e.message}`).join('; ') });
  }

  const customers = await deps.customers(ready.map((r) => r.event.customerId));
  const sendable = ready.filter((r) => {
    if (customers.has(r.event.customerId)) return true;
    kept.push({ item: r.item, why: `customer "${r.event.customerId}" is not registered` });
    return false;
  });

  const packed = packMessages(sendable.map((s) => s.event));
  const { failed } = await deps.queue.send(packed.map((p) => p.body));
  const failedIdx = new Set(failed.flatMap((m) => packed[m]!.indexes));
  let replayed = 0;
  for (const [i, s] of sendable.entries()) {
    if (failedIdx.has(i)) kept.push({ item: s.item, why: 'could not be enqueued; try again' });
    else {
      await deps.quarantine.remove(s.item);
      replayed++;
    }
  }
  await deps.quarantine.put(kept.map(({ item, why }) => ({ ...item, attempts: item.attempts + 1, lastError: why })));
  return { replayed, kept: kept.map(({ item, why }) => ({ customerId: item.customerId, reason: item.reason, key: item.key, why })) };
}
