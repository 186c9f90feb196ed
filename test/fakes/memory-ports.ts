import type { UsageEvent } from '../../contract/event-contract.js';
import { eventKey } from '../../contract/event-contract.js';
import {
  type CountedQuery,
  type MeterEventOutcome,
  type MeterEventReporter,
  type MeterEventToSend,
  STRIPE_METERS,
} from '../../functions/core/billing/stripe-reporting.js';
import type { FileOp } from '../../functions/core/count/usage-fragment.js';
import type { ExpectedActivity } from '../../functions/core/fraud/expected-activity.js';
import { byUrgency } from '../../functions/core/fraud/flag-queue.js';
import { flagRevision } from '../../functions/core/fraud/merge-flags.js';
import { FlagConflictError } from '../../functions/core/fraud/review-flag.js';
import type { Flag } from '../../functions/core/fraud/types.js';
import type {
  CloseRun,
  Customer,
  EventQueue,
  EventStore,
  FlagFilter,
  FlagStore,
  FlagWrite,
  LedgerRecord,
  LedgerStore,
  QuarantineFilter,
  QuarantineItem,
  QuarantineStore,
  RollupStore,
  StoredDay,
  UserRefs,
} from '../../functions/core/shared/ports.js';

/** An in-memory quarantine, for unit tests of the pure core. */
export class MemoryQuarantine implements QuarantineStore {
  items = new Map<string, QuarantineItem>();
  private id = (i: Pick<QuarantineItem, 'customerId' | 'reason' | 'key'>) => `${i.customerId}|${i.reason}|${i.key}`;
  async put(items: readonly QuarantineItem[]) {
    for (const i of items) this.items.set(this.id(i), i);
  }
  async list(f: QuarantineFilter = {}) {
    return [...this.items.values()].filter((i) => (!f.customerId || i.customerId === f.customerId) && (!f.reason || i.reason === f.reason));
  }
  async remove(i: Pick<QuarantineItem, 'customerId' | 'reason' | 'key'>) {
    this.items.delete(this.id(i));
  }
  async count() {
    return this.items.size;
  }
}

/** A queue that records bodies and can be told to refuse some sends. */
export class MemoryQueue implements EventQueue {
  bodies: string[] = [];
  failNext = 0;
  async send(bodies: readonly string[]) {
    const failed: number[] = [];
    bodies.forEach((b, i) => {
      if (this.failNext > 0) {
        this.failNext--;
        failed.push(i);
      } else this.bodies.push(b);
    });
    return { failed };
  }
  async depth() {
    return { queue: this.bodies.length, inFlight: 0, dlq: 0 };
  }
}

/** A customer lookup over a fixed set. */
export const customersOf = (ids: string[]) => async (want: readonly string[]) =>
  new Map<string, Customer>(
    want.filter((w) => ids.includes(w)).map((id) => [id, { id, createdAt: '2026-01-01T00:00:00Z', updatedAt: '2026-01-01T00:00:00Z' }]),
  );

/** Raw events by customer and UTC day (of the event's time), one per (source, id). */
export class MemoryEventStore implements EventStore {
  private days = new Map<string, Map<string, { event: UsageEvent; owner: string }>>();
  async put(events: readonly UsageEvent[], owner: string) {
    for (const e of events) {
      const k = `${e.customerId}|${e.time.slice(0, 10)}`;
      const day = this.days.get(k) ?? new Map<string, { event: UsageEvent; owner: string }>();
      day.set(eventKey(e), { event: structuredClone(e), owner });
      this.days.set(k, day);
    }
  }
  async claim(events: readonly UsageEvent[], owner: string) {
    const held = new Set<string>();
    for (const e of events) {
      const other = this.days.get(`${e.customerId}|${e.time.slice(0, 10)}`)?.get(eventKey(e))?.owner;
      if (other !== undefined && other !== owner) held.add(eventKey(e));
      else await this.put([e], owner);
    }
    return held;
  }
  async listDay(customerId: string, day: string) {
    return [...(this.days.get(`${customerId}|${day}`)?.values() ?? [])].map((x) => structuredClone(x.event));
  }
}

/** The nightly close's state, in memory. */
export class MemoryRollupStore implements RollupStore {
  days = new Map<string, StoredDay>();
  private users = new Map<string, Map<string, string>>();
  private files = new Map<string, Map<string, FileOp[]>>();
  private late = new Map<string, { customerId: string; day: string }>();
  private runs = new Map<string, CloseRun & { counts: Record<string, number>; chunksDone?: number }>();
  /** Every `getDays` call, for tests that check what was read. */
  reads: { customerId: string; fromDay: string; toDay: string }[] = [];
  async getDays(customerId: string, fromDay: string, toDay: string) {
    this.reads.push({ customerId, fromDay, toDay });
    return [...this.days.values()]
      .filter((d) => d.customerId === customerId && d.day >= fromDay && d.day <= toDay)
      .sort((a, b) => a.day.localeCompare(b.day))
      .map((d) => structuredClone(d));
  }
  async save(
    customerId: string,
    changes: {
      days: readonly StoredDay[];
      periodUsers: ReadonlyMap<string, ReadonlyMap<string, string>>;
      files: ReadonlyMap<string, readonly FileOp[]>;
    },
  ) {
    for (const d of changes.days) this.days.set(`${d.customerId}|${d.day}`, structuredClone(d));
    for (const [periodKey, firstDays] of changes.periodUsers) {
      const k = `${customerId}|${periodKey}`;
      const m = this.users.get(k) ?? new Map<string, string>();
      for (const [u, first] of firstDays) m.set(u, first);
      this.users.set(k, m);
    }
    const fh = this.files.get(customerId) ?? new Map<string, FileOp[]>();
    for (const [fileId, ops] of changes.files) fh.set(fileId, structuredClone([...ops]));
    this.files.set(customerId, fh);
  }
  async periodUsers(customerId: string, periodKey: string) {
    return new Map(this.users.get(`${customerId}|${periodKey}`) ?? []);
  }
  async fileHistory(customerId: string) {
    return new Map([...(this.files.get(customerId) ?? [])].map(([k, v]) => [k, structuredClone(v)]));
  }
  async lateDays() {
    return [...this.late.values()];
  }
  markedAt = new Map<string, number>();
  async markLate(marks: readonly { customerId: string; day: string }[], at: number) {
    for (const m of marks) {
      this.late.set(`${m.customerId}|${m.day}`, { customerId: m.customerId, day: m.day });
      this.markedAt.set(`${m.customerId}|${m.day}`, at);
    }
  }
  async clearLate(marks: readonly { customerId: string; day: string }[], markedBy: number) {
    for (const m of marks)
      if ((this.markedAt.get(`${m.customerId}|${m.day}`) ?? -Infinity) <= markedBy) this.late.delete(`${m.customerId}|${m.day}`);
  }
  async startRun(run: CloseRun) {
    this.runs.set(`${run.day}|${run.runId}`, { ...run, counts: {} });
  }
  async chunkDone(day: string, runId: string, counts: Record<string, number>) {
    const r = this.runs.get(`${day}|${runId}`);
    if (!r) return;
    r.chunksDone = (r.chunksDone ?? 0) + 1;
    for (const [k, v] of Object.entries(counts)) r.counts[k] = (r.counts[k] ?? 0) + v;
  }
  async getRun(day: string, runId: string) {
    const r = this.runs.get(`${day}|${runId}`);
    return r ? structuredClone(r) : undefined;
  }
  watermark: string | undefined;
  async closedThrough() {
    return this.watermark;
  }
  async markClosedThrough(day: string) {
    if (this.watermark === undefined || this.watermark < day) this.watermark = day;
  }
}

/** The reporting ledger, in memory: one record per customer, meter, day and revision, created once. */
export class MemoryLedger implements LedgerStore {
  records = new Map<string, LedgerRecord>();
  private key = (r: Pick<LedgerRecord, 'customerId' | 'meter' | 'day' | 'revision'>) => `${r.customerId}|${r.meter}|${r.day}|${r.revision}`;
  async entries(customerId: string) {
    return [...this.records.values()].filter((r) => r.customerId === customerId).map((r) => ({ ...r }));
  }
  async create(records: readonly LedgerRecord[]) {
    let conflicts = 0;
    for (const r of records) {
      if (this.records.has(this.key(r))) conflicts++;
      else this.records.set(this.key(r), { ...r });
    }
    return { conflicts };
  }
  async update(records: readonly LedgerRecord[]) {
    for (const r of records) this.records.set(this.key(r), { ...r });
  }
}

/** Fraud flags, in memory. */
export class MemoryFlagStore implements FlagStore {
  flags = new Map<string, Flag>();
  async get(id: string) {
    const f = this.flags.get(id);
    return f ? structuredClone(f) : undefined;
  }
  async forCustomer(customerId: string) {
    return [...this.flags.values()].filter((f) => f.customerId === customerId).map((f) => structuredClone(f));
  }
  /** Every match in one page: the memory store has no read to bound. */
  async list(f: FlagFilter = {}) {
    const items = [...this.flags.values()]
      .filter(
        (x) =>
          (!f.status || x.status === f.status) &&
          (!f.severity || x.severity === f.severity) &&
          (!f.customerId || x.customerId === f.customerId) &&
          (!f.rule || x.rule === f.rule),
      )
      .map((x) => structuredClone(x));
    return { items };
  }
  /** The open flags in urgency order, every match in one page. */
  async queue(f: Omit<FlagFilter, 'status'> = {}) {
    const { items } = await this.list({ ...f, status: 'open' });
    return { items: items.filter((x) => !f.meter || x.meter === f.meter).sort(byUrgency()) };
  }
  async save(writes: readonly FlagWrite[]) {
    const conflicts = writes.filter(({ flag, basedOn }) => {
      const stored = this.flags.get(flag.id);
      return basedOn === undefined ? stored !== undefined : stored !== undefined && flagRevision(stored) !== basedOn;
    });
    for (const { flag } of writes) if (!conflicts.some((c) => c.flag.id === flag.id)) this.flags.set(flag.id, structuredClone(flag));
    if (conflicts.length > 0) throw new FlagConflictError(conflicts.map((c) => c.flag.id));
  }
  expected: ExpectedActivity[] = [];
  async expectedActivity(customerId: string) {
    return this.expected.filter((e) => e.customerId === customerId).map((e) => structuredClone(e));
  }
  async putExpectedActivity(e: ExpectedActivity, options = { replace: false }) {
    this.expected = [...this.expected.filter((x) => !(options.replace && x.id === e.id)), structuredClone(e)];
  }
}

/** A reporter that delivers every meter event and remembers what it sent (once per identifier, as Stripe keeps them). */
export class RecordingReporter implements MeterEventReporter {
  sent = new Map<string, MeterEventToSend>();
  async report(events: readonly MeterEventToSend[]): Promise<MeterEventOutcome[]> {
    return events.map((e) => {
      const held = this.sent.has(e.identifier);
      if (!held) this.sent.set(e.identifier, { ...e });
      return { identifier: e.identifier, outcome: 'delivered', attempts: 1, via: held ? 'already_held' : 'created' };
    });
  }
  /** What Stripe would sum (or hold newest) of what was sent, as its meter event summary does. */
  async counted(q: CountedQuery): Promise<number> {
    const { eventName, formula } = STRIPE_METERS[q.meter];
    const hits = [...this.sent.values()]
      .filter(
        (e) =>
          e.eventName === eventName && e.stripeCustomerId === q.stripeCustomerId && e.timestamp >= q.startSec && e.timestamp < q.endSec,
      )
      .sort((a, b) => a.timestamp - b.timestamp);
    return formula === 'sum' ? hits.reduce((t, e) => t + e.value, 0) : (hits.at(-1)?.value ?? 0);
  }
}

/** In-memory user refs: a ref per (customer, user) drawn from a counter, with erasure; for unit tests of the core. */
export class MemoryUserRefs implements UserRefs {
  readonly mapping = new Map<string, string>();
  readonly tombstones = new Map<string, string>();
  private next = 0;
  async refs(customerId: string, userIds: readonly string[]) {
    const out = new Map<string, string>();
    for (const u of userIds) {
      const k = `${customerId}\n${u}`;
      let ref = this.mapping.get(k) ?? this.tombstones.get(k);
      if (ref === undefined) {
        ref = `ur_${String(this.next++).padStart(22, 'a')}`;
        this.mapping.set(k, ref);
      }
      out.set(u, ref);
    }
    return out;
  }
  async known(customerId: string, values: readonly string[]) {
    const out = new Map<string, string>();
    for (const v of values) {
      const ref = this.mapping.get(`${customerId}\n${v}`);
      if (ref !== undefined) out.set(v, ref);
    }
    return out;
  }
  async find(customerId: string, userId: string) {
    const k = `${customerId}\n${userId}`;
    const ref = this.mapping.get(k);
    if (ref !== undefined) return { ref, erased: false };
    const tomb = this.tombstones.get(k);
    return tomb === undefined ? undefined : { ref: tomb, erased: true };
  }
  async erase(customerId: string, userId: string) {
    const k = `${customerId}\n${userId}`;
    const ref = this.mapping.get(k) ?? this.tombstones.get(k);
    if (ref !== undefined) this.tombstones.set(k, ref);
    this.mapping.delete(k);
    return ref;
  }
}
