// One idea in one file, though over 300 lines: every port the core declares, so each adapter and fake implements one list.
import type { FieldError } from '../../../contract/errors.js';
import type { UsageEvent } from '../../../contract/event-contract.js';
import type { Meter } from '../../../contract/meters.js';
import type { FileOp, UsageFragment } from '../count/usage-fragment.js';
import type { ExpectedActivity } from '../fraud/expected-activity.js';
import type { Flag, KeyDayActivity } from '../fraud/types.js';

/** Raw events, stored once each under their (source, id) within the customer's day. */
export interface EventStore {
  /** Stores events as counted by `owner`. Writing the same event again rewrites the same item. */
  put(events: readonly UsageEvent[], owner: string, ingestedAt: string): Promise<void>;
  /**
   * Stores each event as counted by `owner` unless another message holds it: an atomic check per event,
   * so two messages carrying the same event cannot both count it. Returns the keys another message holds.
   */
  claim(events: readonly UsageEvent[], owner: string, ingestedAt: string): Promise<Set<string>>;
  /** Every stored event of one customer's UTC day. */
  listDay(customerId: string, day: string): Promise<UsageEvent[]>;
}

/** Idempotent usage fragments per customer, day and message. */
export interface UsageStore {
  putFragments(fragments: readonly UsageFragment[]): Promise<void>;
  fragments(customerId: string, day: string): Promise<UsageFragment[]>;
}

/** A registered customer. Only registered customers' events are counted. */
export interface Customer {
  id: string;
  name?: string;
  stripeCustomerId?: string;
  /** Day of month (1-31) on which the customer's billing period starts; calendar months when absent. */
  anchorDay?: number;
  /** Set when an analyst confirms fraud: finance must look at this customer. */
  financeReview?: { flagId: string; rule: string; by: string; at: string };
  /**
   * When the customer started using Serenity (ISO instant), for a customer registered with history (a migration,
   * go-live): the fraud rules count an account's age from it. Absent: from the earliest usage we hold (`accountStart`).
   */
  startedAt?: string;
  /** Set when the customer's erasure starts (ISO): from then on nothing of it is counted, closed or kept. */
  erasingSince?: string;
  createdAt: string;
  updatedAt: string;
}

/** ingest writes usage; finance reads statements, reconciliation and the ledger; analyst works fraud flags; admin does all and operations. */
export type KeyRole = 'ingest' | 'finance' | 'analyst' | 'admin';

/** An API key, stored only as its SHA-256 hash. */
export interface ApiKey {
  hash: string;
  /** First characters of the key, to recognise it in listings. */
  prefix: string;
  role: KeyRole;
  /** The event source an ingest key may write as. */
  source?: string;
  /** An ingest key scoped to customers writes usage only for these ids (`keyAllowsCustomer`); any customer when absent. */
  customers?: string[];
  /** An ingest key scoped to customers writes usage only for ids starting with this. */
  customerPrefix?: string;
  /** Who holds the key (an analyst's name for review keys). */
  principal: string;
  createdAt: string;
  /** When the key was revoked: from then on it authenticates nothing. */
  revokedAt?: string;
  /** When the key last authenticated a console or API request, kept to the hour (`markKeyUsed`). */
  lastUsedAt?: string;
}

export interface Registry {
  customers(ids: readonly string[]): Promise<Map<string, Customer>>;
  putCustomer(customer: Customer): Promise<void>;
  listCustomers(): Promise<Customer[]>;
  deleteCustomer(id: string): Promise<void>;
  keyByHash(hash: string): Promise<ApiKey | undefined>;
  putKey(key: ApiKey): Promise<void>;
  /** One page of stored keys (hashes and metadata, never a key), by hash. */
  listKeys(page: PageRequest): Promise<Page<ApiKey>>;
  /** Stamps a key revoked at `at`; the key as now stored, or undefined when there is none. */
  revokeKey(hash: string, at: string): Promise<ApiKey | undefined>;
  /** Sets a key's `lastUsedAt` to `at` only if it is unset or before `staleBefore`: one conditional write. */
  touchKey(hash: string, at: string, staleBefore: string): Promise<void>;
}

/**
 * End users' refs (functions/core/shared/pseudonyms.ts): a random token per (customer, user), found through a keyed
 * pseudonym of the id under the customer's own secret. The only place a user id is turned into what is stored.
 */
export interface UserRefs {
  /** The ref of each user id of a customer, created on first sight; an erased user's tombstone, while it lasts, gives back the erased ref. */
  refs(customerId: string, userIds: readonly string[]): Promise<Map<string, string>>;
  /** Which of some values are ids of users already seen for the customer, with their refs; creates nothing. */
  known(customerId: string, values: readonly string[]): Promise<Map<string, string>>;
  /** The ref of a user id, without creating one: the mapping's, else an unexpired tombstone's. */
  find(customerId: string, userId: string): Promise<{ ref: string; erased: boolean } | undefined>;
  /**
   * Deletes a user's mapping after writing a tombstone (the ref, under another keyed hash of the id) that expires at
   * `tombstoneExpiresAt` (epoch seconds). Idempotent: the second call finds the tombstone. Undefined when the user was never
   * counted; a tombstone is written then too, so events of theirs still in flight make no mapping when they arrive.
   */
  erase(customerId: string, userId: string, tombstoneExpiresAt: number): Promise<string | undefined>;
}

/** Registered customers a page at a time, for the console (a separate port: the close and the CLI list whole). */
export interface CustomerPages {
  /** One page of customers; each page reads at most `page.limit` registry items (a page may hold fewer customers and still have a cursor). */
  pageCustomers(page: PageRequest): Promise<Page<Customer>>;
}

export type QuarantineReason = 'unknown_customer' | 'invalid' | 'malformed_message';

/** An event that could not be counted, kept visibly with its reason. */
export interface QuarantineItem {
  customerId: string;
  /** Stable within its reason: re-quarantining the same event overwrites the same item. */
  key: string;
  reason: QuarantineReason;
  errors: FieldError[];
  /** The normalised event, when it passed validation (e.g. an unknown customer). */
  event?: UsageEvent;
  /** The submitted payload, card-number-like values redacted, when it did not. */
  raw?: unknown;
  /** False where replaying can never succeed (e.g. a redacted card number). */
  replayable: boolean;
  /** The source the submitting ingest key was bound to: a replay validates against it, as ingest did. */
  boundSource?: string;
  /** The ref that replaced the user id in `raw` (ingest): a replay carries it as the event's `userRef`. */
  userRef?: string;
  origin: 'ingest' | 'consume';
  quarantinedAt: string;
  attempts: number;
  lastError?: string;
}

export interface QuarantineFilter {
  customerId?: string;
  reason?: QuarantineReason;
  limit?: number;
}

export interface QuarantineStore {
  put(items: readonly QuarantineItem[]): Promise<void>;
  list(filter?: QuarantineFilter): Promise<QuarantineItem[]>;
  remove(item: Pick<QuarantineItem, 'customerId' | 'reason' | 'key'>): Promise<void>;
  /** How many items are quarantined, from a counter kept with every put and remove: one read, never a scan. */
  count(): Promise<number>;
}

/** Quarantined items a page at a time, for the console (a separate port: the replay and the CLI list whole). */
export interface QuarantinePages {
  page(filter: Omit<QuarantineFilter, 'limit'>, page: PageRequest): Promise<Page<QuarantineItem>>;
}

/** One record of the audit trail. */
export interface AuditEntry {
  id: string;
  action: string;
  /** Who did it: an ingest source, an analyst, the consumer, the CLI user. */
  actor: string;
  at: string;
  customerId?: string;
  /** Client network prefix, never a full address. */
  ipPrefix?: string;
  region?: string;
  counts?: Record<string, number>;
  details?: Record<string, unknown>;
  /** The HTTP request that did it: API Gateway's request id, as in the access log and the function's log. */
  requestId?: string;
}

export interface AuditLog {
  /** Records an entry; one whose id is already recorded stays as it was (a retried operation, with a stable id, records once). */
  record(entry: AuditEntry): Promise<void>;
  list(day: string, limit?: number): Promise<AuditEntry[]>;
}

/** The audit trail searched a page at a time, for the console (a separate port: writers of the trail never search it). */
export interface AuditSearch {
  /** One day's entries, newest first, matching every filter given; each page reads at most `page.limit` entries. */
  search(query: AuditQuery, page: PageRequest): Promise<Page<AuditEntry>>;
}

/** What an audit search matches: one UTC day, and optionally exact actor, action and customer. */
export interface AuditQuery {
  day: string;
  actor?: string;
  action?: string;
  customerId?: string;
}

/** The usage-event queue. */
export interface EventQueue {
  /** Sends message bodies; returns the indexes that could not be enqueued after retries. */
  send(bodies: readonly string[]): Promise<{ failed: number[] }>;
  depth(): Promise<{ queue: number; inFlight: number; dlq: number }>;
}

/** The event queue's dead-letter queue, as operators work it. */
export interface DeadLetters {
  /** Moves every dead-lettered message back to the event queue (safe: the consumer dedupes); how many moved. */
  redrive(): Promise<{ moved: number }>;
}

/** A day as the nightly close stored it: the day's own values and the period's values through it. */
export interface StoredDay {
  customerId: string;
  day: string;
  periodKey: string;
  anchorDay: number;
  eventCount: number;
  apiCalls: number;
  apiCallsByHour: number[];
  activeUsers: number;
  /** Distinct users per UTC hour; absent on days stored before it was kept. */
  activeUsersByHour?: number[];
  files: { start: number; end: number; peak: number };
  /** Files protected at the end of each UTC hour. */
  filesByHour?: number[];
  /** API calls per key with their /24 prefixes and countries. */
  keys?: KeyDayActivity[];
  /** Period-to-date values through this day, as of its last computation. */
  ptd: { apiCalls: number; activeUsers: number; filesPeak: number; filesEnd: number };
  /** What this day contributes to Stripe: the day's api calls; the period-to-date users and files. */
  values: Record<Meter, number>;
  /** When these values were last written: the close leaves a row whose recomputed values are unchanged as it is, so this is when they last changed. */
  computedAt: string;
}

/** The nightly close's own state. */
export interface RollupStore {
  getDays(customerId: string, fromDay: string, toDay: string): Promise<StoredDay[]>;
  /** Writes a close's results for one customer in as few requests as DynamoDB allows. */
  save(
    customerId: string,
    changes: {
      days: readonly StoredDay[];
      periodUsers: ReadonlyMap<string, ReadonlyMap<string, string>>;
      files: ReadonlyMap<string, readonly FileOp[]>;
    },
  ): Promise<void>;
  /** Users active in a period, each with the first day it was seen in that period. */
  periodUsers(customerId: string, periodKey: string): Promise<Map<string, string>>;

  fileHistory(customerId: string): Promise<Map<string, FileOp[]>>;

  /** Days whose events arrived after they were closed, per customer. */
  lateDays(): Promise<{ customerId: string; day: string }[]>;
  /** Marks days for the next close to plan again, stamped `at` (ms; a later mark of the same day replaces the stamp). */
  markLate(marks: readonly { customerId: string; day: string }[], at: number): Promise<void>;
  /**
   * Clears marks a close has dealt with: only those stamped at or before `markedBy` (when the close
   * began), so a mark made while it ran (late events, a dismissal) stays for the next one.
   */
  clearLate(marks: readonly { customerId: string; day: string }[], markedBy: number): Promise<void>;
  startRun(run: CloseRun): Promise<void>;
  /** Adds a finished chunk's counts to its run. */
  chunkDone(day: string, runId: string, counts: Record<string, number>): Promise<void>;
  getRun(day: string, runId: string): Promise<(CloseRun & { counts: Record<string, number>; chunksDone?: number }) | undefined>;
  /** The close watermark: the latest day of a run whose chunks all finished (every day up to it is closed); absent before the first. */
  closedThrough(): Promise<string | undefined>;
  /** Moves the watermark forward to `day`; a `day` at or before it leaves it as it is (a re-close of an old day). */
  markClosedThrough(day: string): Promise<void>;
}

/** A stored close run with its progress, as the console lists it. */
export type StoredRun = CloseRun & { counts: Record<string, number>; chunksDone?: number };

/** The close runs of a day, for the console (a separate port from RollupStore: the close itself never lists runs). */
export interface CloseRunListing {
  /** Every run of one closed day (one partition, a handful of items). */
  runsOf(day: string): Promise<StoredRun[]>;
}

/** One nightly close run, and how far its chunks have got. */
export interface CloseRun {
  runId: string;
  day: string;
  chunks: number;
  customers: number;
  startedAt: string;
  /** Days before `day` that no completed run closed (the watermark's gap): closed by this run with `day`. */
  missedDays?: string[];
  /** Missed days too old for Stripe's 35-day window: not caught up, surfaced for finance. */
  missedBeyondWindow?: string[];
}

export type LedgerState = 'pending' | 'sent' | 'error';

/** One meter event we report (or reported) to Stripe. */
export interface LedgerRecord {
  customerId: string;
  meter: Meter;
  day: string;
  revision: number;
  value: number;
  identifier: string;
  /**
   * Times the record was given a new identifier (`resendIdentifier`): once its first identifier's 24-hour
   * window at Stripe passed and Stripe's summary showed it uncounted. Absent: never.
   */
  resends?: number;
  /** When the current identifier was given (ISO); absent: `createdAt`. Stripe dedupes it for 24 hours from its first send. */
  identifierSince?: string;
  eventName: string;
  /** Unix seconds, the meter event's timestamp. */
  timestamp: number;
  periodKey: string;
  state: LedgerState;
  attempts: number;
  lastError?: string;
  /** Why it was refused, in a line naming the field: the pre-send guard's or Stripe's own message. */
  errorDetail?: string;
  /** Stripe's asynchronous refusal of this record, from a `v1.billing.meter.*` webhook (the v2 stream accepts first, judges later). */
  asyncError?: { code: string; message: string; eventId: string; reportedAt: string };
  createdAt: string;
  sentAt?: string;
  runId: string;
}

export interface LedgerStore {
  entries(customerId: string): Promise<LedgerRecord[]>;
  /** Creates records that do not exist yet; existing ones (another run's) are left as they are and counted. */
  create(records: readonly LedgerRecord[]): Promise<{ conflicts: number }>;
  /** Writes records' new states, in batches. */
  update(records: readonly LedgerRecord[]): Promise<void>;
}

/** Which of a customer's ledger records a page lists: one meter, and UTC days `[fromDay, toDay]` (both inclusive). */
export interface LedgerQuery {
  meter?: Meter;
  fromDay?: string;
  toDay?: string;
}

/** A customer's ledger a page at a time, for the console (a separate port: the close reads a customer's ledger whole). */
export interface LedgerPages {
  /** One page of the customer's records, by meter, day and revision. */
  page(customerId: string, query: LedgerQuery, page: PageRequest): Promise<Page<LedgerRecord>>;
  /** One record by its key, for a Stripe webhook naming its identifier; undefined when the ledger holds none. */
  record(customerId: string, key: Pick<LedgerRecord, 'meter' | 'day' | 'revision'>): Promise<LedgerRecord | undefined>;
}

/** Filters of a flag listing; all optional. */
export interface FlagFilter {
  status?: 'open' | 'confirmed' | 'dismissed';
  severity?: 'low' | 'medium' | 'high';
  customerId?: string;
  rule?: string;
  meter?: string;
}

/** One page of a listing: at most `limit` items read, and from where to go on (an opaque `cursor`). */
export interface PageRequest {
  limit: number;
  /** The `cursor` of the previous page, as the store handed it out; a tampered one is a `ValidationError` naming `cursor`. */
  cursor?: string;
}

/** A page of a listing; `cursor` is absent on the last page. A page may hold fewer than `limit` items and still have one. */
export interface Page<T> {
  items: T[];
  cursor?: string;
}

/** A flag to store, and the revision of the stored flag it was made from (`undefined` for a new flag). */
export interface FlagWrite {
  flag: Flag;
  basedOn: number | undefined;
}

/** Stored fraud flags. */
export interface FlagStore {
  get(id: string): Promise<Flag | undefined>;
  /** A customer's flags, every status: what a night's detections are merged against. */
  forCustomer(customerId: string): Promise<Flag[]>;
  /** One page of flags (each page reads a bounded amount: at most `page.limit` items); newest first within a page. */
  list(filter?: FlagFilter, page?: PageRequest): Promise<Page<Flag>>;
  /**
   * One page of the open flags in urgency order (`urgencyKey`), without evidence series, notes or history;
   * reads are bounded per page whatever the number of flags (an index kept in that order, see docs/tables.md).
   */
  queue(filter?: Omit<FlagFilter, 'status'>, page?: PageRequest): Promise<Page<Flag>>;
  /**
   * Stores each flag only if the stored one is still at the revision it was made from (`basedOn`, see
   * `flagRevision`; `undefined`: the flag must be new), so a review and a nightly close that read the
   * same flag cannot overwrite each other. The writes that still match are stored; if any did not,
   * throws `FlagConflictError` naming them: read the flags again and redo the change.
   */
  save(writes: readonly FlagWrite[]): Promise<void>;
  /** A customer's registered expected activity (see `ExpectedActivity`), every one ever made. */
  expectedActivity(customerId: string): Promise<ExpectedActivity[]>;
  /** Stores a new expectation (refusing an id already stored), or with `replace` a withdrawn one over its old self. */
  putExpectedActivity(e: ExpectedActivity, options?: { replace: boolean }): Promise<void>;
}

/** Tells the people who review flags that new ones opened (SNS on AWS; the log locally). */
export interface FlagPublisher {
  publish(flags: readonly Flag[]): Promise<void>;
}

/** Structured logging with fields, as a use case reports what it did (Powertools' Logger on AWS). Never a full IP, a card number or a payload. */
export interface Log {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}
