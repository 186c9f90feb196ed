import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildCustomer } from '../../functions/core/shared/customers.js';
import { makePlanner } from '../../functions/handlers/close-planner.js';
import { logger } from '../../functions/runtime/logger.js';
import type { CfnTemplate, StackIds } from '../../local/iam/template.js';
import { type LocalStack, type LocalStackOptions, startLocalStack } from '../../local/stack.js';
import { apiCall, post } from '../fakes/events.js';

const DAY_MS = 86_400_000;

/** The consumer's role policy without any statement on the Rollups table: the grant defect 1 was missing. */
function withoutConsumerRollups(template: CfnTemplate, ids: StackIds): CfnTemplate {
  const { roleId } = ids.functions.consume;
  for (const r of Object.values(template.Resources)) {
    const p = r.Properties as { Roles?: { Ref: string }[]; PolicyDocument?: { Statement: unknown[] } } | undefined;
    if (r.Type !== 'AWS::IAM::Policy' || !p?.Roles?.some((x) => x.Ref === roleId)) continue;
    p.PolicyDocument!.Statement = p.PolicyDocument!.Statement.filter((st) => !JSON.stringify(st).includes(ids.tables.rollups));
  }
  return template;
}

/** Sends one event dated yesterday and waits until the consumer either marks the day late or fails the record. */
async function lateEvent(stack: LocalStack, customer: string, failures: string[]) {
  const yesterday = new Date(Date.now() - DAY_MS);
  const day = yesterday.toISOString().slice(0, 10);
  const res = await post(stack.url, stack.ingestKey, [apiCall(customer, { time: `${day}T12:00:00Z` })]);
  expect(res.status).toBe(202);
  const deadline = Date.now() + 30_000;
  for (;;) {
    const marked = (await stack.services.rollups.lateDays()).some((m) => m.customerId === customer && m.day === day);
    if (marked || failures.length > 0 || Date.now() > deadline) return { day, marked };
    await new Promise((r) => setTimeout(r, 200));
  }
}

function startWith(o: LocalStackOptions) {
  const failures: string[] = [];
  const state: { stack?: LocalStack; failures: string[] } = { failures };
  beforeAll(async () => {
    state.stack = await startLocalStack({ visibilityTimeoutSeconds: 1, ...o });
    await state.stack.services.registry.putCustomer(buildCustomer({ id: 'acme' }, undefined, Date.now()));
    vi.spyOn(logger, 'warn').mockImplementation((...args: Parameters<typeof logger.warn>) => {
      const [message, extra] = args as unknown as [string, { error?: Error } | undefined];
      if (message.startsWith('record failed')) failures.push(`${extra?.error?.name}: ${extra?.error?.message}`);
    });
  }, 120_000);
  afterAll(async () => {
    vi.restoreAllMocks();
    await state.stack?.stop();
  });
  return state;
}

describe('the local stack with the deployed IAM policies', () => {
  const parent = mkdtempSync(join(tmpdir(), 'meter-iam-'));
  // A folder the stack creates itself, as `.meter` is.
  const dataDir = join(parent, '.meter');
  const s = startWith({ dataDir });
  afterAll(() => rmSync(parent, { recursive: true, force: true }));

  it('keeps its stack file, which holds the admin key, readable by its owner only (defect 16)', () => {
    // Act
    const modes = [statSync(join(dataDir, 'stack.json')).mode & 0o777, statSync(dataDir).mode & 0o777];

    // Assess
    expect(modes.map((m) => m.toString(8))).toEqual(['600', '700']);
  });

  it('lets the consumer mark a day late in Rollups when an event dated yesterday arrives', async () => {
    // Act
    const { marked } = await lateEvent(s.stack!, 'acme', s.failures);

    // Assess
    expect(s.failures).toEqual([]);
    expect(marked).toBe(true);
  });

  it("plans a close with the planner's own role: reads customers and late marks, starts the run, fans out the chunks", async () => {
    // Act
    const plan = await makePlanner(s.stack!.functionServices['close-planner'])({});

    // Assess
    expect(plan.chunks).toBeGreaterThanOrEqual(1);
  });
});

describe('the local stack with the consumer Rollups grant removed from the template', () => {
  const s = startWith({ iam: { templateTransform: withoutConsumerRollups } });

  it('refuses the late mark with AccessDenied, as AWS would, so the record fails', async () => {
    // Act
    const { marked } = await lateEvent(s.stack!, 'acme', s.failures);

    // Assess
    expect(marked).toBe(false);
    expect(s.failures[0]).toMatch(
      /^AccessDeniedException: User: arn:aws:sts::000000000000:assumed-role\/\w+\/ConsumeFunction is not authorized to perform: dynamodb:BatchWriteItem on resource: arn:aws:dynamodb:[\w-]+:\d+:table\/\S*Rollups\S* because no identity-based policy allows the dynamodb:BatchWriteItem action$/,
    );
  });
});
