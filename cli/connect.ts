import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../contract/errors.js';
import { makeAwsClients } from '../functions/adapters/aws/aws-clients.js';
import { EVENT_QUEUE, TABLES } from '../functions/resources.js';
import { makeServices, type Services } from '../functions/runtime/services.js';
import { LOCAL_CREDENTIALS } from '../local/dynamodb-local.js';

export interface Connection {
  services: Services;
  /** The HTTP API of the running local stack, when there is one. */
  url?: string;
  adminKey?: string;
  local: boolean;
  /** The environment the services were built from (the stack's, or this process's). */
  env: NodeJS.ProcessEnv;
}

/**
 * Connects a CLI command to the running `meter serve` stack (found through `<dataDir>/stack.json`),
 * or, without one, to AWS through the usual environment variables (table names, queue URLs, credentials).
 */
export function connect(dataDir = process.env.METER_DATA_DIR ?? '.meter'): Connection {
  const file = join(dataDir, 'stack.json');
  if (existsSync(file)) {
    const stack = JSON.parse(readFileSync(file, 'utf8')) as { url: string; env: Record<string, string>; adminKey?: string };
    const clients = makeAwsClients({
      region: stack.env.AWS_REGION,
      endpoints: { dynamodb: stack.env.AWS_ENDPOINT_URL_DYNAMODB, sqs: stack.env.AWS_ENDPOINT_URL_SQS },
      credentials: LOCAL_CREDENTIALS,
    });
    return {
      services: makeServices({ env: stack.env, clients }),
      url: stack.url,
      adminKey: stack.adminKey,
      local: true,
      env: { ...process.env, ...stack.env },
    };
  }
  if (!awsSettingsGiven(process.env)) throw new ConfigError(noStackMessage(dataDir));
  return { services: makeServices(), local: false, env: process.env };
}

/** Whether this process names any of the deployed stack's resources: then a missing one is worth naming. */
function awsSettingsGiven(env: NodeJS.ProcessEnv): boolean {
  return [...Object.values(TABLES).map((t) => t.env), EVENT_QUEUE.env, EVENT_QUEUE.dlqEnv].some((name) => env[name]);
}

/** One line for a CLI that finds neither a local stack nor AWS settings, with both ways out. */
export function noStackMessage(dataDir: string): string {
  return `no stack found: start one with 'npx meter serve' (it writes ${join(dataDir, 'stack.json')}), or set the AWS variables of the deployed stack (the table names, ${EVENT_QUEUE.env}, ${EVENT_QUEUE.dlqEnv} and AWS_REGION; see docs/cli.md)`;
}

/** Closes the connection's sockets so the CLI exits promptly. */
export function disconnect(c: Connection): void {
  c.services.clients.dynamo.destroy();
  c.services.clients.sqs.destroy();
}

/** The running local stack's URL and admin key, when there is one; nothing else is opened. */
export function stackInfo(dataDir = process.env.METER_DATA_DIR ?? '.meter'): { url?: string; adminKey?: string } {
  const file = join(dataDir, 'stack.json');
  if (!existsSync(file)) return {};
  const stack = JSON.parse(readFileSync(file, 'utf8')) as { url: string; adminKey?: string };
  return { url: stack.url, adminKey: stack.adminKey };
}
