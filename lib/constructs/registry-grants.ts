import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import { type IGrantable, PolicyStatement } from 'aws-cdk-lib/aws-iam';

/** A statement allowing `actions` on `tableArn`, held to the items whose partition key starts with one of `prefixes`. */
function onPartitions(tableArn: string, actions: string[], prefixes: string[]): PolicyStatement {
  return new PolicyStatement({
    actions: actions.map((a) => `dynamodb:${a}`),
    resources: [tableArn],
    conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': prefixes.map((p) => `${p}#*`) } },
  });
}

/**
 * What a function may write in the Pseudonyms table (functions/adapters/dynamodb/dynamodb-user-refs.ts):
 * - `refs`: a customer's pseudonym secret (pk PS#) and a user's ref (pk UT#), each made once by a conditional
 *   PutItem. Ingest (a rejected event is kept with its user's ref) and the consumer need this, and nothing more.
 * - `user-erasure`: an erased user's tombstone put (pk UX#) and the mapping deleted (pk UT#); never a secret.
 * - `customer-erasure`: the customer's secret, refs and tombstones deleted, in batches (functions/core/privacy/erase-customer.ts).
 */
const PSEUDONYM_WRITES = {
  refs: [['PutItem'], ['PS', 'UT']],
  'user-erasure': [
    ['PutItem', 'DeleteItem'],
    ['UT', 'UX'],
  ],
  'customer-erasure': [
    ['PutItem', 'DeleteItem', 'BatchWriteItem'],
    ['PS', 'UT', 'UX'],
  ],
} as const satisfies Record<string, readonly [readonly string[], readonly string[]]>;

/**
 * Grants reading the Pseudonyms table (with kms:Decrypt on its customer-managed key, which grantReadData adds), the
 * writes of `kinds` only, and for those the key's kms:Encrypt and kms:GenerateDataKey, named without wildcards.
 */
export function grantPseudonyms(fn: IGrantable, table: Table, ...kinds: (keyof typeof PSEUDONYM_WRITES)[]): void {
  table.grantReadData(fn);
  if (kinds.length > 0) table.encryptionKey?.grant(fn, 'kms:Encrypt', 'kms:GenerateDataKey');
  for (const kind of kinds) {
    const [actions, prefixes] = PSEUDONYM_WRITES[kind];
    fn.grantPrincipal.addToPrincipalPolicy(onPartitions(table.tableArn, [...actions], [...prefixes]));
  }
}

/** Privacy requests and their export parts (pk PR#): the api makes them, the close worker runs and rewrites them. */
export function registryPrivacyRequests(registryArn: string): PolicyStatement {
  return onPartitions(registryArn, ['PutItem', 'DeleteItem'], ['PR']);
}

/**
 * Erasing a whole customer (functions/core/privacy/erase-customer.ts, run by the close worker): its profile (CUS#),
 * the keys scoped to it (KEY#, deleted or rescoped), earlier exports' documents (PR#); the erased mark (CX#) is put
 * and the profile marked `erasingSince` first. Deletes go in batches, so BatchWriteItem too, held to the same
 * partitions. Its pseudonyms are `grantPseudonyms(…, 'customer-erasure')`.
 */
export function registryCustomerErasure(registryArn: string): PolicyStatement {
  return onPartitions(registryArn, ['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem'], ['CUS', 'KEY', 'CX', 'PR']);
}
