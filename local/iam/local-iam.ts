import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import type { AwsClientPlugin, AwsClients } from '../../functions/adapters/aws/aws-clients.js';
import { HANDLERS, type HandlerName, TABLES, type TableName } from '../../functions/resources.js';
import { enforceIam } from './enforce.js';
import { type FunctionPolicy, functionPolicies, LOCAL_ACCOUNT } from './function-policies.js';
import type { LocalArns } from './request-access.js';
import { type CfnTemplate, meteringStackTemplate, type StackIds } from './template.js';

/** How the local stack enforces IAM; `templateTransform` edits a copy of the template first (tests remove a grant with it). */
export interface LocalIamOptions {
  templateTransform?: (template: CfnTemplate, ids: StackIds) => CfnTemplate;
}

/** Each handler's enforced policy and the plugin that makes a client act as that handler's role. */
export interface LocalIam {
  policies: Record<HandlerName, FunctionPolicy>;
  plugins: Record<HandlerName, AwsClientPlugin>;
  /** How long synthesizing the stack took when it was synthesized, and whether this start read it from the cache. */
  synthMs: number;
  fromCache: boolean;
}

/**
 * Reads the deployed stack's role policies and maps them onto the local tables and queues, whose ARNs
 * it asks DynamoDB Local and local-aws-sqs for through the operator's (unrestricted) clients.
 * @example const iam = await localIam({ clients, env, region }); makeAwsClients({ plugins: [iam.plugins.consume] });
 */
export async function localIam(o: {
  clients: AwsClients;
  env: Record<string, string>;
  region: string;
  options?: LocalIamOptions;
}): Promise<LocalIam> {
  const synthesized = await meteringStackTemplate();
  const { ids } = synthesized;
  const transform = o.options?.templateTransform;
  const template = transform ? transform(structuredClone(synthesized.template), ids) : synthesized.template;

  const arns: Record<string, string> = {};
  const tableArns = new Map<string, string>();
  for (const name of Object.keys(TABLES) as TableName[]) {
    const tableName = o.env[TABLES[name].env]!;
    const { Table } = await o.clients.dynamo.send(new DescribeTableCommand({ TableName: tableName }));
    tableArns.set(tableName, Table!.TableArn!);
    arns[ids.tables[name]] = Table!.TableArn!;
  }
  const queueArns = new Map<string, string>();
  for (const [env, logicalId] of Object.entries(ids.queues)) {
    const url = o.env[env];
    if (!url) continue;
    const { Attributes } = await o.clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }));
    queueArns.set(url, Attributes!.QueueArn!);
    arns[logicalId] = Attributes!.QueueArn!;
  }
  // No local topic or secret exists; they get ARNs of the local account so a grant on them still reads right.
  for (const [name, id] of Object.entries(ids.topics)) arns[id] = `arn:aws:sns:${o.region}:${LOCAL_ACCOUNT}:${name}`;
  for (const [name, id] of Object.entries(ids.secrets)) arns[id] = `arn:aws:secretsmanager:${o.region}:${LOCAL_ACCOUNT}:secret:${name}`;

  const local: LocalArns = {
    tableArn: (t) => tableArns.get(t) ?? `arn:aws:dynamodb:${o.region}:${LOCAL_ACCOUNT}:table/${t}`,
    queueArn: (url) => queueArns.get(url) ?? `arn:aws:sqs:${o.region}:${LOCAL_ACCOUNT}:${url.split('/').pop()}`,
    queueArnByName: (name) =>
      [...queueArns.values()].find((a) => a.endsWith(`:${name}`)) ?? `arn:aws:sqs:${o.region}:${LOCAL_ACCOUNT}:${name}`,
  };
  const policies = functionPolicies(template, ids, { region: o.region, arns });
  const plugins = Object.fromEntries(HANDLERS.map((h) => [h, enforceIam(policies[h], local)])) as Record<HandlerName, AwsClientPlugin>;
  return { policies, plugins, synthMs: synthesized.synthMs, fromCache: synthesized.fromCache === true };
}
