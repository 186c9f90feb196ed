/**
 * The flag queue at scale: seeds N open flags (default 10,000; a quarter holding) into a started local
 * DynamoDB and reads the first and the fifth page of `GET /v1/flags?status=open` through the real API
 * handler, counting the Flags table's read units (ReturnConsumedCapacity, through the CapacityMeter).
 * Called by `bench:console`; run alone with `npx tsx bench/flags-page.ts [N]`.
 */
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { DAY_MS, HOUR_MS } from '../contract/clock.js';
import { makeAwsClients } from '../functions/adapters/aws/aws-clients.js';
import { FLAG_SEVERITIES, type Flag } from '../functions/core/fraud/types.js';
import { inParallel } from '../functions/core/shared/concurrency.js';
import { makeApiHandler } from '../functions/handlers/api.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../local/dynamodb-local.js';
import { type LocalStack, startLocalStack } from '../local/stack.js';
import { rng } from './traffic-model.js';

process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';

const NOW = Date.parse('2026-03-20T12:00:00.000Z');

export interface FlagsPageOptions {
  /** Flags to seed; default 10,000. */
  flags?: number;
  /** Rows per page; default 50 (the route's default). */
  limit?: number;
  /** A started local stack to seed; without one, a stack is started (with this clock) and stopped after. */
  stack?: LocalStack;
}

/** A flag as the close stores it, with a day of hourly evidence so items are of a realistic size. */
function benchFlag(i: number, random: () => number): Flag {
  const from = NOW - (1 + Math.floor(random() * 30)) * DAY_MS;
  const severity = FLAG_SEVERITIES[Math.floor(random() * 3)]!;
  return {
    id: `bench-${String(i).padStart(6, '0')}`,
    customerId: `cus-${i % 500}`,
    rule: 'volume_spike',
    meter: 'api_calls',
    window: { from: new Date(from).toISOString(), to: new Date(from + 3 * HOUR_MS).toISOString() },
    score: 0.5 + random() / 2,
    severity,
    status: 'open',
    evidence: {
      summary: `${i} calls against about 300 expected`,
      observed: 5000,
      expected: 300,
      signals: { z: 9 },
      series: [
        {
          name: 'api_calls per hour',
          granularity: 'hour',
          points: Array.from({ length: 24 }, (_, h) => ({
            t: new Date(from + h * HOUR_MS).toISOString(),
            observed: 100,
            expected: 90,
            lo: 50,
            hi: 150,
            flagged: h < 3,
          })),
        },
      ],
    },
    notes: [],
    history: [{ at: new Date(NOW).toISOString(), by: 'system', action: 'opened' }],
    heldQuantity: Math.floor(random() * 100_000),
    escalateBy: new Date(from + 35 * DAY_MS).toISOString(),
  };
}

/** Stores `n` open flags (a quarter to a third holding usage) as the close would save them. */
export async function seedBenchFlags(stack: LocalStack, n: number): Promise<void> {
  const random = rng(11);
  const flags = Array.from({ length: n }, (_, i) => benchFlag(i, random));
  await inParallel(flags, 16, (flag) => stack.services.flags.save([{ flag, basedOn: undefined }]));
}

/**
 * Seeds the flags (unless `seeded`), then measures page 1 and page 5 of the open queue; `pageReadUnits` and
 * `pageMs` are the larger of the two. `scanReadUnits` is the baseline: what one full Scan of the table costs,
 * which is what a queue without its index would read per page to sort by urgency.
 */
export async function measureFlagsPage(
  opts: FlagsPageOptions & { seeded?: boolean } = {},
): Promise<{ flags: number; pageReadUnits: number; pageMs: number; scanReadUnits: number }> {
  const n = opts.flags ?? 10_000;
  const limit = opts.limit ?? 50;
  const stack = opts.stack ?? (await startLocalStack({ noPoller: true, clock: { now: () => NOW } }));
  try {
    const s = stack.services;
    if (!opts.seeded) await seedBenchFlags(stack, n);
    const api = makeApiHandler(s);
    const table = s.config.tables.flags;
    const flagReads = () => s.capacity.byTable.get(table)?.read ?? 0;
    const page = async (cursor?: string) => {
      const query = `status=open&limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`;
      const event = {
        rawPath: '/v1/flags',
        rawQueryString: query,
        queryStringParameters: Object.fromEntries(new URLSearchParams(query)),
        headers: { authorization: `Bearer ${stack.adminKey}` },
        requestContext: { http: { method: 'GET', path: '/v1/flags', sourceIp: '127.0.0.1' } },
      } as unknown as APIGatewayProxyEventV2;
      const before = flagReads();
      const started = performance.now();
      const res = await api(event);
      const ms = performance.now() - started;
      if (res.statusCode !== 200) throw new Error(`GET /v1/flags answered ${res.statusCode}: ${res.body}`);
      const body = JSON.parse(res.body as string) as { flags: unknown[]; cursor?: string };
      return { units: flagReads() - before, ms, cursor: body.cursor, rows: body.flags.length };
    };
    await page(); // warm: the key lookup is cached after the first request
    const first = await page();
    let cursor = first.cursor;
    for (let i = 2; i < 5; i++) cursor = (await page(cursor)).cursor;
    const fifth = await page(cursor);
    if (first.rows !== limit || fifth.rows !== limit) throw new Error(`pages held ${first.rows} and ${fifth.rows} rows, not ${limit}`);
    return {
      flags: n,
      pageReadUnits: Math.max(first.units, fifth.units),
      pageMs: Math.round(Math.max(first.ms, fifth.ms)),
      scanReadUnits: await scanUnits(stack, table),
    };
  } finally {
    if (!opts.stack) await stack.stop();
  }
}

/** Read units of one full Scan of a table (eventually consistent, as a listing would read it). */
async function scanUnits(stack: LocalStack, table: string): Promise<number> {
  const { doc } = makeAwsClients({
    region: LOCAL_REGION,
    endpoints: { dynamodb: stack.env.AWS_ENDPOINT_URL_DYNAMODB! },
    credentials: LOCAL_CREDENTIALS,
  });
  let units = 0;
  let start: Record<string, unknown> | undefined;
  do {
    const out = await doc.send(
      new ScanCommand({ TableName: table, Select: 'COUNT', ExclusiveStartKey: start, ReturnConsumedCapacity: 'TOTAL' }),
    );
    units += out.ConsumedCapacity?.CapacityUnits ?? 0;
    start = out.LastEvaluatedKey;
  } while (start);
  return units;
}

if (process.argv[1]?.endsWith('flags-page.ts')) {
  const n = process.argv[2] ? Number(process.argv[2]) : undefined;
  measureFlagsPage({ ...(n ? { flags: n } : {}) }).then((r) => console.log(JSON.stringify(r)));
}
