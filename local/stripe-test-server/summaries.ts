import type { Formula, MeterRecord, RecordedMeterEvent, TimeWindow } from './types.js';

/** Seconds in a grouping or pre-aggregation window. */
export const WINDOW_SECONDS: Record<TimeWindow, number> = { hour: 3600, day: 86_400 };

/** One aggregated period, `[start, end)` in Unix seconds. */
export interface SummaryBucket {
  start: number;
  end: number;
  value: number;
}

/**
 * Aggregates one customer's events on one meter over `[startSec, endSec)`.
 * Ungrouped, the answer is always one bucket (0 when nothing happened). Grouped, only windows
 * holding events are returned, newest first, which is the order Stripe's own example shows.
 */
export function summarize(
  events: readonly RecordedMeterEvent[],
  meter: MeterRecord,
  customerId: string,
  startSec: number,
  endSec: number,
  grouping: TimeWindow | null,
): SummaryBucket[] {
  const inRange = events.filter(
    (e) =>
      e.meterId === meter.id && e.customerId === customerId && e.cancelledAtMs === null && e.timestamp >= startSec && e.timestamp < endSec,
  );
  const counted = meter.eventTimeWindow ? newestPerWindow(inRange, WINDOW_SECONDS[meter.eventTimeWindow]) : inRange;
  if (grouping === null) return [{ start: startSec, end: endSec, value: aggregate(meter.formula, counted) }];

  const size = WINDOW_SECONDS[grouping];
  const byWindow = new Map<number, RecordedMeterEvent[]>();
  for (const event of counted) {
    const start = windowStart(event.timestamp, size);
    const bucket = byWindow.get(start);
    if (bucket) bucket.push(event);
    else byWindow.set(start, [event]);
  }
  return [...byWindow.entries()]
    .sort(([a], [b]) => b - a)
    .map(([start, bucket]) => ({ start, end: start + size, value: aggregate(meter.formula, bucket) }));
}

/** Applies a meter formula to the events that count. */
export function aggregate(formula: Formula, events: readonly RecordedMeterEvent[]): number {
  switch (formula) {
    case 'sum':
      return events.reduce((total, e) => total + (e.value ?? 0), 0);
    case 'count':
      return events.length;
    case 'last': {
      const latest = newest(events);
      return latest?.value ?? 0;
    }
    default: {
      const unreachable: never = formula;
      throw new Error(`unknown formula ${String(unreachable)}`);
    }
  }
}

/**
 * Pre-aggregated meters: within each window only the newest event counts. "Newest" is read as
 * the latest event timestamp, with ties going to the later arrival, the same order `last` uses.
 */
function newestPerWindow(events: readonly RecordedMeterEvent[], size: number): RecordedMeterEvent[] {
  const winners = new Map<number, RecordedMeterEvent>();
  for (const event of events) {
    const key = windowStart(event.timestamp, size);
    const current = winners.get(key);
    if (!current || isNewer(event, current)) winners.set(key, event);
  }
  return [...winners.values()];
}

function newest(events: readonly RecordedMeterEvent[]): RecordedMeterEvent | undefined {
  let best: RecordedMeterEvent | undefined;
  for (const event of events) if (!best || isNewer(event, best)) best = event;
  return best;
}

function isNewer(a: RecordedMeterEvent, b: RecordedMeterEvent): boolean {
  return a.timestamp > b.timestamp || (a.timestamp === b.timestamp && a.seq > b.seq);
}

function windowStart(timestamp: number, size: number): number {
  return timestamp - (((timestamp % size) + size) % size);
}
