import { DeleteCommand, type DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { PrivacyRequest, PrivacyRequests } from '../../core/privacy/requests.js';
import type { Page, PageRequest } from '../../core/shared/ports.js';
import type { CapacityMeter } from './capacity-meter.js';
import { scanKindPage } from './dynamodb-registry.js';

const requestPk = (id: string) => `PR#${id}`;
/** Characters of an export per item: well under DynamoDB's 400 KB item limit. */
const PART_CHARS = 300_000;

/**
 * Privacy requests in the Registry table: `PR#<id>`/`REQ`, and an export's document in parts `PR#<id>`/`PART#<n>`,
 * all expiring with the request (TTL `expiresAt`).
 */
export class DynamoDbPrivacyRequests implements PrivacyRequests {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly meter?: CapacityMeter,
  ) {}

  async put(r: PrivacyRequest): Promise<void> {
    const out = await this.doc.send(
      new PutCommand({
        TableName: this.table,
        Item: { pk: requestPk(r.id), sk: 'REQ', kind: 'privacy_request', ...r },
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    this.meter?.add('write', out.ConsumedCapacity);
  }

  async get(id: string): Promise<PrivacyRequest | undefined> {
    const out = await this.doc.send(
      new GetCommand({
        TableName: this.table,
        Key: { pk: requestPk(id), sk: 'REQ' },
        ConsistentRead: true,
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    this.meter?.add('read', out.ConsumedCapacity);
    return out.Item ? strip(out.Item) : undefined;
  }

  async list(page: PageRequest): Promise<Page<PrivacyRequest>> {
    const r = await scanKindPage(this.doc, this.table, 'privacy_request', page, this.meter);
    return { ...r, items: r.items.map(strip).sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1)) };
  }

  async putExport(id: string, document: string, expiresAt: number): Promise<void> {
    const parts = Math.max(1, Math.ceil(document.length / PART_CHARS));
    for (let n = 0; n < parts; n++) {
      const out = await this.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: {
            pk: requestPk(id),
            sk: `PART#${String(n).padStart(5, '0')}`,
            of: parts,
            text: document.slice(n * PART_CHARS, (n + 1) * PART_CHARS),
            expiresAt,
          },
          ReturnConsumedCapacity: 'TOTAL',
        }),
      );
      this.meter?.add('write', out.ConsumedCapacity);
    }
    // A shorter rerun leaves no stale tail: parts past the new count are deleted.
    const stale = await this.parts(id);
    for (const p of stale.filter((p) => Number(String(p.sk).slice(5)) >= parts)) {
      await this.doc.send(new DeleteCommand({ TableName: this.table, Key: { pk: requestPk(id), sk: p.sk } }));
    }
  }

  async getExport(id: string): Promise<string | undefined> {
    const parts = await this.parts(id);
    if (parts.length === 0 || parts.length !== Number(parts[0]!.of)) return undefined;
    return parts.map((p) => String(p.text)).join('');
  }

  private async parts(id: string): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.doc.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :p)',
          ExpressionAttributeValues: { ':pk': requestPk(id), ':p': 'PART#' },
          ConsistentRead: true,
          ExclusiveStartKey: start,
          ReturnConsumedCapacity: 'TOTAL',
        }),
      );
      this.meter?.add('read', out.ConsumedCapacity);
      items.push(...(out.Items ?? []));
      start = out.LastEvaluatedKey;
    } while (start);
    return items;
  }
}

function strip(item: Record<string, unknown>): PrivacyRequest {
  const { pk: _pk, sk: _sk, kind: _kind, ...r } = item;
  return r as unknown as PrivacyRequest;
}
