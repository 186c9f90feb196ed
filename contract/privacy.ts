import { isIPv4, isIPv6 } from 'node:net';

/**
 * Truncates an IP address to its network prefix: the first three octets of IPv4 (/24)
 * or the first three hextets of IPv6 (/48). Returns undefined for anything that is not an IP.
 * The full address never leaves this function.
 */
export function truncateIp(ip: string): string | undefined {
  const raw = ip.trim();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(raw);
  const v4 = mapped?.[1] ?? raw;
  if (isIPv4(v4)) {
    const [a, b, c] = v4.split('.');
    return `${a}.${b}.${c}.0/24`;
  }
  if (isIPv6(raw)) {
    const groups = expandIpv6(raw.split('%')[0]!);
    // An IPv4-mapped address written in hex (::ffff:c000:221) is the IPv4 address 192.0.2.33: keep its /24.
    if (groups.slice(0, 5).every((g) => /^0+$/.test(g)) && /^ffff$/i.test(groups[5]!)) {
      const [hi, lo] = [parseInt(groups[6]!, 16), parseInt(groups[7]!, 16)];
      return `${hi >> 8}.${hi & 255}.${lo >> 8}.0/24`;
    }
    return `${groups
      .slice(0, 3)
      .map((g) => g.replace(/^0+(?=.)/, ''))
      .join(':')}::/48`;
  }
  return undefined;
}

function expandIpv6(ip: string): string[] {
  // An embedded IPv4 tail (::1.2.3.4) takes the place of two hextets.
  const tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(ip);
  let body = ip;
  if (tail) {
    const [a, b, c, d] = tail[1]!.split('.').map(Number);
    body = `${ip.slice(0, -tail[1]!.length)}${((a! << 8) | b!).toString(16)}:${((c! << 8) | d!).toString(16)}`;
  }
  const [head, rest] = body.split('::');
  const left = head ? head.split(':') : [];
  const right = rest !== undefined && rest !== '' ? rest.split(':') : [];
  const fill = rest === undefined ? [] : Array(8 - left.length - right.length).fill('0');
  return [...left, ...fill, ...right].map((g) => g.toLowerCase());
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

// A run of digits, optionally grouped by single spaces or dashes, as card numbers are written.
const DIGIT_RUN = /\d(?:[ -]?\d)*/g;

/** True when a value contains something that looks like a payment card number: 13-19 digits passing Luhn. */
export function looksLikeCardNumber(value: string | number): boolean {
  const text = String(value);
  for (const match of text.matchAll(DIGIT_RUN)) {
    const digits = match[0].replace(/[ -]/g, '');
    if (digits.length >= 13 && digits.length <= 19 && passesLuhn(digits)) return true;
  }
  return false;
}

// ISO 3166-1 alpha-2 country and ISO 3166-2 subdivision (state level); nothing finer is accepted.
const COUNTRY = /^[A-Z]{2}$/;
const REGION = /^[A-Z]{2}-[A-Z0-9]{1,3}$/;

/** Whether a string is an ISO 3166-1 alpha-2 country code. */
export const isCountryCode = (v: string): boolean => COUNTRY.test(v);
/** Whether a string is an ISO 3166-2 subdivision code (country or state level only). */
export const isRegionCode = (v: string): boolean => REGION.test(v);
