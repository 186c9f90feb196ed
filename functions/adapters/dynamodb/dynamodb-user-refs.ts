import { randomBytes } from 'node:crypto';
import { type AttributeValue, DeleteItemCommand, type DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { looksLikeCardNumber } from '../../../contract/privacy.js';
import type { UserRefs } from '../../core/shared/ports.js';
import { tombstoneKey, userPseudonym } from '../../core/shared/pseudonyms.js';
import type { CapacityMeter } from './capacity-meter.js';
import { batchGetAll, putEachIf } from './dynamodb-batch.js';

type Item = Record<string, AttributeValue>;

/** Partitions of the Pseudonyms table: the customer's secret, the mappings, the tombstones (see TABLES.pseudonyms). */
export const secretPk = (customerId: string) => `PS#${customerId}`;
export const mappingPk = (customerId: string) => `UT#${customerId}`;
export const tombstonePk = (customerId: string) => `UX#${customerId}`;

/** A fresh user ref: 128 random bits (redrawn in the rare case it reads as a card number). */
function newRef(): string {
  for (;;) {
    const ref = `ur_${randomBytes(16).toString('base64url')}`;
    if (!looksLikeCardNumber(ref)) return ref;
  }
}

/**
 * User refs in the Pseudonyms table. Per customer: `PS#<c>`/`SECRET` holds a random 32-byte secret (made on first
 * use, by a conditional put, so racing writers agree); `UT#<c>`/`<pseudonym>` maps a user's pseudonym to its ref;
 * `UX#<c>`/`<tombstone key>` holds an erased user's ref until `expiresAt`. Secrets are cached for the life of
 * the process: they never change while the customer exists.
 */
export class DynamoDbUserRefs implements UserRefs {
  private readonly secrets = new Map<string, Uint8Array>();

  constructor(
    private readonly client: DynamoDBClient,
    private readonly table: string,
    private readonly now: () => number,
    private readonly meter?: CapacityMeter,
  ) {}

  async known(customerId: string, values: readonly string[]): Promise<Map<string, string>> {
    const secret = await this.secret(customerId, false);
    return secret ? this.mapped(customerId, secret, [...new Set(values)]) : new Map();
  }

  /** The refs of the users already mapped, read eventually consistent (a ref missed is settled by a conditional put). */
  private async mapped(customerId: string, secret: Uint8Array, unique: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    if (unique.length === 0) return out;
    const byPseudonym = new Map(unique.map((u) => [userPseudonym(secret, u), u]));
    const keys = [...byPseudonym.keys()].map((p) => ({ pk: { S: mappingPk(customerId) }, sk: { S: p } }));
    for (const item of await batchGetAll(this.client, this.table, keys, { consistent: false }, this.meter)) {
      out.set(byPseudonym.get(item.sk!.S!)!, item.ref!.S!);
    }
    return out;
  }

  async refs(customerId: string, userIds: readonly string[]): Promise<Map<string, string>> {
    const unique = [...new Set(userIds)];
    if (unique.length === 0) return new Map();
    const secret = await this.secret(customerId);
    const out = await this.mapped(customerId, secret, unique);
    const missing = unique.filter((u) => !out.has(u));
    if (missing.length === 0) return out;
    // A user erased within the tombstone's life comes back with its old ref, and no mapping is made again.
    const tombs = new Map(missing.map((u) => [tombstoneKey(secret, u), u]));
    const tombKeys = [...tombs.keys()].map((k) => ({ pk: { S: tombstonePk(customerId) }, sk: { S: k } }));
    const nowSeconds = Math.floor(this.now() / 1000);
    for (const item of await batchGetAll(this.client, this.table, tombKeys, { consistent: true }, this.meter)) {
      if (Number(item.expiresAt?.N ?? 0) > nowSeconds) out.set(tombs.get(item.sk!.S!)!, item.ref!.S!);
    }
    const fresh = missing.filter((u) => !out.has(u)).map((u) => ({ userId: u, pseudonym: userPseudonym(secret, u), ref: newRef() }));
    const refused = await putEachIf(
      this.client,
      this.table,
      fresh.map((f) => ({ pk: { S: mappingPk(customerId) }, sk: { S: f.pseudonym }, ref: { S: f.ref } })),
      { expression: 'attribute_not_exists(pk)', values: {} },
      this.meter,
    );
    for (const [i, f] of fresh.entries()) {
      if (!refused.has(i)) {
        out.set(f.userId, f.ref);
        continue;
      }
      // Another consumer made this user's ref at the same moment: take theirs.
      const theirs = await this.get(mappingPk(customerId), f.pseudonym);
      if (!theirs) throw new Error('a user ref vanished between a refused put and its read');
      out.set(f.userId, theirs.ref!.S!);
    }
    return out;
  }

  async find(customerId: string, userId: string): Promise<{ ref: string; erased: boolean } | undefined> {
    const secret = await this.secret(customerId, false);
    if (!secret) return undefined;
    const mapped = await this.get(mappingPk(customerId), userPseudonym(secret, userId));
    if (mapped) return { ref: mapped.ref!.S!, erased: false };
    const tomb = await this.get(tombstonePk(customerId), tombstoneKey(secret, userId));
    const live = tomb && Number(tomb.expiresAt?.N ?? 0) > Math.floor(this.now() / 1000);
    return live ? { ref: tomb.ref!.S!, erased: true } : undefined;
  }

  async erase(customerId: string, userId: string, tombstoneExpiresAt: number): Promise<string | undefined> {
    const secret = await this.secret(customerId, false);
    if (!secret) return undefined;
    const pseudonym = userPseudonym(secret, userId);
    const mapped = await this.get(mappingPk(customerId), pseudonym);
    if (!mapped) {
      const tomb = await this.get(tombstonePk(customerId), tombstoneKey(secret, userId));
      if (tomb) return tomb.unseen ? undefined : tomb.ref?.S;
      // Never counted yet, but maybe in flight (queued, in the DLQ): a tombstone with a ref of its own keeps
      // those events from making a mapping when they arrive. Nothing is held about the user, so none is returned.
      await this.putTombstone(customerId, tombstoneKey(secret, userId), newRef(), tombstoneExpiresAt, true);
      return undefined;
    }
    // The tombstone first: a crash between the two writes leaves both, and a rerun deletes the mapping.
    await this.putTombstone(customerId, tombstoneKey(secret, userId), mapped.ref!.S!, tombstoneExpiresAt, false);
    await this.send(
      new DeleteItemCommand({
        TableName: this.table,
        Key: { pk: { S: mappingPk(customerId) }, sk: { S: pseudonym } },
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    return mapped.ref!.S!;
  }

  /** An erased user's tombstone; `unseen` marks one for a user never counted, whose ref names nothing stored. */
  private async putTombstone(customerId: string, key: string, ref: string, expiresAt: number, unseen: boolean): Promise<void> {
    await this.send(
      new PutItemCommand({
        TableName: this.table,
        Item: {
          pk: { S: tombstonePk(customerId) },
          sk: { S: key },
          ref: { S: ref },
          ...(unseen ? { unseen: { BOOL: true } } : {}),
          expiresAt: { N: String(expiresAt) },
        },
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
  }

  private async secret(customerId: string): Promise<Uint8Array>;
  private async secret(customerId: string, create: false): Promise<Uint8Array | undefined>;
  private async secret(customerId: string, create = true): Promise<Uint8Array | undefined> {
    const cached = this.secrets.get(customerId);
    if (cached) return cached;
    const read = async () => {
      const item = await this.get(secretPk(customerId), 'SECRET', true);
      return item?.secret?.B;
    };
    let secret = await read();
    if (!secret && create) {
      // Whoever wins the conditional put, everyone reads the one secret back.
      await putEachIf(
        this.client,
        this.table,
        [{ pk: { S: secretPk(customerId) }, sk: { S: 'SECRET' }, secret: { B: randomBytes(32) } }],
        { expression: 'attribute_not_exists(pk)', values: {} },
        this.meter,
      );
      secret = await read();
    }
    if (secret) this.secrets.set(customerId, secret);
    return secret;
  }

  private async get(pk: string, sk: string, consistent = true): Promise<Item | undefined> {
    const r = await this.client.send(
      new GetItemCommand({
        TableName: this.table,
        Key: { pk: { S: pk }, sk: { S: sk } },
        ConsistentRead: consistent,
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    this.meter?.add('read', r.ConsumedCapacity);
    return r.Item;
  }

  private async send(cmd: PutItemCommand | DeleteItemCommand): Promise<void> {
    const r = await this.client.send(cmd as PutItemCommand);
    this.meter?.add('write', r.ConsumedCapacity);
  }
}
