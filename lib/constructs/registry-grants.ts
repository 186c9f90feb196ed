import { PolicyStatement } from 'aws-cdk-lib/aws-iam';

/**
 * Making end users' refs (functions/adapters/dynamodb/dynamodb-user-refs.ts): a customer's pseudonym secret
 * (pk PS#) and a user's ref (pk UT#) are each written once, by a conditional PutItem. Ingest (a rejected
 * event is kept with its user's ref) and the consumer need this; neither may delete or touch other items.
 */
export function registryRefWrites(registryArn: string): PolicyStatement {
  return new PolicyStatement({
    actions: ['dynamodb:PutItem'],
    resources: [registryArn],
    conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['PS#*', 'UT#*'] } },
  });
}

/**
 * Erasing an end user (functions/core/privacy/): the tombstone is put (pk UX#), the mapping deleted (pk UT#).
 * The api function does this (POST /v1/privacy/requests); no function may delete a customer's secret yet.
 */
export function registryRefErasure(registryArn: string): PolicyStatement {
  return new PolicyStatement({
    actions: ['dynamodb:PutItem', 'dynamodb:DeleteItem'],
    resources: [registryArn],
    conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['UT#*', 'UX#*'] } },
  });
}

/** Privacy requests and their export parts (pk PR#): the api makes them, the close worker runs and rewrites them. */
export function registryPrivacyRequests(registryArn: string): PolicyStatement {
  return new PolicyStatement({
    actions: ['dynamodb:PutItem', 'dynamodb:DeleteItem'],
    resources: [registryArn],
    conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['PR#*'] } },
  });
}

/**
 * Erasing a whole customer (functions/core/privacy/erase-customer.ts, run by the close worker): its profile (CUS#),
 * the keys scoped to it (KEY#, deleted or rescoped), its secret, refs and tombstones (PS#, UT#, UX#), earlier
 * exports' documents (PR#); the erased mark (CX#) is put and the profile marked `erasingSince` first. Deletes go in batches, so BatchWriteItem too, held to the same partitions.
 */
export function registryCustomerErasure(registryArn: string): PolicyStatement {
  return new PolicyStatement({
    actions: ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem'],
    resources: [registryArn],
    conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['CUS#*', 'KEY#*', 'PS#*', 'UT#*', 'UX#*', 'CX#*', 'PR#*'] } },
  });
}
