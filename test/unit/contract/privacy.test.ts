import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { looksLikeCardNumber, passesLuhn, truncateIp } from '../../../contract/privacy.js';

describe('truncateIp', () => {
  it.each([
    ['192.0.2.77', '192.0.2.0/24'],
    ['::ffff:192.0.2.77', '192.0.2.0/24'],
    ['::ffff:c000:24d', '192.0.2.0/24'],
    ['0:0:0:0:0:FFFF:C000:024D', '192.0.2.0/24'],
    ['2001:db8:85a3:8d3:1319:8a2e:370:7348', '2001:db8:85a3::/48'],
    ['2001:db8::1', '2001:db8:0::/48'],
    ['::1', '0:0:0::/48'],
    ['not an ip', undefined],
    ['1.2.3', undefined],
  ])('%s -> %s', (ip, prefix) => {
    expect(truncateIp(ip)).toBe(prefix);
  });

  it('never keeps the last octet of any IPv4 address', () => {
    fc.assert(
      fc.property(fc.ipV4(), (ip) => {
        const [a, b, c] = ip.split('.');
        expect(truncateIp(ip)).toBe(`${Number(a)}.${Number(b)}.${Number(c)}.0/24`);
      }),
    );
  });

  it('is idempotent: a prefix re-truncates to itself', () => {
    fc.assert(
      fc.property(fc.ipV6(), (ip) => {
        const p = truncateIp(ip)!;
        expect(truncateIp(p.split('/')[0]!)).toBe(p);
      }),
    );
  });
});

describe('card numbers', () => {
  it('Luhn accepts known test numbers and rejects a changed digit', () => {
    expect(passesLuhn('4111111111111111')).toBe(true);
    expect(passesLuhn('5555555555554444')).toBe(true);
    expect(passesLuhn('4111111111111121')).toBe(false);
  });

  it('finds grouped card numbers inside text, and ignores short or long digit runs', () => {
    expect(looksLikeCardNumber('pay 5555 5555 5555 4444 now')).toBe(true);
    expect(looksLikeCardNumber(4111111111111111)).toBe(true);
    expect(looksLikeCardNumber('123456789012')).toBe(false);
    expect(looksLikeCardNumber('41111111111111110000000')).toBe(false);
  });
});
