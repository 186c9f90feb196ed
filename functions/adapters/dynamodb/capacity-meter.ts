import type { ConsumedCapacity } from '@aws-sdk/client-dynamodb';

/**
 * Adds up the read and write units DynamoDB reports through ReturnConsumedCapacity.
 * Benchmarks and tests read it; production logs it per batch.
 */
export class CapacityMeter {
  read = 0;
  write = 0;
  readonly byTable = new Map<string, { read: number; write: number }>();

  /** Records what one call consumed. */
  add(kind: 'read' | 'write', consumed: ConsumedCapacity | ConsumedCapacity[] | undefined): void {
    for (const c of Array.isArray(consumed) ? consumed : consumed ? [consumed] : []) {
      const units = c.CapacityUnits ?? 0;
      this[kind] += units;
      const name = c.TableName ?? '?';
      const t = this.byTable.get(name) ?? { read: 0, write: 0 };
      t[kind] += units;
      this.byTable.set(name, t);
    }
  }

  /** Current totals, for diffs around a measured section. */
  snapshot(): { read: number; write: number } {
    return { read: this.read, write: this.write };
  }
}
