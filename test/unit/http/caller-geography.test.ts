import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { callerOf } from '../../../functions/http/request.js';

/** An HTTP API request from `sourceIp` with these headers. */
const requestFrom = (sourceIp: string, headers: Record<string, string>) =>
  ({ headers, requestContext: { http: { method: 'POST', path: '/v1/events', sourceIp } } }) as unknown as APIGatewayProxyEventV2;

const DIRECT = { behindCloudFront: false };
const CLOUDFRONT = { behindCloudFront: true };

describe('callerOf: audit geography (defect 5)', () => {
  it('ignores viewer headers a caller wrote when nothing in front sets them, and takes the country from the source address', () => {
    // Prepare: 81.2.69.160 is in IP2Location LITE's GB range (as in MaxMind's test data)
    const card = requestFrom('81.2.69.160', {
      'cloudfront-viewer-country': '4111 1111 1111 1111',
      'cloudfront-viewer-country-region': 'jane@example.com',
    });

    // Act
    const caller = callerOf(card, DIRECT);

    // Assess: a /24 and a country, nothing the caller wrote
    expect(caller).toEqual({ ipPrefix: '81.2.69.0/24', region: 'GB' });
    expect(callerOf(requestFrom('8.8.8.8', { 'cloudfront-viewer-country': 'FR' }), DIRECT)).toEqual({
      ipPrefix: '8.8.8.0/24',
      region: 'US',
    });
  });

  it('behind CloudFront, keeps only ISO 3166 codes from the viewer headers', () => {
    // Act / Assess
    const from = (country: string, region?: string) =>
      callerOf(
        requestFrom('198.51.100.7', {
          'cloudfront-viewer-country': country,
          ...(region ? { 'cloudfront-viewer-country-region': region } : {}),
        }),
        CLOUDFRONT,
      ).region;
    expect(from('US', 'WA')).toBe('US-WA');
    expect(from('DE')).toBe('DE');
    expect(from('4111 1111 1111 1111')).toBeUndefined();
    expect(from('jane@example.com', 'WA')).toBeUndefined();
    expect(from('XX')).toBeUndefined();
    expect(from('US', 'jane@example.com')).toBe('US');
    expect(from('US', '4111-1111-1111-1111')).toBe('US');
  });

  it('derives no country for addresses the database cannot place: private, loopback, IPv6', () => {
    // Act / Assess
    for (const ip of ['10.1.2.3', '127.0.0.1', '2001:db8::1']) expect(callerOf(requestFrom(ip, {}), DIRECT).region).toBeUndefined();
    expect(callerOf(requestFrom('::ffff:81.2.69.160', {}), DIRECT).region).toBe('GB');
  });
});
