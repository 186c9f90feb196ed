import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, type CfnElement } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import {
  CLOSE_QUEUE,
  EVENT_QUEUE,
  HANDLERS,
  type HandlerName,
  handlerConstructId,
  TABLES,
  type TableName,
} from '../../functions/resources.js';
import { MeteringStack } from '../../lib/metering-stack.js';
import type { CfnTemplate, StackIds, SynthesizedStack } from './template.js';

/**
 * Synthesizes the deployed `MeteringStack` in process, with cdk.json's feature flags and without bundling
 * the handlers (the template's IAM does not depend on the bundles). Slow (aws-cdk-lib): `meteringStackTemplate` caches it.
 * @example const { template, ids } = synthesizeMeteringStack();
 */
export function synthesizeMeteringStack(): SynthesizedStack {
  const started = performance.now();
  const context = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')).context as Record<string, unknown>;
  const outdir = mkdtempSync(join(tmpdir(), 'meter-iam-'));
  try {
    // Without bundling and without the default validation rules: neither changes the template, both cost seconds.
    const app = new App({
      outdir,
      context: { ...context, 'aws:cdk:bundling-stacks': [], '@aws-cdk/core:validateAgainstDefaultRules': false },
      stackTraces: false,
    });
    const stack = new MeteringStack(app, 'SerenityMetering');
    const template = app.synth().getStackByName(stack.stackName).template as CfnTemplate;
    const idOf = (c: IConstruct) => stack.getLogicalId(c.node.defaultChild as CfnElement);
    const fnConstruct = (h: HandlerName) => {
      const all = [stack.pipeline.consume, stack.http.ingest, stack.http.api, stack.close.planner, stack.close.worker];
      const fn = all.find((f) => f.node.id === handlerConstructId(h));
      if (!fn) throw new Error(`no function ${handlerConstructId(h)} in MeteringStack`);
      return fn;
    };
    const functions = Object.fromEntries(
      HANDLERS.map((h) => {
        const fn = fnConstruct(h);
        return [h, { functionId: idOf(fn), roleId: idOf(fn.role!) }];
      }),
    ) as StackIds['functions'];
    const tables = Object.fromEntries(
      (Object.keys(TABLES) as TableName[]).map((name) => [name, idOf(stack.tables.tables[name])]),
    ) as StackIds['tables'];
    const queues = {
      [EVENT_QUEUE.env]: idOf(stack.pipeline.queue),
      [EVENT_QUEUE.dlqEnv]: idOf(stack.pipeline.dlq),
      [CLOSE_QUEUE.env]: idOf(stack.close.queue),
      [CLOSE_QUEUE.dlqEnv]: idOf(stack.close.dlq),
    };
    const secret = stack.close.stripeSecret.node.defaultChild as CfnElement | undefined;
    return {
      template,
      ids: {
        functions,
        tables,
        queues,
        topics: { flags: idOf(stack.close.flagTopic) },
        secrets: secret ? { stripe: stack.getLogicalId(secret) } : {},
      },
      synthMs: performance.now() - started,
    };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}
