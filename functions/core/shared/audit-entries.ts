import type { AuditEntry } from './ports.js';

/** Builds the audit record of an operation. */
export function auditEntry(id: string, at: number, fields: Omit<AuditEntry, 'id' | 'at'>): AuditEntry {
  return { id, at: new Date(at).toISOString(), ...fields };
}
