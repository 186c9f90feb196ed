// One idea in one file, though over 300 lines: the privacy cuts, from recognising addresses, card numbers, e-mail
// addresses, coordinates and fine geography in any writing to the one function ingest and the consumer both apply.
import { isIPv4, isIPv6 } from 'node:net';
import type { FieldError } from './errors.js';

/**
 * Truncates an IP address to its network prefix: the first three octets of IPv4 (/24) or the first three hextets of
 * IPv6 (/48). IPv6 that carries an IPv4 address (IPv4-mapped `::ffff:0:0/96`, 6to4 `2002::/16`, NAT64 `64:ff9b::/96`)
 * keeps the /24 of that IPv4 address, since a 6to4 /48 holds the whole of it. A port, brackets or a zone
 * (`1.2.3.4:443`, `[2001:db8::1]:443`, `fe80::1%eth0`) are dropped. Returns undefined for anything that is not one IP.
 */
export function truncateIp(ip: string): string | undefined {
  const raw = bareAddress(ip);
  if (isIPv4(raw)) return v4Prefix(raw.split('.').map(Number));
  if (!isIPv6(raw)) return undefined;
  const groups = expandIpv6(raw);
  const v4 = embeddedIpv4(groups);
  if (v4) return v4Prefix(v4);
  return `${groups
    .slice(0, 3)
    .map((g) => g.toString(16))
    .join(':')}::/48`;
}

const v4Prefix = ([a, b, c]: number[]) => `${a}.${b}.${c}.0/24`;

/** The address alone, without a port, brackets or a zone. */
function bareAddress(text: string): string {
  const t = text.trim();
  const bracketed = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(t);
  if (bracketed) return bracketed[1]!.split('%')[0]!;
  const withPort = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/.exec(t);
  if (withPort) return withPort[1]!;
  return t.split('%')[0]!;
}

/** The eight hextets of a valid IPv6 address, as numbers. */
function expandIpv6(ip: string): number[] {
  // An embedded IPv4 tail (::1.2.3.4) takes the place of two hextets.
  const tail = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(ip);
  let body = ip;
  if (tail) {
    const [a, b, c, d] = tail.slice(1).map(Number) as [number, number, number, number];
    body = `${ip.slice(0, tail.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, rest] = body.split('::') as [string, string | undefined];
  const left = head ? head.split(':') : [];
  const right = rest ? rest.split(':') : [];
  const fill = rest === undefined ? [] : Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...fill, ...right].map((g) => parseInt(g, 16));
}

/** The IPv4 address an IPv6 address carries, when it is IPv4-mapped, 6to4 or NAT64 (well-known prefix). */
function embeddedIpv4(g: number[]): number[] | undefined {
  const octets = (hi: number, lo: number) => [hi >> 8, hi & 255, lo >> 8, lo & 255];
  const zeros = (from: number, to: number) => g.slice(from, to).every((x) => x === 0);
  if (zeros(0, 5) && g[5] === 0xffff) return octets(g[6]!, g[7]!);
  if (g[0] === 0x2002) return octets(g[1]!, g[2]!);
  if (g[0] === 0x64 && g[1] === 0xff9b && zeros(2, 6)) return octets(g[6]!, g[7]!);
  return undefined;
}

/** Whether an IPv6 address tells more than its prefix: bits past the /48, or an embedded IPv4 past its /24. */
function ipv6TellsMore(g: number[]): boolean {
  const v4 = embeddedIpv4(g);
  if (!v4) return g.slice(3).some((x) => x !== 0);
  if (g[0] === 0x2002) return v4[3] !== 0 || g.slice(3).some((x) => x !== 0);
  return v4[3] !== 0;
}

// Runs of the characters IPv6 is written with (a dotted IPv4 tail included), with an optional prefix length.
const V6_RUN = /[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*(?:\/\d{1,3})?/g;
// Four dotted decimal octets that are not part of a longer number, with an optional prefix length.
const V4 = /(?<!\d)(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:\/\d{1,2})?(?!\d)/g;

/**
 * Replaces every full IP address inside a text (ports, brackets, `X-Forwarded-For` lists, IPv4 embedded in IPv6)
 * by its prefix (`1.2.3.0/24`) or, for `network`, the prefix's network address (`1.2.3.0`), which truncates to
 * itself. Addresses that tell no more than their prefix are left as they are, so cutting twice changes nothing.
 */
export function cutAddresses(text: string, form: 'prefix' | 'network' = 'prefix'): string {
  const shown = (prefix: string) => (form === 'network' ? prefix.split('/')[0]! : prefix);
  const v6Cut = text.replace(V6_RUN, (run) => {
    const body = run.replace(/\/\d{1,3}$/, '');
    const lead = body.replace(/^:(?!:)/, '');
    for (const candidate of [body, lead, body.replace(/[.:]+$/, ''), lead.replace(/[.:]+$/, '')]) {
      if (!isIPv6(candidate)) continue;
      if (!ipv6TellsMore(expandIpv6(candidate))) return run;
      return body.replace(candidate, shown(truncateIp(candidate)!));
    }
    return run;
  });
  return v6Cut.replace(V4, (match, a: string, b: string, c: string, d: string) => {
    const o = [a, b, c, d].map(Number);
    if (o.some((n) => n > 255) || o[3] === 0) return match;
    return shown(v4Prefix(o));
  });
}

/** Luhn checksum over a string of digits. */
export function passesLuhn(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

// Digits in groups joined by what card numbers are written with: 1-3 spaces, dots, dashes, underscores or slashes.
const DIGIT_RUN = /\d+(?:[ .\-_/\u00a0]{1,3}\d+)*/g;

/** The digit runs of a text that hold a card number: 13-19 digits of whole groups passing Luhn. */
function cardRuns(text: string): string[] {
  const out: string[] = [];
  for (const match of text.matchAll(DIGIT_RUN)) {
    const groups = match[0].split(/\D+/);
    // Any span of whole groups, so a card after another number ("qty 12 4111 1111 1111 1111") is found too.
    const found = groups.some((_g, i) => {
      let digits = '';
      for (let j = i; j < groups.length && digits.length < 19; j++) {
        digits += groups[j];
        if (digits.length >= 13 && digits.length <= 19 && passesLuhn(digits)) return true;
      }
      return false;
    });
    if (found) out.push(match[0]);
  }
  return out;
}

/** True when a value contains something that looks like a payment card number, in any common writing. */
export function looksLikeCardNumber(value: string | number): boolean {
  return cardRuns(String(value)).length > 0;
}

const EMAIL = /[^\s@<>"(),;:[\]\\]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+/g;
const COORDINATES = /(?<![\d.])([-+]?\d{1,3}\.\d{2,})\s*[,; ]\s*([-+]?\d{1,3}\.\d{2,})(?![\d.])/g;

/** Whether a text holds an e-mail address. */
export const containsEmail = (text: string): boolean => text.search(EMAIL) >= 0;

/** Whether a text holds a latitude and longitude pair (`37.7749,-122.4194`, `37.7749 -122.4194`). */
export const containsCoordinates = (text: string): boolean => replaceCoordinates(text, '') !== text;

function replaceCoordinates(text: string, marker: string): string {
  return text.replace(COORDINATES, (m, lat: string, lng: string) =>
    Math.abs(Number(lat)) <= 90 && Math.abs(Number(lng)) <= 180 ? marker : m,
  );
}

/**
 * A text with what may not be stored cut: e-mail addresses and coordinates replaced by a marker, IP addresses cut
 * to their prefix (see `cutAddresses`). Card numbers are not handled here: an event holding one is rejected.
 */
export function redactText(text: string, form: 'prefix' | 'network' = 'prefix'): string {
  return cutAddresses(replaceCoordinates(text.replace(EMAIL, '[redacted: e-mail]'), '[redacted: coordinates]'), form);
}

/** A field name as errors may show it: card numbers, e-mail addresses, IP addresses and coordinates masked. */
export function maskFieldName(field: string): string {
  let out = field;
  for (const run of cardRuns(out)) out = out.replace(run, '[card number]');
  out = replaceCoordinates(out.replace(EMAIL, '[e-mail]'), '[coordinates]');
  return cutAddresses(out) === out ? out : maskAddresses(out);
}

function maskAddresses(field: string): string {
  return field
    .replace(V6_RUN, (run) => (cutAddresses(run) === run ? run : '[address]'))
    .replace(V4, (m) => (cutAddresses(m) === m ? m : '[address]'));
}

// Words of a metadata name that mean geography finer than a state.
const GEOGRAPHY_WORDS = new Set([
  'city',
  'town',
  'postal',
  'postcode',
  'postalcode',
  'zip',
  'zipcode',
  'lat',
  'lng',
  'lon',
  'latitude',
  'longitude',
  'latlng',
  'latlon',
  'coord',
  'coords',
  'coordinates',
  'geo',
  'geolocation',
  'gps',
  'location',
  'street',
  'streetaddress',
  'address',
  'addr',
]);
// An address that is not a place: `ipAddress`, `email_address`, `macAddr`.
const NOT_A_PLACE = new Set(['ip', 'mac', 'email', 'mail', 'wallet']);

/** Whether a metadata name means geography finer than a state, in any common spelling (camelCase, snake_case, prefixed). */
export function isFineGeographyName(name: string): boolean {
  const words = name
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z]+/)
    .filter(Boolean);
  if (words.some((w) => NOT_A_PLACE.has(w))) return false;
  return GEOGRAPHY_WORDS.has(words.join('')) || words.some((w) => GEOGRAPHY_WORDS.has(w));
}

// ISO 3166-1 alpha-2 country and ISO 3166-2 subdivision (state level); nothing finer is accepted.
const COUNTRY = /^[A-Z]{2}$/;
const REGION = /^[A-Z]{2}-[A-Z0-9]{1,3}$/;

/** Whether a string is an ISO 3166-1 alpha-2 country code. */
export const isCountryCode = (v: string): boolean => COUNTRY.test(v);
/** Whether a string is an ISO 3166-2 subdivision code (country or state level only). */
export const isRegionCode = (v: string): boolean => REGION.test(v);

/** Why a value is refused: a card number is never echoed, logged or stored. */
export const CARD_NUMBER_MESSAGE = 'looks like a payment card number; the event is rejected and the value is not stored';
/** Why a key is refused for a card number. */
export const CARD_NUMBER_KEY_MESSAGE = 'has a key that looks like a payment card number; the event is rejected and the key is not stored';
/** Why a metadata name for fine geography is refused. */
export const FINE_GEOGRAPHY_MESSAGE = 'is finer than state-level geography, which is not stored; send data.country and data.region';

/** The fields of an event the privacy cuts read: its ids, its network prefix and its metadata. */
export interface PrivacyFields {
  id?: string;
  source?: string;
  customerId?: string;
  operation?: string;
  apiKeyId?: string;
  userId?: string;
  fileId?: string;
  ipPrefix?: string;
  metadata?: Record<string, string | number | boolean>;
}

/** What the cuts made of an event: the cut fields, the refusals (each field named, no value echoed), and why. */
export interface PrivacyVerdict<T extends PrivacyFields> {
  event: T;
  errors: FieldError[];
  /** A card number was found. */
  containsCardNumber: boolean;
  /** A value was refused that a stored copy cannot keep (an id holding personal data): the event cannot be replayed. */
  withheld: boolean;
}

const ID_FIELDS = ['id', 'source', 'customerId', 'operation', 'apiKeyId', 'userId', 'fileId'] as const;

/**
 * The one set of privacy cuts, applied by ingest (`validateEvent`) and by the consumer to every event a producer put on
 * the queue. Ids holding a card number, an e-mail address, an IP address or coordinates are refused (an id cannot be
 * cut without changing what is counted); `ipPrefix` must be a network prefix and is re-truncated; metadata names for
 * fine geography or holding personal data are refused; metadata values holding a card number are refused, and e-mail
 * addresses, coordinates and IP addresses in them are cut. `field` names each attribute (metadata by its key) as the
 * caller's input spells it; the names in errors are masked.
 */
export function applyPrivacyCuts<T extends PrivacyFields>(
  e: T,
  field: (attribute: string, metadataKey?: string) => string,
): PrivacyVerdict<T> {
  const errors: FieldError[] = [];
  let containsCardNumber = false;
  let withheld = false;
  const fail = (name: string, message: string) => errors.push({ field: maskFieldName(name), message });
  const out: T = { ...e };
  const personal = (text: string, what: string): string | undefined => {
    if (looksLikeCardNumber(text)) return 'card';
    if (containsEmail(text)) return `holds an e-mail address; ${what}`;
    if (cutAddresses(text) !== text) return `holds an IP address; ${what}`;
    if (containsCoordinates(text)) return `holds coordinates; ${what}`;
    return undefined;
  };

  for (const name of ID_FIELDS) {
    const value = e[name];
    if (typeof value !== 'string') continue;
    const why = personal(value, 'send an opaque id instead (the value is not stored)');
    if (why === undefined) continue;
    withheld = true;
    if (why === 'card') containsCardNumber = true;
    fail(field(name), why === 'card' ? CARD_NUMBER_MESSAGE : why);
  }
  if (e.ipPrefix !== undefined) {
    const prefix = truncateIp(e.ipPrefix.replace(/\/\d{1,3}$/, ''));
    if (prefix === undefined) fail(field('ipPrefix'), 'must be an IPv4 /24 or IPv6 /48 network prefix');
    else out.ipPrefix = prefix;
  }
  if (e.metadata !== undefined) {
    const metadata: Record<string, string | number | boolean> = {};
    for (const [key, value] of Object.entries(e.metadata)) {
      const name = field('metadata', key);
      const keyWhy = personal(key, 'the name is not stored');
      if (keyWhy !== undefined) {
        withheld = true;
        if (keyWhy === 'card') containsCardNumber = true;
        fail(name, keyWhy === 'card' ? CARD_NUMBER_KEY_MESSAGE : `a metadata name ${keyWhy}`);
        continue;
      }
      if (isFineGeographyName(key)) {
        fail(name, FINE_GEOGRAPHY_MESSAGE);
        continue;
      }
      if (typeof value !== 'boolean' && looksLikeCardNumber(value)) {
        containsCardNumber = true;
        fail(name, CARD_NUMBER_MESSAGE);
        continue;
      }
      // An address sent alone keeps its prefix, as data.clientIp does; one inside text is cut where it stands.
      metadata[key] = typeof value === 'string' ? (truncateIp(value) ?? redactText(value)) : value;
    }
    out.metadata = metadata;
  }
  return { event: out, errors, containsCardNumber, withheld };
}
