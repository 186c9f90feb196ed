import { z } from 'zod';
import { ConfigError } from './core/errors.js';
import { CLOSE_QUEUE, DEFAULTS, EVENT_QUEUE, TABLES, type TableName } from './resources.js';

const tableName = z.string().min(3, 'must name a DynamoDB table');

const configSchema = z.object({
  tables: z.object(Object.fromEntries(Object.keys(TABLES).map((k) => [k, tableName])) as Record<TableName, typeof tableName>),
  queueUrl: z.url(),
  dlqUrl: z.url(),
  eventRetentionDays: z.coerce.number().int().min(1),
  auditRetentionDays: z.coerce.number().int().min(1),
  region: z.string().min(1),
});

/** Everything a handler needs to reach its resources, parsed once at cold start. */
export type Config = z.infer<typeof configSchema>;

/** Parses configuration from the environment. A missing resource name fails loudly; nothing falls back. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = configSchema.safeParse({
    tables: Object.fromEntries(Object.entries(TABLES).map(([k, t]) => [k, env[t.env]])),
    queueUrl: env[EVENT_QUEUE.env],
    dlqUrl: env[EVENT_QUEUE.dlqEnv],
    eventRetentionDays: env.EVENT_RETENTION_DAYS ?? DEFAULTS.eventRetentionDays,
    auditRetentionDays: env.AUDIT_RETENTION_DAYS ?? DEFAULTS.auditRetentionDays,
    region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION,
  });
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${envNameOf(i.path)} ${i.code === 'invalid_type' ? 'is not set' : i.message}`).join('; ');
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
  return String(head);
}

const closeConfigSchema = z.object({
  queueUrl: z.url(),
  dlqUrl: z.url(),
  stripeSecretKey: z.string().regex(/^(sk|rk)_(test|live)_/, 'must be a Stripe secret or restricted key (sk_test_…, sk_live_…)'),
  stripeApiBase: z.url().optional(),
  stripeRatePerSecond: z.coerce.number().positive(),
  concurrency: z.coerce.number().int().min(1),
});

/** What the nightly close needs beyond the pipeline's configuration. */
export type CloseConfig = z.infer<typeof closeConfigSchema>;

/** Parses the nightly close's configuration; only the close's functions need it. */
export function loadCloseConfig(env: NodeJS.ProcessEnv = process.env): CloseConfig {
  const parsed = closeConfigSchema.safeParse({
    queueUrl: env[CLOSE_QUEUE.env],
    dlqUrl: env[CLOSE_QUEUE.dlqEnv],
    stripeSecretKey: env.STRIPE_SECRET_KEY,
    stripeApiBase: env.STRIPE_API_BASE || undefined,
    stripeRatePerSecond: env.STRIPE_RATE_PER_SECOND ?? 25,
    concurrency: env.CLOSE_CONCURRENCY ?? 4,
  });
  if (!parsed.success) {
    const names: Record<string, string> = {
      queueUrl: CLOSE_QUEUE.env,
      dlqUrl: CLOSE_QUEUE.dlqEnv,
      stripeSecretKey: 'STRIPE_SECRET_KEY',
      stripeApiBase: 'STRIPE_API_BASE',
      stripeRatePerSecond: 'STRIPE_RATE_PER_SECOND',
      concurrency: 'CLOSE_CONCURRENCY',
    };
    const problems = parsed.error.issues.map((i) => `${names[String(i.path[0])]} ${i.code === 'invalid_type' ? 'is not set' : i.message}`).join('; ');
    throw new ConfigError(`invalid nightly-close configuration: ${problems}`);
  }
  return parsed.data;
}
