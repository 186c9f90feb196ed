import { describe, expect, it } from 'vitest';
import type { AwsClients } from '../../../functions/adapters/aws/aws-clients.js';
import { traced, tracer } from '../../../functions/runtime/tracer.js';

/** A tracer stand-in that records what it captured. */
const fakeTracer = (enabled: boolean, captured: unknown[]) => ({
  isTracingEnabled: () => enabled,
  captureAWSv3Client: <T>(c: T): T => {
    captured.push(c);
    return c;
  },
});

const clients = { dynamo: { name: 'dynamo' }, doc: { name: 'doc' }, sqs: { name: 'sqs' } } as unknown as AwsClients;

describe('the tracer', () => {
  it('is off outside Lambda (tests, the local stack), so the clients are left as they are', () => {
    expect(tracer.isTracingEnabled()).toBe(false);
    const captured: unknown[] = [];
    const off = fakeTracer(false, captured);
    expect(traced(clients, off)).toBe(clients);
    expect(captured).toEqual([]);
  });

  it('captures the DynamoDB and SQS clients when on (the document client rides on the DynamoDB client)', () => {
    const captured: unknown[] = [];
    const on = fakeTracer(true, captured);
    expect(traced(clients, on)).toBe(clients);
    expect(captured).toEqual([clients.dynamo, clients.sqs]);
  });
});
