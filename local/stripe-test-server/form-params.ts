import { invalidParam, missingParam, unknownParam } from './errors.js';

/** v1 parameters after bracket decoding: `payload[value]=3` becomes `{ payload: { value: '3' } }`. */
export type Params = { [key: string]: ParamValue };

/** A leaf string or a nested group; arrays (`expand[0]`) stay objects keyed by index, which is all we need. */
export type ParamValue = string | Params;

/** Which keys an endpoint takes: `true` a leaf, `'any'` a free-form map (payload, metadata), or a nested shape. */
export type ParamShape = { [key: string]: true | 'any' | ParamShape };

/** Decodes an `application/x-www-form-urlencoded` body or query string the way Stripe's v1 API reads it. */
export function parseForm(text: string): Params {
  const root: Params = {};
  for (const pair of text.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const rawKey = eq === -1 ? pair : pair.slice(0, eq);
    const rawValue = eq === -1 ? '' : pair.slice(eq + 1);
    const key = decode(rawKey);
    const value = decode(rawValue);
    setPath(root, splitKey(key), value, key);
  }
  return root;
}

/** Rejects any key outside `shape`, naming it the way Stripe does (`a[b]`). */
export function checkAllowed(params: Params, shape: ParamShape, prefix = ''): void {
  for (const [key, value] of Object.entries(params)) {
    const name = prefix ? `${prefix}[${key}]` : key;
    const rule = shape[key];
    if (rule === undefined) throw unknownParam(name);
    if (rule === 'any') {
      if (typeof value === 'string') throw invalidParam(`Invalid object: ${name} must be a hash`, name);
      continue;
    }
    if (rule === true) {
      if (typeof value !== 'string') throw invalidParam(`Invalid string: ${name} must be a string`, name);
      continue;
    }
    if (typeof value === 'string') throw invalidParam(`Invalid object: ${name} must be a hash`, name);
    checkAllowed(value, rule, name);
  }
}

/** A string parameter; absent and empty are both "not given", as in Stripe's form handling. */
export function optionalString(params: Params, key: string): string | undefined {
  const value = params[key];
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string') throw invalidParam(`Invalid string: ${key} must be a string`, key);
  return value;
}

/** A string parameter that must be present. */
export function requiredString(params: Params, key: string, name = key): string {
  const value = params[key];
  if (value === undefined || value === '') throw missingParam(name);
  if (typeof value !== 'string') throw invalidParam(`Invalid string: ${name} must be a string`, name);
  return value;
}

/** A nested group, or an empty one when absent. */
export function group(params: Params, key: string): Params {
  const value = params[key];
  if (value === undefined || value === '') return {};
  if (typeof value === 'string') throw invalidParam(`Invalid object: ${key} must be a hash`, key);
  return value;
}

/** A whole-number parameter (timestamps, limits); decimals and words are rejected like Stripe does. */
export function optionalInteger(params: Params, key: string): number | undefined {
  const raw = optionalString(params, key);
  if (raw === undefined) return undefined;
  if (!/^-?\d+$/.test(raw)) throw invalidParam(`Invalid integer: ${raw}`, key);
  return Number(raw);
}

/** A whole-number parameter that must be present. */
export function requiredInteger(params: Params, key: string): number {
  const value = optionalInteger(params, key);
  if (value === undefined) throw missingParam(key);
  return value;
}

/** A free-form string map such as `payload` or `metadata`; nested groups inside are rejected. */
export function stringMap(params: Params, key: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(group(params, key))) {
    if (typeof v !== 'string') throw invalidParam(`Invalid string: ${key}[${k}] must be a string`, `${key}[${k}]`);
    out[k] = v;
  }
  return out;
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    throw invalidParam(`Invalid URL encoding: ${text}`, text);
  }
}

function splitKey(key: string): string[] {
  const open = key.indexOf('[');
  if (open <= 0) return [key];
  const parts = [key.slice(0, open)];
  const re = /\[([^\]]*)\]/y;
  let at = open;
  re.lastIndex = at;
  for (let match = re.exec(key); match !== null; match = re.exec(key)) {
    parts.push(match[1] ?? '');
    at = re.lastIndex;
  }
  // Anything left over (`a[b]c`) is not bracket notation; keep the key whole like a plain name.
  return at === key.length ? parts : [key];
}

function setPath(root: Params, parts: string[], value: string, fullKey: string): void {
  let node = root;
  for (let i = 0; i < parts.length; i++) {
    // `a[]` appends, as in the qs format the SDKs speak.
    const part = parts[i] === '' ? String(Object.keys(node).length) : (parts[i] as string);
    if (i === parts.length - 1) {
      if (typeof node[part] === 'object') throw invalidParam(`Invalid string: ${fullKey} must be a string`, fullKey);
      node[part] = value;
      return;
    }
    const next = node[part];
    if (next === undefined) {
      const created: Params = {};
      node[part] = created;
      node = created;
    } else if (typeof next === 'string') {
      throw invalidParam(`Invalid object: ${parts.slice(0, i + 1).join('.')} must be a hash`, fullKey);
    } else {
      node = next;
    }
  }
}
