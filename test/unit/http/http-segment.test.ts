import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../contract/errors.js';
import { decodeSegment } from '../../../functions/http/request.js';

describe('decodeSegment', () => {
  it('decodes a path segment, and refuses a malformed or over-long one by field (a 400, not a DynamoDB 500)', () => {
    // Act / Assess
    expect(decodeSegment('acme%20co', 'customer')).toBe('acme co');
    for (const bad of ['%E0%A4%A', 'c'.repeat(257)]) {
      const err = (() => {
        try {
          decodeSegment(bad, 'customer');
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(ValidationError);
      expect((err as ValidationError).errors[0]!.field).toBe('customer');
    }
  });
});
