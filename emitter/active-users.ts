/**
 * Users already reported active in the current UTC hour, per customer. Bounded: when full it is
 * emptied, which only costs resends that the deterministic user.active id makes harmless.
 */
export class ActiveUsers {
  private hour = Number.NaN;
  private seen = new Map<unknown, Set<unknown>>();
  private size = 0;

  constructor(private readonly max: number) {}

  /** Whether (customer, user) was already recorded in `hour`; a new hour forgets the previous one. */
  has(hour: number, customerId: unknown, userId: unknown): boolean {
    if (hour !== this.hour) {
      this.hour = hour;
      this.clear();
      return false;
    }
    return this.seen.get(customerId)?.has(userId) ?? false;
  }

  /** Remembers (customer, user) for the hour last passed to has(). */
  add(customerId: unknown, userId: unknown): void {
    if (this.size >= this.max) this.clear();
    let users = this.seen.get(customerId);
    if (users === undefined) {
      users = new Set();
      this.seen.set(customerId, users);
    }
    users.add(userId);
    this.size++;
  }

  private clear(): void {
    this.seen = new Map();
    this.size = 0;
  }
}
