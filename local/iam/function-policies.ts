import { HANDLERS, type HandlerName, handlerConstructId } from '../../functions/resources.js';
import type { Statement } from './policy.js';
import type { CfnTemplate, StackIds } from './template.js';

/** The local account, as the local stack's ARNs and AccessDenied messages name it. */
export const LOCAL_ACCOUNT = '000000000000';

/** What the template's logical ids are locally: `Fn::GetAtt [id, Arn]` and `Ref id` (for secrets and topics, their ARN). */
export interface LocalResources {
  region: string;
  arns: Record<string, string>;
}

/** One function's identity and the statements of its role's policies, resolved to local ARNs. */
export interface FunctionPolicy {
  handler: HandlerName;
  /** `arn:aws:sts::<account>:assumed-role/<role>/<function>`, as AWS names a Lambda's caller. */
  principal: string;
  statements: Statement[];
}

type RawStatement = {
  Effect?: string;
  Action?: string | string[];
  NotAction?: unknown;
  Resource?: unknown;
  NotResource?: unknown;
  Condition?: Record<string, Record<string, string | string[]>>;
};

/**
 * Reads every handler's role policy (its AWS::IAM::Policy resources and inline policies) from the template
 * and resolves resources to the local ARNs. An intrinsic it cannot resolve becomes a resource no request matches.
 * @example const policies = functionPolicies(template, ids, { region, arns });
 */
export function functionPolicies(template: CfnTemplate, ids: StackIds, local: LocalResources): Record<HandlerName, FunctionPolicy> {
  const resolve = (v: unknown): string => resolveIntrinsic(v, local);
  const out = {} as Record<HandlerName, FunctionPolicy>;
  for (const handler of HANDLERS) {
    const { roleId } = ids.functions[handler];
    const docs: { Statement?: RawStatement[] }[] = [];
    for (const r of Object.values(template.Resources)) {
      const p = r.Properties ?? {};
      if (r.Type === 'AWS::IAM::Policy' && ((p.Roles as { Ref?: string }[] | undefined) ?? []).some((x) => x.Ref === roleId))
        docs.push(p.PolicyDocument as { Statement?: RawStatement[] });
    }
    const role = template.Resources[roleId]?.Properties ?? {};
    for (const inline of (role.Policies as { PolicyDocument: { Statement?: RawStatement[] } }[] | undefined) ?? [])
      docs.push(inline.PolicyDocument);
    const statements = docs.flatMap((d) => d.Statement ?? []).map((st) => toStatement(st, resolve));
    // Managed policies are not in the template; NodeFunction attaches none, so any would be a change to look at.
    if (((role.ManagedPolicyArns as unknown[] | undefined) ?? []).length > 0)
      statements.push({ effect: 'Deny', actions: ['*'], resources: ['*'], unsupported: 'managed policies are not evaluated locally' });
    out[handler] = {
      handler,
      principal: `arn:aws:sts::${LOCAL_ACCOUNT}:assumed-role/${roleId}/${handlerConstructId(handler)}`,
      statements,
    };
  }
  return out;
}

function toStatement(st: RawStatement, resolve: (v: unknown) => string): Statement {
  const effect = st.Effect === 'Deny' ? 'Deny' : 'Allow';
  if (st.NotAction !== undefined || st.NotResource !== undefined)
    return { effect, actions: [], resources: [], unsupported: 'NotAction/NotResource' };
  return {
    effect,
    actions: [st.Action ?? []].flat(),
    resources: [st.Resource ?? []].flat().map(resolve),
    ...(st.Condition ? { condition: st.Condition } : {}),
  };
}

const PSEUDO: Record<string, (l: LocalResources) => string> = {
  'AWS::Partition': () => 'aws',
  'AWS::Region': (l) => l.region,
  'AWS::AccountId': () => LOCAL_ACCOUNT,
  'AWS::URLSuffix': () => 'amazonaws.com',
};

/** `Ref`, `Fn::GetAtt [id, Arn]` and `Fn::Join` resolved locally; anything else is unresolvable. */
export function resolveIntrinsic(v: unknown, local: LocalResources): string {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (typeof o.Ref === 'string') return PSEUDO[o.Ref]?.(local) ?? local.arns[o.Ref] ?? unresolved(o.Ref);
    const getAtt = o['Fn::GetAtt'];
    if (Array.isArray(getAtt) && getAtt[1] === 'Arn') return local.arns[String(getAtt[0])] ?? unresolved(String(getAtt[0]));
    const join = o['Fn::Join'];
    if (Array.isArray(join) && typeof join[0] === 'string' && Array.isArray(join[1]))
      return (join[1] as unknown[]).map((part) => resolveIntrinsic(part, local)).join(join[0]);
  }
  return unresolved(JSON.stringify(v));
}

// No wildcard and no ARN shape, so it matches no request's resource.
const unresolved = (what: string) => `<unresolved ${what.replace(/[*?]/g, '_')}>`;
