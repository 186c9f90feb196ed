import { z } from 'zod';
import { ConfigError } from './core/errors.js';
import { DEFAULTS, EVENT_QUEUE, TABLES } from './resources.js';

const tableName = z.string().min(3, 'must name a DynamoDB table');

const configSchema = z.object({
  tables: z.object({
    events: tableName,
    usage: tableName,
    registry: tableName,
    quarantine: tableName,
    audit: tableName,
  }),
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
    tables: {
      events: env[TABLES.events.env],
      usage: env[TABLES.usage.env],
      registry: env[TABLES.registry.env],
      quarantine: env[TABLES.quarantine.env],
      audit: env[TABLES.audit.env],
    },
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
