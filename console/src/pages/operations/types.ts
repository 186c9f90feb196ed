/** The shapes the Operations pages read from `/v1/*` (issue 11's spec), restating only what they show. */

export interface Health {
  status: string;
  queue: number;
  inFlight: number;
  dlq: number;
  quarantine: number;
}

export interface CloseRun {
  day: string;
  runId: string;
  startedAt: string;
  chunks: number;
  chunksDone: number;
  customers: number;
  counts: Record<string, number>;
  missedDays?: string[];
  missedBeyondWindow?: string[];
  /** Meter records of the run that failed to send. */
  failures?: number;
  complete: boolean;
}

export interface QuarantineItem {
  customerId: string;
  key: string;
  reason: string;
  errors: { field: string; message: string }[];
  replayable: boolean;
  origin: string;
  quarantinedAt: string;
  attempts: number;
  lastError?: string;
}

export interface AuditEntry {
  id: string;
  at: string;
  action: string;
  actor: string;
  customerId?: string;
  ipPrefix?: string;
  region?: string;
  counts?: Record<string, number>;
  details?: Record<string, unknown>;
}

export interface KeyRow {
  /** The stored hash: the key itself is never stored, so never listed. */
  id: string;
  prefix: string;
  principal: string;
  role: string;
  source?: string;
  customers?: string[];
  customerPrefix?: string;
  createdAt: string;
  lastUsedAt?: string;
  revokedAt?: string;
}

export const KEY_ROLES = ['ingest', 'finance', 'analyst', 'admin'] as const;

export const QUARANTINE_REASONS = ['unknown_customer', 'invalid', 'malformed_message'] as const;
