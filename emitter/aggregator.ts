import { MINUTE_MS } from '../contract/clock.js';
import { LIMITS, toCloudEvent, type UsageEvent, validateEvent } from '../contract/event-contract.js';
import { truncateIp } from '../contract/privacy.js';
import { IP_CACHE_SIZE } from './constants.js';
import { BACKPRESSURE, type Drop, INVALID_CLOCK, INVALID_IP, INVALID_QUANTITY, invalidInput } from './drops.js';
import { apiCallId } from './ids.js';
import type { PendingBudget } from './pending-budget.js';
import type { ApiCallOptions, CloudEvent } from './types.js';

/**
 * One level of the aggregation tree: the values seen for one key field. An absent field takes the
 * `none` slot, which costs a property read instead of a hash lookup; `values` is created on first use.
 */
interface Level<T> {
  none: T | undefined;
  values: Map<unknown, T> | undefined;
}

/** An api.call aggregate still counting: its key as passed, its validated, normalised event and the calls so far. */
interface OpenAggregate {
  operation: unknown;
  apiKeyId: unknown;
  ipPrefix: unknown;
  country: unknown;
  region: unknown;
  event: UsageEvent;
  quantity: number;
}

/** A customer's level also remembers the aggregate of its last call: bursts of one key skip five lookups. */
interface CustomerLevel extends Level<KeyLevel> {
  last: OpenAggregate | undefined;
}

type RegionLevel = Level<OpenAggregate>;
type CountryLevel = Level<RegionLevel>;
type IpLevel = Level<CountryLevel>;
type KeyLevel = Level<IpLevel>;

const MAX_QUANTITY = LIMITS.maxQuantity;
const MAX_IP_LENGTH = 64;
const PLACEHOLDER_ID = () => 'unsealed';

/** What the aggregator needs from the emitter. */
export interface AggregatorOptions {
  source: string;
  instanceId: string;
  budget: PendingBudget;
  /** Open aggregates that force an early seal (a backstop; see MAX_OPEN_AGGREGATES). */
  maxOpen: number;
  /** Receives sealed events: ids fixed, quantities final. */
  onSeal: (events: CloudEvent[]) => void;
}

/**
 * Counts API calls in memory per (customer, operation, apiKeyId, ip prefix, country, region, UTC minute).
 * A call that lands in an open aggregate costs one clock read, up to six hash lookups and an addition;
 * only the first call of a key allocates, and only it is validated (the key determines the whole event).
 */
export class ApiCallAggregator {
  private root = new Map<unknown, CustomerLevel>();
  private open: OpenAggregate[] = [];
  private minute = Number.NaN;
  private minuteIso = '';
  private seq = 0;
  // Raw address -> prefix (null: not an IP). Bounded and emptied every minute; nothing else sees a raw address.
  private readonly ipCache = new Map<unknown, string | null>();
  private readonly source: string;
  private readonly instanceId: string;
  private readonly budget: PendingBudget;
  private readonly maxOpen: number;
  private readonly onSeal: (events: CloudEvent[]) => void;

  constructor(o: AggregatorOptions) {
    this.source = o.source;
    this.instanceId = o.instanceId;
    this.budget = o.budget;
    this.maxOpen = o.maxOpen;
    this.onSeal = o.onSeal;
  }

  /** Records `call` at time `now`; returns why it was dropped, or undefined when it was counted. */
  record(customerId: string, call: ApiCallOptions | undefined, now: number): Drop | undefined {
    const minute = Math.floor(now / MINUTE_MS);
    if (minute !== this.minute) {
      const drop = this.roll(minute);
      if (drop !== undefined) return drop;
    }
    let operation: string | undefined;
    let apiKeyId: string | undefined;
    let clientIp: string | undefined;
    let country: string | undefined;
    let region: string | undefined;
    let quantity = 1;
    if (call != null) {
      operation = call.operation;
      apiKeyId = call.apiKeyId;
      clientIp = call.clientIp;
      country = call.country;
      region = call.region;
      const q = call.quantity;
      if (q !== undefined) {
        if (!Number.isInteger(q) || q < 1 || q > MAX_QUANTITY) return INVALID_QUANTITY;
        quantity = q;
      }
    }
    let ipPrefix: string | undefined;
    if (clientIp !== undefined) {
      const cached = this.ipCache.get(clientIp);
      if (cached === null) return INVALID_IP;
      ipPrefix = cached === undefined ? this.truncate(clientIp) : cached;
      if (ipPrefix === undefined) return INVALID_IP;
    }

    // The hot path: the customer's last aggregate, else a walk down the tree; a miss falls through to create().
    const l1 = this.root.get(customerId);
    if (l1 !== undefined) {
      let agg = l1.last;
      if (
        agg === undefined ||
        agg.operation !== operation ||
        agg.apiKeyId !== apiKeyId ||
        agg.ipPrefix !== ipPrefix ||
        agg.country !== country ||
        agg.region !== region
      ) {
        const l2 = operation === undefined ? l1.none : l1.values?.get(operation);
        const l3 = l2 === undefined ? undefined : apiKeyId === undefined ? l2.none : l2.values?.get(apiKeyId);
        const l4 = l3 === undefined ? undefined : ipPrefix === undefined ? l3.none : l3.values?.get(ipPrefix);
        const l5 = l4 === undefined ? undefined : country === undefined ? l4.none : l4.values?.get(country);
        agg = l5 === undefined ? undefined : region === undefined ? l5.none : l5.values?.get(region);
        if (agg !== undefined) l1.last = agg;
      }
      if (agg !== undefined) {
        if (agg.quantity <= MAX_QUANTITY - quantity) {
          agg.quantity += quantity;
          return undefined;
        }
        // The event would exceed the contract's quantity limit: close it and start another.
        this.sealAll();
      }
    }
    return this.create(customerId, operation, apiKeyId, ipPrefix, country, region, quantity, now);
  }

  /** Seals the open aggregates when their minute has ended; the current minute keeps aggregating. */
  sealEndedMinute(now: number): void {
    if (this.open.length > 0 && Math.floor(now / MINUTE_MS) > this.minute) this.sealAll();
  }

  /** Seals every open aggregate: assigns its id (fixed from now on, through every retry) and hands it on. */
  sealAll(): void {
    const open = this.open;
    if (open.length === 0) return;
    this.open = [];
    this.root = new Map();
    const events: CloudEvent[] = new Array(open.length);
    for (let i = 0; i < open.length; i++) {
      const a = open[i]!;
      const id = apiCallId(this.instanceId, this.minute, this.seq++);
      events[i] = toCloudEvent({ ...a.event, id, quantity: a.quantity }) as unknown as CloudEvent;
    }
    this.onSeal(events);
  }

  private roll(minute: number): Drop | undefined {
    if (!Number.isFinite(minute)) return INVALID_CLOCK;
    const iso = new Date(minute * MINUTE_MS).toISOString();
    this.sealAll();
    this.ipCache.clear();
    this.minute = minute;
    this.minuteIso = iso;
    return undefined;
  }

  private truncate(ip: unknown): string | undefined {
    if (typeof ip !== 'string' || ip.length > MAX_IP_LENGTH) return undefined;
    const prefix = truncateIp(ip);
    if (this.ipCache.size >= IP_CACHE_SIZE) this.ipCache.clear();
    this.ipCache.set(ip, prefix ?? null);
    return prefix;
  }

  /** The first call of a key: check the bound, validate once, then insert. */
  private create(
    customerId: string,
    operation: string | undefined,
    apiKeyId: string | undefined,
    ipPrefix: string | undefined,
    country: string | undefined,
    region: string | undefined,
    quantity: number,
    now: number,
  ): Drop | undefined {
    if (!this.budget.tryTake()) return BACKPRESSURE;
    const verdict = validateEvent(
      {
        specversion: '1.0',
        source: this.source,
        type: 'com.serenity.api.call',
        subject: customerId,
        time: this.minuteIso,
        data: {
          quantity,
          operation,
          apiKeyId,
          // The prefix's network address truncates to the same prefix; the raw address stays out.
          clientIp: ipPrefix?.slice(0, ipPrefix.indexOf('/')),
          country,
          region,
        },
      },
      { now, newId: PLACEHOLDER_ID },
    );
    if (!verdict.ok) {
      this.budget.release();
      return invalidInput(verdict.errors, verdict.containsCardNumber);
    }
    const agg: OpenAggregate = { operation, apiKeyId, ipPrefix, country, region, event: verdict.event, quantity };
    let l1 = this.root.get(customerId);
    if (l1 === undefined) {
      l1 = { none: undefined, values: undefined, last: agg };
      this.root.set(customerId, l1);
    } else l1.last = agg;
    const l5 = child(child(child(child(l1, operation), apiKeyId), ipPrefix), country);
    if (region === undefined) l5.none = agg;
    else {
      l5.values ??= new Map();
      l5.values.set(region, agg);
    }
    this.open.push(agg);
    if (this.open.length >= this.maxOpen) this.sealAll();
    return undefined;
  }
}

function newLevel<T>(): Level<T> {
  return { none: undefined, values: undefined };
}

function child<T>(level: Level<Level<T>>, key: unknown): Level<T> {
  if (key === undefined) {
    level.none ??= newLevel();
    return level.none;
  }
  level.values ??= new Map();
  const values = level.values;
  let next = values.get(key);
  if (next === undefined) {
    next = newLevel();
    values.set(key, next);
  }
  return next;
}
