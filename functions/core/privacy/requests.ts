import type { Page, PageRequest } from '../shared/ports.js';

export type PrivacyRequestType = 'export' | 'erase';
export type PrivacyRequestStatus = 'queued' | 'running' | 'done' | 'failed';

/**
 * A privacy request and its job. The subject is a customer, or one end user of a customer named by the user's
 * ref: the raw user id is read once, when the request is made, and never stored (not even here).
 */
export interface PrivacyRequest {
  id: string;
  type: PrivacyRequestType;
  customerId: string;
  /** The end user's ref, when the subject is one user; absent for a whole customer. */
  userRef?: string;
  /** True when the user named was never seen (nothing is held about them). */
  unknownUser?: boolean;
  reason: string;
  actor: string;
  status: PrivacyRequestStatus;
  createdAt: string;
  updatedAt: string;
  /** Where the job is: its step, and how far through it. */
  progress: { step: string; done: number; total: number };
  /** What the job found or removed, per table. */
  counts: Record<string, number>;
  /** Plain words on what was done and what was not (e.g. Stripe is left to Stripe's own redaction). */
  notes: string[];
  error?: string;
  /** Epoch seconds after which the request (and an export's download) is deleted. */
  expiresAt: number;
}

/** Privacy requests and export downloads, kept until they expire. */
export interface PrivacyRequests {
  put(request: PrivacyRequest): Promise<void>;
  get(id: string): Promise<PrivacyRequest | undefined>;
  list(page: PageRequest): Promise<Page<PrivacyRequest>>;
  /** Stores an export's document (JSON text), in parts as large as the store allows. */
  putExport(id: string, document: string, expiresAt: number): Promise<void>;
  getExport(id: string): Promise<string | undefined>;
}

/** How long a request and its download are kept. */
export const REQUEST_RETENTION_DAYS = 30;
/**
 * How long an erased user's tombstone lasts: the event queue's and its dead-letter queue's retention (14 days, counted
 * from the first enqueue) and a day more, so an event still in flight at the erasure arrives while it lasts.
 */
export const TOMBSTONE_DAYS = 15;

/** Quarantined items an export reads at most: far above what a customer gathers in the quarantine's 90 days. */
export const QUARANTINE_EXPORT_LIMIT = 100_000;
