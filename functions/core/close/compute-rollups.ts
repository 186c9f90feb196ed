import { HOUR_MS } from '../../../contract/clock.js';
import { eventKey, type UsageEvent } from '../../../contract/event-contract.js';
import type { FileOp } from '../count/usage-fragment.js';
import type { Customer, EventStore, RollupStore, StoredDay } from '../shared/ports.js';
import { type BillingPeriod, daysOfPeriod, periodContaining } from './billing-period.js';
import { DEFAULT_METER_SETTINGS, type MeterSettings, rollupDay } from './daily-rollup.js';
import { fileStateAt, fileTimeline, mergeFileOps, recomputeDays, utcDayStart } from './file-timeline.js';
import { sameStoredDay } from './same-stored-day.js';

/** What the rollup step reads and writes. */
export interface RollupStepDeps {
  events: Pick<EventStore, 'listDay'>;
  rollups: RollupStore;
  settings?: MeterSettings;
}

type OwnFigures = Pick<StoredDay, 'eventCount' | 'apiCalls' | 'apiCallsByHour' | 'activeUsers' | 'activeUsersByHour' | 'keys'>;

/** One billing period to recompute: its days from the first to the latest closed one, and those already stored. */
interface PeriodRange {
  period: BillingPeriod;
  days: string[];
  stored: Map<string, StoredDay>;
}

/** Every day of the recomputed ranges, and those of them whose values differed from the store's (the only ones written). */
export interface ComputedRollups {
  days: StoredDay[];
  written: string[];
}

/**
 * The close's first step: recomputes the closed `day`, every late day up to it, and every day of their
 * billing periods that the store lacks, from the raw events; each period's period-to-date values run
 * from its first day to its latest closed day. File histories take every operation first, since a late
 * operation changes the counts of the days after it. Stores the period's first-seen users, the touched
 * files' histories and the days whose values changed: a day equal to its stored row (the read that found
 * the period's stored days already holds it) is not written again, so closing the 31st of a period
 * writes about what closing the 1st does, while a late event still rewrites each day whose own or
 * period-to-date figures it changed. Returns every day of the recomputed ranges (the ledger plans from
 * them all) and the days written.
 */
export async function computeRollups(
  customer: Customer,
  day: string,
  lateDays: readonly string[],
  deps: RollupStepDeps,
  now: number,
): Promise<ComputedRollups> {
  const anchor = customer.anchorDay ?? 1;
  const targets = new Set([day, ...lateDays.filter((d) => d <= day)]);
  const ranges = await periodRanges(customer.id, targets, anchor, deps.rollups);
  const events = new Map<string, UsageEvent[]>();
  for (const d of [...targets].sort()) events.set(d, await deps.events.listDay(customer.id, d));

  const ops = [...events.values()].flat().flatMap(fileOpOf);
  const { history } = mergeFileOps(await deps.rollups.fileHistory(customer.id), ops);
  const touchedFiles = new Map(ops.map((o) => [o[0], [...(history.get(o[0]) ?? [])] as FileOp[]]));
  const timeline = fileTimeline(history);
  const settings = deps.settings ?? DEFAULT_METER_SETTINGS;
  const changedUsersByPeriod = new Map<string, Map<string, string>>();
  const days: StoredDay[] = [];
  const changed: StoredDay[] = [];
  for (const { period, days: range, stored } of ranges) {
    const files = recomputeDays(history, range);
    const users = await deps.rollups.periodUsers(customer.id, period.key);
    const changedUsers = new Map<string, string>();
    const computed = new Map<string, OwnFigures>();
    for (const d of range) {
      if (!targets.has(d)) continue;
      const r = rollupDay(events.get(d)!, d, fileStateAt(history, new Date(utcDayStart(d)!).toISOString()));
      computed.set(d, {
        eventCount: r.eventCount,
        apiCalls: r.apiCalls,
        apiCallsByHour: r.apiCallsByHour,
        activeUsers: r.activeUsers,
        activeUsersByHour: r.activeUsersByHour,
        keys: r.keys,
      });
      for (const u of r.activeUserIds) {
        const first = users.get(u);
        if (first === undefined || d < first) {
          users.set(u, d);
          changedUsers.set(u, d);
        }
      }
    }
    changedUsersByPeriod.set(period.key, changedUsers);
    const firstDays = [...users.values()].sort();
    let apiCalls = 0;
    let filesPeak = 0;
    let seen = 0;
    for (const d of range) {
      const own = computed.get(d) ?? pickOwn(stored.get(d)!);
      const f = files.get(d)!;
      apiCalls += own.apiCalls;
      filesPeak = Math.max(filesPeak, f.peak);
      while (seen < firstDays.length && firstDays[seen]! <= d) seen++;
      const ptd = { apiCalls, activeUsers: seen, filesPeak, filesEnd: f.end };
      const next: StoredDay = {
        customerId: customer.id,
        day: d,
        periodKey: period.key,
        anchorDay: anchor,
        ...own,
        files: { start: f.start, end: f.end, peak: f.peak },
        filesByHour: Array.from({ length: 24 }, (_, h) => timeline.countAt(utcDayStart(d)! + (h + 1) * HOUR_MS - 1)),
        ptd,
        values: {
          api_calls: own.apiCalls,
          active_users: ptd.activeUsers,
          protected_files: settings.protected_files.basis === 'peak' ? filesPeak : f.end,
        },
        computedAt: new Date(now).toISOString(),
      };
      days.push(next);
      if (!sameStoredDay(next, stored.get(d))) changed.push(next);
    }
  }
  await deps.rollups.save(customer.id, { days: changed, periodUsers: changedUsersByPeriod, files: touchedFiles });
  return { days, written: changed.map((d) => d.day) };
}

/** The periods of the target days, each recomputed from its first day to its latest closed day; days never stored join the targets. */
async function periodRanges(customerId: string, targets: Set<string>, anchor: number, rollups: RollupStore): Promise<PeriodRange[]> {
  const periods = new Map<string, BillingPeriod>();
  for (const d of targets) {
    const p = periodContaining(utcDayStart(d)!, anchor);
    periods.set(p.key, p);
  }
  const ranges: PeriodRange[] = [];
  for (const p of periods.values()) {
    const all = daysOfPeriod(p);
    const stored = new Map((await rollups.getDays(customerId, all[0]!, all.at(-1)!)).map((s) => [s.day, s]));
    const latest = [...targets, ...stored.keys()]
      .filter((d) => all.includes(d))
      .sort()
      .at(-1)!;
    const days = all.filter((d) => d <= latest);
    for (const d of days) if (!stored.has(d)) targets.add(d);
    ranges.push({ period: p, days, stored });
  }
  return ranges;
}

function pickOwn(s: StoredDay): OwnFigures {
  return {
    eventCount: s.eventCount,
    apiCalls: s.apiCalls,
    apiCallsByHour: s.apiCallsByHour,
    activeUsers: s.activeUsers,
    ...(s.activeUsersByHour ? { activeUsersByHour: s.activeUsersByHour } : {}),
    ...(s.keys ? { keys: s.keys } : {}),
  };
}

function fileOpOf(e: UsageEvent): FileOp[] {
  if (e.type === 'com.serenity.file.protected') return [[e.fileId!, '+', Date.parse(e.time), eventKey(e)]];
  if (e.type === 'com.serenity.file.unprotected') return [[e.fileId!, '-', Date.parse(e.time), eventKey(e)]];
  return [];
}
