import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HandlerName, TableName } from '../../functions/resources.js';

/** A CloudFormation template as JSON: only what the local IAM reads is typed. */
export interface CfnTemplate {
  Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
}

/** The logical ids the local stack maps to its own resources, read from the synthesized stack. */
export interface StackIds {
  /** Each handler's function and role. */
  functions: Record<HandlerName, { functionId: string; roleId: string }>;
  tables: Record<TableName, string>;
  /** Queues by the environment variable that carries their URL (EVENT_QUEUE.env, ...). */
  queues: Record<string, string>;
  topics: Record<string, string>;
  secrets: Record<string, string>;
}

/** The synthesized template of the real MeteringStack and the logical ids of what it declares. */
export interface SynthesizedStack {
  template: CfnTemplate;
  ids: StackIds;
  /** How long synthesizing took, in milliseconds, when it was last synthesized. */
  synthMs: number;
  /** Whether this process read it from the on-disk cache instead of synthesizing. */
  fromCache?: boolean;
}

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
/** What the template is made from: the CDK app, its settings and the definitions it reads, and the CDK version. */
const INPUTS = ['lib', 'cdk.json', 'functions/resources.ts', 'functions/runtime/config.ts', 'package-lock.json', 'local/iam'];

let cached: Promise<SynthesizedStack> | undefined;

/**
 * The deployed `MeteringStack`'s template, synthesized in process once per process, and cached on disk
 * (node_modules/.cache) under a hash of everything it is made from, so a stack start pays seconds, not a synth.
 * @example const { template, ids } = await meteringStackTemplate();
 */
export function meteringStackTemplate(): Promise<SynthesizedStack> {
  cached ??= load();
  return cached;
}

async function load(): Promise<SynthesizedStack> {
  const dir = join(repoRoot, 'node_modules', '.cache', 'meter-iam');
  const file = join(dir, `${inputsHash()}.json`);
  if (existsSync(file)) return { ...(JSON.parse(readFileSync(file, 'utf8')) as SynthesizedStack), fromCache: true };
  // Imported only on a miss: aws-cdk-lib alone takes seconds to load.
  const { synthesizeMeteringStack } = await import('./synth-metering-stack.js');
  const synthesized = synthesizeMeteringStack();
  mkdirSync(dir, { recursive: true });
  // Written aside and renamed: test files start stacks side by side.
  const partial = `${file}.${process.pid}.tmp`;
  writeFileSync(partial, JSON.stringify(synthesized));
  renameSync(partial, file);
  return synthesized;
}

function inputsHash(): string {
  const hash = createHash('sha256');
  const visit = (path: string) => {
    if (!existsSync(path)) return;
    if (statSync(path).isDirectory()) {
      for (const entry of readdirSync(path).sort()) visit(join(path, entry));
      return;
    }
    hash.update(relative(repoRoot, path)).update('\0').update(readFileSync(path)).update('\0');
  };
  for (const input of INPUTS) visit(join(repoRoot, input));
  return hash.digest('hex').slice(0, 32);
}
