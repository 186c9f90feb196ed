import { ScanCommand } from '@aws-sdk/client-dynamodb';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCustomer } from '../../functions/core/shared/customers.js';
import type { AuditEntry } from '../../functions/core/shared/ports.js';
import { makeIngestHandler } from '../../functions/handlers/ingest.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';
import { apiCall } from '../fakes/events.js';

let stack: LocalStack;
const CARD = '4111 1111 1111 1111';
const EMAIL = 'jane.doe@example.com';

beforeAll(async () => {
  stack = await startLocalStack({ noPoller: true });
  await stack.services.registry.putCustomer(buildCustomer({ id: 'geo-co' }, undefined, Date.now()));
});
afterAll(async () => stack?.stop());

/** Every audit item as stored, attribute values and all, as one string. */
async function auditBytes(): Promise<string> {
  const r = await stack.services.clients.dynamo.send(new ScanCommand({ TableName: stack.services.config.tables.audit }));
  return JSON.stringify(r.Items ?? []);
}

/** The ingest audit records stored today. */
async function ingestRecords(): Promise<AuditEntry[]> {
  return (await stack.services.audit.list(new Date().toISOString().slice(0, 10), 1000)).filter((e) => e.action === 'ingest');
}

/** A POST /v1/events as API Gateway hands it to the ingest function, from `sourceIp`. */
function ingestRequest(sourceIp: string, headers: Record<string, string>): APIGatewayProxyEventV2 {
  return {
    version: '2.0',
    routeKey: 'POST /v1/events',
    rawPath: '/v1/events',
    rawQueryString: '',
    headers: { authorization: `Bearer ${stack.ingestKey}`, 'content-type': 'application/cloudevents-batch+json', ...headers },
    body: JSON.stringify([apiCall('geo-co')]),
    isBase64Encoded: false,
    requestContext: { http: { method: 'POST', path: '/v1/events', sourceIp }, requestId: 'r', timeEpoch: Date.now() },
  } as unknown as APIGatewayProxyEventV2;
}

describe('audit geography (defect 5)', () => {
  it('stores none of what a caller writes into the CloudFront viewer headers, over real HTTP', async () => {
    // Act: nothing fronts the local API, as nothing fronts the deployed one by default
    const res = await fetch(`${stack.url}/v1/events`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${stack.ingestKey}`,
        'content-type': 'application/cloudevents-batch+json',
        'cloudfront-viewer-country': CARD,
        'cloudfront-viewer-country-region': EMAIL,
      },
      body: JSON.stringify([apiCall('geo-co')]),
    });

    // Assess: accepted and audited, and no audit byte holds the card number or the e-mail
    expect(res.status).toBe(202);
    expect((await ingestRecords()).length).toBeGreaterThan(0);
    const stored = await auditBytes();
    expect(stored).not.toContain('4111');
    expect(stored).not.toContain('example.com');
  });

  it("records a public caller's country from its address, whatever its headers say", async () => {
    // Prepare: the ingest function as API Gateway invokes it, from 81.2.69.160 (GB in IP2Location LITE)
    const ingest = makeIngestHandler(stack.services);
    const before = (await ingestRecords()).length;

    // Act
    const res = await ingest(ingestRequest('81.2.69.160', { 'cloudfront-viewer-country': EMAIL }));

    // Assess
    expect(res.statusCode).toBe(202);
    const records = await ingestRecords();
    expect(records.length).toBe(before + 1);
    const mine = records.find((e) => e.ipPrefix === '81.2.69.0/24');
    expect(mine?.region).toBe('GB');
    expect(await auditBytes()).not.toContain('example.com');
  });
});
