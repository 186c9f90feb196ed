import { createHash } from 'node:crypto';
import type { Clock } from '../../../contract/clock.js';
import type { FieldError } from '../../../contract/errors.js';
import { eventKey, redactForStorage, type UsageEvent } from '../../../contract/event-contract.js';
import { applyPrivacyCuts, maskFieldName } from '../../../contract/privacy.js';
import { messageKey, type ParsedMessage } from '../../../contract/queue-message.js';
import type { Customer, EventStore, QuarantineItem, QuarantineStore, UsageStore, UserRefs } from '../shared/ports.js';
import {
  asQueued,
  distinctByCustomer,
  rawUsersByCustomer,
  replaceUserId,
  WITHHELD_USER,
  withholdOddUserId,
  withUserRef,
} from '../shared/pseudonyms.js';
import { buildFragments } from './usage-fragment.js';

export interface ConsumeDeps {
  events: EventStore;
  usage: UsageStore;
  customers: (ids: readonly string[]) => Promise<Map<string, Customer>>;
  quarantine: QuarantineStore;
  /** Which of some unregistered customers were erased: their events still in flight are dropped, not quarantined. */
  erasedCustomers?: (ids: readonly string[]) => Promise<Set<string>>;
  /** Turns each end user's id into its stored ref, before anything of the message is stored. */
  userRefs: UserRefs;
  clock: Clock;
  /** Records (customer, day) pairs whose events arrive after that UTC day ended, for the nightly close. */
  markLate: (marks: readonly { customerId: string; day: string }[]) => Promise<void>;
}

/** What one message did. */
export interface ConsumeResult {
  messageKey: string;
  events: number;
  counted: number;
  duplicates: number;
  quarantined: QuarantineItem[];
}

/**
 * Counts one queue message exactly once. Order matters for crash safety: quarantine first, then the
 * raw events claimed for this message's key (a conditional write each), then the fragments; every step
 * rewrites the same items on a redelivery, and the owner mark lets a redelivery recount what it stored
 * before it crashed. A fragment holds only events whose claim this message won. Messages of one batch
 * that carry the same event race for it through the same conditional claim, and one wins.
 */
export async function consumeMessage(body: string, received: ParsedMessage, deps: ConsumeDeps): Promise<ConsumeResult> {
  const cut = withPrivacyCuts(received);
  // The key of the message as sent, whatever is dropped from it below, so every delivery has the same one.
  const key = messageKey(cut.events);
  const customers = await deps.customers(cut.events.map((e) => e.customerId));
  const erased = await erasedAmong(cut, customers, deps);
  // An erased customer's events still in flight are erased on arrival: neither counted nor kept, nor given refs.
  const parsed = await withUserRefs(
    { events: cut.events.filter((e) => !erased.has(e.customerId)), invalid: cut.invalid.filter((b) => !erased.has(customerIdOf(b.raw))) },
    deps.userRefs,
  );
  const now = new Date(deps.clock.now()).toISOString();
  const quarantined: QuarantineItem[] = parsed.invalid.map((bad) => ({
    customerId: customerIdOf(bad.raw),
    key: `${bodyHash(body)}#${bad.index}`,
    reason: bad.index < 0 ? 'malformed_message' : 'invalid',
    errors: bad.errors,
    raw: bad.raw,
    replayable: false,
    origin: 'consume',
    quarantinedAt: now,
    attempts: 0,
  }));

  const known: UsageEvent[] = [];
  const unknownKeys = new Set<string>();
  for (const e of parsed.events) {
    if (customers.has(e.customerId)) known.push(e);
    // The same event twice in one message is quarantined once (a batch write refuses repeated keys).
    else if (!unknownKeys.has(eventKey(e))) {
      unknownKeys.add(eventKey(e));
      quarantined.push({
        customerId: e.customerId,
        key: eventKey(e),
        reason: 'unknown_customer',
        errors: [{ field: 'subject', message: `customer "${e.customerId}" is not registered` }],
        event: asQueued(e),
        replayable: true,
        origin: 'consume',
        quarantinedAt: now,
        attempts: 0,
      });
    }
  }
  await deps.quarantine.put(quarantined);

  const unique = uniqueByKey(known);
  // No read first: the conditional claim alone decides, one write per event. A read of every event would
  // cost 1 read unit each to spare the rare duplicate its write (about 5 of them at 0.2 units to the write's 1).
  // A concurrent message holding the same event (a client retry packed differently) wins or loses it
  // atomically, once; a redelivery of this very message finds its own mark and counts the event again.
  const held = await deps.events.claim(unique, key, now);
  const owned = held.size === 0 ? unique : unique.filter((e) => !held.has(eventKey(e)));
  const fragments = buildFragments(key, owned);
  // A day that has ended may be closed already: tell the next close to look at it again.
  const today = now.slice(0, 10);
  await deps.markLate(fragments.filter((f) => f.day < today).map((f) => ({ customerId: f.customerId, day: f.day })));
  await deps.usage.putFragments(fragments);
  return {
    messageKey: key,
    events: parsed.events.length + parsed.invalid.length,
    counted: owned.length,
    duplicates: known.length - owned.length,
    quarantined,
  };
}

/** The customers of a message that were erased (unregistered, with an erased mark) or are being erased. */
async function erasedAmong(m: ParsedMessage, customers: ReadonlyMap<string, Customer>, deps: ConsumeDeps): Promise<Set<string>> {
  const all = [...m.events.map((e) => e.customerId), ...m.invalid.map((b) => customerIdOf(b.raw))];
  // A customer being erased is still registered until the erasure's last step: its profile says so.
  const erasing = all.filter((c) => customers.get(c)?.erasingSince !== undefined);
  const unregistered = all.filter((c) => c !== '-' && !customers.has(c));
  const erased = unregistered.length > 0 && deps.erasedCustomers ? await deps.erasedCustomers(unregistered) : new Set<string>();
  return new Set([...erased, ...erasing]);
}

function uniqueByKey(events: readonly UsageEvent[]): UsageEvent[] {
  const seen = new Set<string>();
  return events.filter((e) => {
    const k = eventKey(e);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function customerIdOf(raw: unknown): string {
  const c = (raw as { customerId?: unknown } | null)?.customerId;
  return typeof c === 'string' && /^[^#\s]{1,256}$/.test(c) ? c : '-';
}

/**
 * The consumer never trusts a producer: every event gets the privacy cuts ingest applies (the same function), one
 * they refuse is invalid, and nothing invalid is kept as sent: its raw form is redacted and its field names masked.
 */
function withPrivacyCuts(parsed: ParsedMessage): ParsedMessage {
  const maskAll = (errors: FieldError[]) => errors.map((e) => ({ ...e, field: maskFieldName(e.field) }));
  const out: ParsedMessage = {
    events: [],
    invalid: parsed.invalid.map((bad) => ({ index: bad.index, raw: redactForStorage(asJson(bad.raw)), errors: maskAll(bad.errors) })),
  };
  // parseMessage keeps the message's order, so an event's index is the next one no invalid entry holds.
  const taken = new Set(parsed.invalid.map((bad) => bad.index));
  let index = 0;
  for (const e of parsed.events) {
    while (taken.has(index)) index++;
    const cut = applyPrivacyCuts(e, (attribute, key) => (key === undefined ? attribute : `metadata.${key}`));
    if (cut.errors.length === 0) out.events.push(cut.event);
    else out.invalid.push({ index, raw: redactForStorage(e), errors: cut.errors });
    index++;
  }
  return out;
}

/**
 * Every end user's id replaced by its ref (functions/core/shared/pseudonyms.ts), in the events and in what is kept of
 * the invalid ones: an invalid event whose customer we can tell gets that customer's ref, one without gets none.
 */
async function withUserRefs(parsed: ParsedMessage, userRefs: UserRefs): Promise<ParsedMessage> {
  const wanted = rawUsersByCustomer(parsed.events);
  for (const bad of parsed.invalid) {
    const user = userIdOf(bad.raw);
    const customer = customerIdOf(bad.raw);
    if (user === undefined || customer === '-') continue;
    wanted.set(customer, [...(wanted.get(customer) ?? []), user]);
  }
  const refs = new Map(await Promise.all([...wanted].map(async ([c, users]) => [c, await userRefs.refs(c, users)] as const)));
  // A metadata value equal to the id of a user we know names that user too, whichever event carries it.
  const named = new Map(
    await Promise.all(
      [...metadataTexts(parsed.events)].map(async ([c, values]) => {
        const own = refs.get(c) ?? new Map<string, string>();
        const others = await userRefs.known(
          c,
          values.filter((v) => !own.has(v)),
        );
        return [c, new Map([...own, ...others])] as const;
      }),
    ),
  );
  const none = new Map<string, string>();
  return {
    events: parsed.events.map((e) => namingRefs(withUserRef(e, refs.get(e.customerId) ?? none), named.get(e.customerId) ?? none)),
    invalid: parsed.invalid.map((bad) => {
      const user = userIdOf(bad.raw);
      if (user === undefined) return { ...bad, raw: withholdOddUserId(bad.raw, 'top').raw };
      const ref = refs.get(customerIdOf(bad.raw))?.get(user) ?? WITHHELD_USER;
      return { ...bad, raw: replaceUserId(bad.raw, user, ref) };
    }),
  };
}

/** The distinct string metadata values of events, by customer. */
const metadataTexts = (events: readonly UsageEvent[]) =>
  distinctByCustomer(events, (e) => Object.values(e.metadata ?? {}).filter((v): v is string => typeof v === 'string' && v.length > 0));

/** An event whose metadata values naming a known user are replaced by that user's ref. */
function namingRefs(e: UsageEvent, named: ReadonlyMap<string, string>): UsageEvent {
  if (e.metadata === undefined || named.size === 0) return e;
  const metadata = Object.fromEntries(Object.entries(e.metadata).map(([k, v]) => [k, typeof v === 'string' ? (named.get(v) ?? v) : v]));
  return { ...e, metadata };
}

function userIdOf(raw: unknown): string | undefined {
  const u = (raw as { userId?: unknown } | null)?.userId;
  return typeof u === 'string' && u.length > 0 ? u : undefined;
}

/** A body that is JSON but no v1 message is redacted as JSON, so that its keys are cut too (fine geography, card numbers). */
function asJson(raw: unknown): unknown {
  if (typeof raw !== 'string') return raw;
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

const bodyHash = (body: string) => createHash('sha256').update(body).digest('base64url').slice(0, 16);
