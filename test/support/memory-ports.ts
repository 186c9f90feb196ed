import type { Customer, EventQueue, QuarantineFilter, QuarantineItem, QuarantineStore } from '../../functions/core/ports.js';

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
  new Map<string, Customer>(want.filter((w) => ids.includes(w)).map((id) => [id, { id, createdAt: '2026-01-01T00:00:00Z', updatedAt: '2026-01-01T00:00:00Z' }]));
