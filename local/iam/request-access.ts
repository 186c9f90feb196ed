import type { AccessRequest } from './policy.js';

/** How the local stack names its resources as ARNs: tables by name, queues by URL. */
export interface LocalArns {
  tableArn(tableName: string): string;
  queueArn(queueUrl: string): string;
  /** A queue's ARN from its name (GetQueueUrl, CreateQueue). */
  queueArnByName(queueName: string): string;
}

type Input = Record<string, unknown>;
type AttributeValue = { S?: string; N?: string; B?: unknown };
type Item = Record<string, AttributeValue>;

/** DynamoDB's partition key of every table here (functions/resources.ts declares `pk` for all). */
const PARTITION_KEY = 'pk';

/**
 * What one SDK call asks IAM for: each action, the resource it touches and, for DynamoDB, the partition
 * keys it reads or writes (`dynamodb:LeadingKeys`). Batches and transactions name every table they touch.
 * A call this map does not know asks for its own action on `*`, so only a grant on every resource allows it.
 * @example requestAccess('DynamoDBClient', 'PutItem', { TableName: 't', Item }, arns);
 */
export function requestAccess(clientName: string, operation: string, input: Input, arns: LocalArns): AccessRequest[] {
  if (clientName.startsWith('DynamoDB')) return dynamodb(operation, input, arns);
  if (clientName.startsWith('SQS')) return sqs(operation, input, arns);
  if (clientName.startsWith('SNS')) {
    const topic = String(input.TopicArn ?? input.TargetArn ?? '*');
    return [{ action: operation.startsWith('Publish') ? 'sns:Publish' : `sns:${operation}`, resource: topic }];
  }
  if (clientName.startsWith('SecretsManager')) return [{ action: `secretsmanager:${operation}`, resource: String(input.SecretId ?? '*') }];
  return [{ action: `${clientName.replace(/Client$/, '').toLowerCase()}:${operation}`, resource: '*' }];
}

function leading(keys: (Item | undefined)[]): Record<string, string[]> {
  const values = [...new Set(keys.map((k) => k?.[PARTITION_KEY]?.S ?? k?.[PARTITION_KEY]?.N).filter((v): v is string => v !== undefined))];
  return { 'dynamodb:LeadingKeys': values };
}

function dynamodb(operation: string, input: Input, arns: LocalArns): AccessRequest[] {
  const action = `dynamodb:${operation}`;
  const table = typeof input.TableName === 'string' ? arns.tableArn(input.TableName) : '*';
  const onTable = (key: Item | undefined): AccessRequest[] => [{ action, resource: table, context: leading([key]) }];
  switch (operation) {
    case 'PutItem':
      return onTable(input.Item as Item);
    case 'GetItem':
    case 'UpdateItem':
    case 'DeleteItem':
      return onTable(input.Key as Item);
    case 'Query': {
      const resource = typeof input.IndexName === 'string' ? `${table}/index/${input.IndexName}` : table;
      // LeadingKeys concerns the table's partition key; a query on an index carries none.
      const context: Record<string, string[]> = input.IndexName === undefined ? { 'dynamodb:LeadingKeys': queryPartitionKeys(input) } : {};
      return [{ action, resource, context }];
    }
    case 'Scan':
      return [{ action, resource: typeof input.IndexName === 'string' ? `${table}/index/${input.IndexName}` : table, context: {} }];
    case 'BatchWriteItem':
      return Object.entries(
        (input.RequestItems ?? {}) as Record<string, { PutRequest?: { Item: Item }; DeleteRequest?: { Key: Item } }[]>,
      ).map(([name, writes]) => ({
        action,
        resource: arns.tableArn(name),
        context: leading(writes.map((w) => w.PutRequest?.Item ?? w.DeleteRequest?.Key)),
      }));
    case 'BatchGetItem':
      return Object.entries((input.RequestItems ?? {}) as Record<string, { Keys?: Item[] }>).map(([name, req]) => ({
        action,
        resource: arns.tableArn(name),
        context: leading(req.Keys ?? []),
      }));
    case 'TransactWriteItems':
    case 'TransactGetItems':
      // IAM authorizes each part of a transaction as its own action (PutItem, UpdateItem, ...).
      return ((input.TransactItems ?? []) as Record<string, { TableName: string; Item?: Item; Key?: Item }>[]).flatMap((part) =>
        Object.entries(part).map(([kind, p]) => ({
          action: `dynamodb:${TRANSACT_ACTIONS[kind] ?? kind}`,
          resource: arns.tableArn(p.TableName),
          context: leading([p.Item ?? p.Key]),
        })),
      );
    default:
      return [{ action, resource: table }];
  }
}

const TRANSACT_ACTIONS: Record<string, string> = {
  Put: 'PutItem',
  Update: 'UpdateItem',
  Delete: 'DeleteItem',
  ConditionCheck: 'ConditionCheckItem',
  Get: 'GetItem',
};

/** The partition key values a query's key condition names (`pk = :pk`, or `#k = :v` with #k the partition key). */
function queryPartitionKeys(input: Input): string[] {
  const expression = String(input.KeyConditionExpression ?? '');
  const names = (input.ExpressionAttributeNames ?? {}) as Record<string, string>;
  const values = (input.ExpressionAttributeValues ?? {}) as Record<string, AttributeValue>;
  const found: string[] = [];
  for (const m of expression.matchAll(/([#\w]+)\s*=\s*(:\w+)|(:\w+)\s*=\s*([#\w]+)/g)) {
    const [name, value] = m[1] ? [m[1], m[2]!] : [m[4]!, m[3]!];
    if ((names[name] ?? name) === PARTITION_KEY) {
      const v = values[value]?.S ?? values[value]?.N;
      if (v !== undefined) found.push(v);
    }
  }
  return found;
}

/** SQS authorizes a batch as its single action. */
const SQS_ACTIONS: Record<string, string> = {
  SendMessageBatch: 'SendMessage',
  DeleteMessageBatch: 'DeleteMessage',
  ChangeMessageVisibilityBatch: 'ChangeMessageVisibility',
};

function sqs(operation: string, input: Input, arns: LocalArns): AccessRequest[] {
  const action = `sqs:${SQS_ACTIONS[operation] ?? operation}`;
  if (typeof input.QueueUrl === 'string') return [{ action, resource: arns.queueArn(input.QueueUrl) }];
  if (typeof input.QueueName === 'string') return [{ action, resource: arns.queueArnByName(input.QueueName) }];
  return [{ action, resource: '*' }];
}
