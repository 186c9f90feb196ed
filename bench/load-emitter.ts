/**
 * The emitter part of bench:load, run by it in a child process (node --expose-gc) so the heap measured
 * is the emitter's alone: apiCall() at a steady rate in real time through the HTTP transport to the
 * ingest URL it is given, with the heap sampled after a forced GC. Ends with one JSON line.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createUsageEmitter } from '../emitter/index.js';
import { rng, zipf } from './traffic-model.js';

const URL_ = process.env.LOAD_EMITTER_URL;
const KEY = process.env.LOAD_EMITTER_KEY;
const SECONDS = Number(process.env.BENCH_EMITTER_SECONDS ?? 300);
const RATE = Number(process.env.BENCH_EMITTER_RATE ?? 10_000);
const CUSTOMERS = 100;
const TICK_MS = 10;
const fmt = (x: number, d = 3) => Number(x.toFixed(d));
const mb = (bytes: number) => bytes / 1024 / 1024;

const gc = (globalThis as { gc?: () => void }).gc;

/** Heap after a full collection: what is still held, not garbage waiting. */
function heapMb(): number {
  gc?.();
  return mb(process.memoryUsage().heapUsed);
}

/** Least-squares slope of y over x. */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

async function main() {
  if (!URL_ || !KEY) throw new Error('LOAD_EMITTER_URL and LOAD_EMITTER_KEY must be set (bench/load.ts sets them)');
  if (!gc) throw new Error('run with node --expose-gc: the heap is sampled after a forced collection');
  if (!(SECONDS > 0) || !(RATE > 0))
    throw new Error(`BENCH_EMITTER_SECONDS (${SECONDS}) and BENCH_EMITTER_RATE (${RATE}) must be positive`);
  const errors: string[] = [];
  const emitter = createUsageEmitter({
    source: 'local',
    endpoint: URL_,
    apiKey: KEY,
    onError: (e) => {
      if (errors.length < 5) errors.push(e.message);
    },
  });
  const random = rng(5);
  const pick = zipf(CUSTOMERS, 1.1, random);
  const ops = ['files.encrypt', 'files.decrypt', 'keys.rotate', 'shares.create'];
  // The calls an API server sees: Zipf customers, one or two keys each from its own /24, four operations.
  const calls = Array.from({ length: 4096 }, () => {
    const c = pick();
    const key = Math.floor(random() * 2);
    return [
      `cus-${c}`,
      {
        operation: ops[Math.floor(random() * ops.length)],
        apiKeyId: `k${c}-${key}`,
        clientIp: `10.${c % 250}.${key}.${Math.floor(random() * 200)}`,
        country: 'US',
      },
    ] as const;
  });

  const sampleEvery = Math.max(5, Math.round(SECONDS / 30));
  const samples: { t: number; heapMb: number; pending: number }[] = [{ t: 0, heapMb: fmt(heapMb(), 2), pending: 0 }];
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let done = 0;
  let nextSample = sampleEvery;
  let callNs = 0;
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const elapsed = (performance.now() - t0) / 1000;
      const due = Math.min(Math.floor(elapsed * RATE), SECONDS * RATE);
      const h = process.hrtime.bigint();
      for (; done < due; done++) {
        const [c, o] = calls[done % calls.length]!;
        emitter.apiCall(c, o);
      }
      callNs += Number(process.hrtime.bigint() - h);
      if (elapsed >= nextSample) {
        samples.push({ t: fmt(elapsed, 1), heapMb: fmt(heapMb(), 2), pending: emitter.stats().pending });
        nextSample += sampleEvery;
      }
      if (done >= SECONDS * RATE) {
        clearInterval(tick);
        resolve();
      }
    }, TICK_MS);
  });
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  loop.disable();
  await emitter.shutdown();
  const st = emitter.stats();
  const end = heapMb();

  // Growth is read after the first minute: the first sealed minute and the HTTP agent's sockets set the level.
  const steady = samples.filter((s) => s.t >= Math.min(60, SECONDS / 2));
  const growthPerMin =
    steady.length >= 2
      ? slope(
          steady.map((s) => s.t / 60),
          steady.map((s) => s.heapMb),
        )
      : 0;
  const first = steady[0] ?? samples[0]!;
  const last = samples.at(-1)!;
  const out = {
    seconds: SECONDS,
    targetCallsPerSecond: RATE,
    calls: done,
    callsPerSecond: fmt(done / wall, 0),
    recorded: st.recorded,
    eventsAccepted: st.accepted,
    eventsPerSecondSent: fmt(st.accepted / wall, 1),
    callsPerEvent: fmt(st.recorded / Math.max(st.accepted, 1), 1),
    dropped: st.dropped.total,
    rejected: st.rejected.total,
    retries: st.retries,
    recordingNsPerCall: fmt(callNs / Math.max(done, 1), 1),
    cpuShareOfOneCore: fmt((cpu.user + cpu.system) / 1e6 / wall, 4),
    cpuUsPerCall: fmt((cpu.user + cpu.system) / Math.max(done, 1), 3),
    eventLoopDelayP99Ms: fmt(loop.percentile(99) / 1e6, 2),
    heapStartMb: samples[0]!.heapMb,
    heapSteadyStartMb: first.heapMb,
    heapLastSampleMb: last.heapMb,
    heapAfterShutdownMb: fmt(end, 2),
    heapGrowthMb: fmt(last.heapMb - first.heapMb, 2),
    heapGrowthMbPerMinute: fmt(growthPerMin, 3),
    heapMaxMb: Math.max(...samples.map((s) => s.heapMb)),
    samples: samples.length,
    errors,
  };
  console.log(
    `  ${out.calls} calls in ${fmt(wall, 1)} s = ${out.callsPerSecond} calls/s; ${out.eventsAccepted} events accepted (${out.callsPerEvent} calls per event), ${out.dropped} dropped, ${out.rejected} rejected\n` +
      `  recording: ${out.recordingNsPerCall} ns per call; the process used ${fmt(out.cpuShareOfOneCore * 100, 2)} % of one core (${out.cpuUsPerCall} µs per call, sends included); event-loop delay p99 ${out.eventLoopDelayP99Ms} ms\n` +
      `  heap after GC: ${out.heapStartMb} MB at start, ${out.heapSteadyStartMb} MB at ${first.t} s, ${out.heapLastSampleMb} MB at ${last.t} s (growth ${out.heapGrowthMb} MB, ${out.heapGrowthMbPerMinute} MB/min), max ${out.heapMaxMb} MB, ${out.heapAfterShutdownMb} MB after shutdown`,
  );
  console.log(JSON.stringify(out));
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
