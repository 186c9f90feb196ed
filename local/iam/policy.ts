/**
 * A small IAM policy evaluator: identity-based statements only, as a Lambda role carries them.
 * Explicit Deny wins, then any Allow, else the implicit deny. A condition this evaluator does not
 * understand never allows: it makes an Allow statement not apply and a Deny statement apply.
 */

/** One statement with its resources already resolved to ARN patterns. */
export interface Statement {
  effect: 'Allow' | 'Deny';
  actions: string[];
  resources: string[];
  /** Set when the statement uses NotAction or NotResource, which this evaluator does not support. */
  unsupported?: string;
  condition?: Record<string, Record<string, string | string[]>>;
}

/** What one request asks for: an action on a resource, with its condition keys (e.g. `dynamodb:LeadingKeys`). */
export interface AccessRequest {
  action: string;
  resource: string;
  context?: Record<string, string[]>;
}

export type Decision = 'allow' | 'explicit-deny' | 'implicit-deny';

/** IAM's wildcard match: `*` any run of characters, `?` one character. */
export function wildcardMatch(pattern: string, value: string, ignoreCase = false): boolean {
  const key = `${ignoreCase ? 'i' : 's'}${pattern}`;
  let re = compiled.get(key);
  if (!re) {
    const escaped = pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.');
    re = new RegExp(`^${escaped}$`, ignoreCase ? 'is' : 's');
    compiled.set(key, re);
  }
  return re.test(value);
}

// A policy holds a few dozen patterns, each matched on every call.
const compiled = new Map<string, RegExp>();

/** Whether `request` is allowed by `statements`, and if not, why. */
export function evaluate(statements: readonly Statement[], request: AccessRequest): Decision {
  let allowed = false;
  for (const st of statements) {
    if (st.unsupported) {
      if (st.effect === 'Deny') return 'explicit-deny';
      continue;
    }
    if (!st.actions.some((a) => wildcardMatch(a, request.action, true))) continue;
    if (!st.resources.some((r) => wildcardMatch(r, request.resource))) continue;
    const cond = conditionHolds(st.condition, request.context ?? {});
    if (st.effect === 'Deny') {
      // An unknown condition on a Deny is taken to hold: never allow by not understanding.
      if (cond !== false) return 'explicit-deny';
    } else if (cond === true) {
      allowed = true;
    }
  }
  return allowed ? 'allow' : 'implicit-deny';
}

const SUPPORTED_KEYS = new Set(['dynamodb:leadingkeys']);

/** true, false, or 'unknown' when an operator or key is not supported. */
function conditionHolds(condition: Statement['condition'], context: Record<string, string[]>): boolean | 'unknown' {
  if (!condition) return true;
  let result: boolean | 'unknown' = true;
  for (const [operator, keys] of Object.entries(condition)) {
    for (const [key, expected] of Object.entries(keys)) {
      if (!SUPPORTED_KEYS.has(key.toLowerCase())) return 'unknown';
      const values = Object.entries(context).find(([k]) => k.toLowerCase() === key.toLowerCase())?.[1];
      const holds = operatorHolds(operator, [expected].flat(), values);
      if (holds === 'unknown') return 'unknown';
      if (!holds) result = false;
    }
  }
  return result;
}

function operatorHolds(operator: string, expected: string[], values: string[] | undefined): boolean | 'unknown' {
  const [qualifier, base] = operator.includes(':') ? (operator.split(':') as [string, string]) : [undefined, operator];
  const match = (v: string) => {
    switch (base) {
      case 'StringEquals':
        return expected.includes(v);
      case 'StringLike':
        return expected.some((e) => wildcardMatch(e, v));
      default:
        return undefined;
    }
  };
  if (base !== 'StringEquals' && base !== 'StringLike') return 'unknown';
  switch (qualifier) {
    // AWS: true when the key is absent or empty; that is why grants pair it with keys every request carries.
    case 'ForAllValues':
      return (values ?? []).every((v) => match(v));
    case 'ForAnyValue':
      return (values ?? []).some((v) => match(v));
    case undefined:
      // Single-valued operator on a multivalued key: stricter than AWS, every value must match and one must exist.
      return values !== undefined && values.length > 0 && values.every((v) => match(v));
    default:
      return 'unknown';
  }
}
