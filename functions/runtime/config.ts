import { z } from 'zod';
import { ConfigError } from '../../contract/errors.js';
import {
  CLOSE_QUEUE,
  DEFAULTS,
  EVENT_QUEUE,
  STRIPE_SECRET,
  TABLES,
  type TableName,
  STRIPE_WEBHOOK_SECRET as WEBHOOK_SECRET,
} from '../resources.js';

const tableName = z.string().min(3, 'must name a DynamoDB table');
const retentionDays = z.coerce.number('must be a number of days').int('must be a whole number of days').min(1, 'must be at least 1 (days)');

/** Each retention setting's environment variable (see docs/retention.md). */
const RETENTION_ENV = {
  eventRetentionDays: 'EVENT_RETENTION_DAYS',
  auditRetentionDays: 'AUDIT_RETENTION_DAYS',
  fragmentRetentionDays: 'FRAGMENT_RETENTION_DAYS',
  quarantineRetentionDays: 'QUARANTINE_RETENTION_DAYS',
  rollupRetentionDays: 'ROLLUP_RETENTION_DAYS',
  flagRetentionDays: 'FLAG_RETENTION_DAYS',
  ledgerRetentionDays: 'LEDGER_RETENTION_DAYS',
} as const;

/** The Stripe account's invoice grace period in hours, as Stripe allows it (1-72); the CDK stack checks its context with it too. */
export const invoiceGraceHoursSchema = z.coerce
  .number()
  .min(1, 'must be 1-72 (hours; Stripe allows no less)')
  .max(72, 'must be 1-72 (hours; Stripe allows no more)');

const configSchema = z.object({
  tables: z.object(Object.fromEntries(Object.keys(TABLES).map((k) => [k, tableName])) as Record<TableName, typeof tableName>),
  queueUrl: z.url(),
  dlqUrl: z.url(),
  eventRetentionDays: retentionDays,
  auditRetentionDays: retentionDays,
  /** Usage fragments live this long after their UTC day (`FRAGMENT_RETENTION_DAYS`). */
  fragmentRetentionDays: retentionDays,
  /** Quarantined events live this long after their quarantine (`QUARANTINE_RETENTION_DAYS`). */
  quarantineRetentionDays: retentionDays,
  /** Daily rollups and period user sets live this long after their billing period's end (`ROLLUP_RETENTION_DAYS`). */
  rollupRetentionDays: retentionDays,
  /** A decided fraud flag lives this long after its decision (`FLAG_RETENTION_DAYS`); an open one never expires. */
  flagRetentionDays: retentionDays,
  /** An erased customer's ledger records (reported amounts, Stripe ids) are kept this long for tax (`LEDGER_RETENTION_DAYS`). */
  ledgerRetentionDays: retentionDays,
  region: z.string().min(1),
  /** Open flags of these severities hold their usage from Stripe (`HOLD_SEVERITIES`): the close defers it, statements and reconciliation show it held. */
  holdSeverities: z.array(z.enum(['low', 'medium', 'high'])),
  /** The Stripe account's invoice finalisation grace period, in hours (Stripe: 1 by default, up to 72): late usage stamped in a period is billed until its end plus this. */
  invoiceGraceHours: invoiceGraceHoursSchema,
  /** CloudFront fronts the API and sets `cloudfront-viewer-country(-region)` (`BEHIND_CLOUDFRONT=true`); off by default, so a caller's own headers are never trusted. */
  behindCloudFront: z
    .enum(['true', 'false'], 'must be "true" or "false"')
    .default('false')
    .transform((v) => v === 'true'),
});

/** Everything a handler needs to reach its resources, parsed once at cold start. */
export type Config = z.infer<typeof configSchema>;

/** Parses configuration from the environment. A missing resource name fails loudly; nothing falls back. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const input = {
    tables: Object.fromEntries(Object.entries(TABLES).map(([k, t]) => [k, env[t.env]])),
    queueUrl: env[EVENT_QUEUE.env],
    dlqUrl: env[EVENT_QUEUE.dlqEnv],
    // An empty setting is an unset one, as below: it must not mean zero days.
    ...Object.fromEntries(Object.entries(RETENTION_ENV).map(([k, name]) => [k, env[name] || DEFAULTS[k as keyof typeof RETENTION_ENV]])),
    region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION,
    holdSeverities: loadHoldSeverities(env),
    // An empty setting is an unset one: it must not mean "no grace" or "hold nothing".
    invoiceGraceHours: env.STRIPE_INVOICE_GRACE_HOURS || 1,
    behindCloudFront: env.BEHIND_CLOUDFRONT || undefined,
  };
  const parsed = configSchema.safeParse(input);
  if (!parsed.success) {
    // A wrong type is "not set" only when nothing was given: "7.5" days is set, and wrong.
    const given = (path: PropertyKey[]) => path.reduce<unknown>((o, k) => (o as Record<PropertyKey, unknown> | undefined)?.[k], input);
    const problems = parsed.error.issues
      .map((i) => `${envNameOf(i.path)} ${i.code === 'invalid_type' && given(i.path) === undefined ? 'is not set' : i.message}`)
      .join('; ');
    throw new ConfigError(`invalid configuration: ${problems}`);
  }
  return parsed.data;
}

function envNameOf(path: PropertyKey[]): string {
  const [head, sub] = path;
  if (head === 'tables' && typeof sub === 'string') return TABLES[sub as keyof typeof TABLES].env;
  if (head === 'queueUrl') return EVENT_QUEUE.env;
  if (head === 'dlqUrl') return EVENT_QUEUE.dlqEnv;
  if (head === 'region') return 'AWS_REGION';
  if (head === 'invoiceGraceHours') return 'STRIPE_INVOICE_GRACE_HOURS';
  if (head === 'behindCloudFront') return 'BEHIND_CLOUDFRONT';
  if (typeof head === 'string' && head in RETENTION_ENV) return RETENTION_ENV[head as keyof typeof RETENTION_ENV];
  return String(head);
}

const closeConfigSchema = z.object({
  queueUrl: z.url(),
  dlqUrl: z.url(),
  concurrency: z.coerce.number().int().min(1),
});

/** What the nightly close's planner and workers need beyond the pipeline's configuration. */
export type CloseConfig = z.infer<typeof closeConfigSchema>;

/** Parses the nightly close's queue configuration. */
export function loadCloseConfig(env: NodeJS.ProcessEnv = process.env): CloseConfig {
  return parseOrThrow(
    'nightly-close',
    closeConfigSchema,
    { queueUrl: env[CLOSE_QUEUE.env], dlqUrl: env[CLOSE_QUEUE.dlqEnv], concurrency: env.CLOSE_CONCURRENCY ?? 4 },
    {
      queueUrl: CLOSE_QUEUE.env,
      dlqUrl: CLOSE_QUEUE.dlqEnv,
      concurrency: 'CLOSE_CONCURRENCY',
    },
  );
}

/** What a Stripe key looks like: a secret or restricted key, test or live (the secret Secrets Manager holds is checked with it too). */
export const STRIPE_KEY = /^(sk|rk)_(test|live)_\S+$/;

const stripeConfigSchema = z
  .object({
    secretKey: z.string().regex(STRIPE_KEY, 'must be a Stripe secret or restricted key (sk_test_…, sk_live_…, rk_…)').optional(),
    secretArn: z.string().startsWith('arn:', 'must be a Secrets Manager ARN').optional(),
    // Without a base the SDK talks to api.stripe.com (and meter-events.stripe.com for the stream).
    apiBase: z
      .url({ protocol: /^https?$/, error: 'must be an http(s) URL such as http://127.0.0.1:12111' })
      .refine((u) => ['', '/'].includes(new URL(u).pathname) && !new URL(u).search, {
        error: 'must have no path or query (the SDK adds /v1, /v2)',
      })
      .optional(),
    ratePerSecond: z.coerce.number().positive(),
    /**
     * How the close sends meter events (`STRIPE_METER_MODE`): `v1` (default), one synchronous call per event;
     * `v2-stream`, up to 100 per call on the meter event stream, refusals arriving later by webhook (POST /v1/stripe/webhooks, docs/http-api.md).
     */
    meterMode: z.enum(['v1', 'v2-stream'], 'must be v1 or v2-stream'),
  })
  .refine((c) => c.secretKey !== undefined || c.secretArn !== undefined, {
    message: 'is not set (nor STRIPE_SECRET_ARN)',
    path: ['secretKey'],
  });

/** Where the close reports: a key (local, tests) or the ARN of a secret holding it (AWS), and the pace. */
export type StripeConfig = z.infer<typeof stripeConfigSchema>;

/** Parses the Stripe settings, the only parser of them; only the reporting worker and the finance CLI need them. */
export function loadStripeConfig(env: NodeJS.ProcessEnv = process.env): StripeConfig {
  return parseOrThrow(
    'Stripe',
    stripeConfigSchema,
    {
      secretKey: env.STRIPE_SECRET_KEY || undefined,
      secretArn: env[STRIPE_SECRET.env] || undefined,
      apiBase: env.STRIPE_API_BASE || undefined,
      ratePerSecond: env.STRIPE_RATE_PER_SECOND ?? 25,
      // An empty setting is an unset one.
      meterMode: env.STRIPE_METER_MODE || 'v1',
    },
    {
      secretKey: 'STRIPE_SECRET_KEY',
      secretArn: STRIPE_SECRET.env,
      apiBase: 'STRIPE_API_BASE',
      ratePerSecond: 'STRIPE_RATE_PER_SECOND',
      meterMode: 'STRIPE_METER_MODE',
    },
  );
}

/** The environment variable that carries the ARN of the secret holding the webhook signing secret, deployed. */
export const STRIPE_WEBHOOK_SECRET_ARN_ENV = WEBHOOK_SECRET.env;

/** What a Stripe webhook signing secret looks like (the secret Secrets Manager holds is checked with it too). */
export const STRIPE_WEBHOOK_SECRET = /^whsec_\S+$/;

const stripeWebhookConfigSchema = z
  .object({
    secret: z.string().regex(STRIPE_WEBHOOK_SECRET, 'must be a Stripe webhook signing secret (whsec_…)').optional(),
    secretArn: z.string().startsWith('arn:', 'must be a Secrets Manager ARN').optional(),
  })
  .refine((c) => c.secret !== undefined || c.secretArn !== undefined, {
    message: `is not set (nor ${STRIPE_WEBHOOK_SECRET_ARN_ENV})`,
    path: ['secret'],
  });

/** Where the webhook endpoint finds its signing secret: given (local, tests) or in Secrets Manager (AWS). */
export type StripeWebhookConfig = z.infer<typeof stripeWebhookConfigSchema>;

/** Parses the webhook signing secret's settings (`STRIPE_WEBHOOK_SECRET` or `STRIPE_WEBHOOK_SECRET_ARN`), the only parser of them. */
export function loadStripeWebhookConfig(env: NodeJS.ProcessEnv = process.env): StripeWebhookConfig {
  return parseOrThrow(
    'Stripe webhook',
    stripeWebhookConfigSchema,
    { secret: env.STRIPE_WEBHOOK_SECRET || undefined, secretArn: env[STRIPE_WEBHOOK_SECRET_ARN_ENV] || undefined },
    { secret: 'STRIPE_WEBHOOK_SECRET', secretArn: STRIPE_WEBHOOK_SECRET_ARN_ENV },
  );
}

function parseOrThrow<T>(what: string, schema: z.ZodType<T>, input: unknown, names: Record<string, string>): T {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  // Never echo the values: one of them may be a secret key.
  const problems = parsed.error.issues
    .map((i) => `${names[String(i.path[0])]} ${i.code === 'invalid_type' ? 'is not set' : i.message}`)
    .join('; ');
  throw new ConfigError(`invalid ${what} configuration: ${problems}`, {
    variables: [...new Set(parsed.error.issues.map((i) => names[String(i.path[0])]))],
  });
}

/** Which open-flag severities hold usage back from Stripe (`HOLD_SEVERITIES`, comma-separated; default high). */
export function loadHoldSeverities(env: NodeJS.ProcessEnv = process.env): ('low' | 'medium' | 'high')[] {
  const raw = (env.HOLD_SEVERITIES || 'high')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  const bad = raw.filter((x) => !['low', 'medium', 'high'].includes(x));
  if (bad.length) throw new ConfigError(`invalid configuration: HOLD_SEVERITIES must list low, medium or high, got ${bad.join(', ')}`);
  return raw as ('low' | 'medium' | 'high')[];
}
