import fc from 'fast-check';

/**
 * fast-check arbitraries for the privacy invariants: realistic and adversarial writings of what must never be stored
 * as sent (full IP addresses, card numbers, e-mail addresses, geography finer than a state), and events, queue
 * messages and bodies that carry them anywhere: values, ids, keys, field names, extension attributes, nesting.
 */

const hex = (n: number) => n.toString(16);
const octet = fc.integer({ min: 0, max: 255 });
/** The last octet is never 0: an address whose host part is 0 says no more than its /24. */
const hostOctet = fc.integer({ min: 1, max: 255 });
const v4Parts = fc.tuple(octet, octet, octet, hostOctet);
type V4 = [number, number, number, number];
const v4Hex = ([a, b, c, d]: V4, pad = false) => {
  const w = (n: number) => (pad ? hex(n).padStart(4, '0') : hex(n));
  return `${w((a << 8) | b)}:${w((c << 8) | d)}`;
};
const hextet = fc.integer({ min: 0, max: 0xffff }).map(hex);
const nonZeroHextet = fc.integer({ min: 1, max: 0xffff }).map(hex);

/** A full IPv4 address. */
export const ipv4 = v4Parts.map((p) => p.join('.'));

/** A full IPv6 address (host bits set) in full, compressed, upper-case or zoned form. */
export const ipv6 = fc.oneof(
  fc.tuple(fc.array(hextet, { minLength: 7, maxLength: 7 }), nonZeroHextet).map(([head, last]) => [...head, last].join(':')),
  fc.tuple(fc.array(nonZeroHextet, { minLength: 1, maxLength: 3 }), nonZeroHextet).map(([head, last]) => `${head.join(':')}::${last}`),
  nonZeroHextet.map((h) => `2001:DB8:85A3::8A2E:370:${h.toUpperCase()}`),
  nonZeroHextet.map((h) => `fe80::${h}%eth0`),
  fc.constant('::1'),
);

/** IPv6 that carries an IPv4 address: mapped, 6to4 (whose /48 holds the whole IPv4), NAT64; dotted and hex. */
export const ipv4InIpv6 = fc.oneof(
  v4Parts.map((p) => `::ffff:${p.join('.')}`),
  v4Parts.map((p) => `::ffff:${v4Hex(p as V4)}`),
  v4Parts.map((p) => `0:0:0:0:0:FFFF:${v4Hex(p as V4).toUpperCase()}`),
  fc.tuple(v4Parts, nonZeroHextet).map(([p, h]) => `2002:${v4Hex(p as V4, true)}::${h}`),
  fc.tuple(v4Parts, hextet, nonZeroHextet).map(([p, s, h]) => `2002:${v4Hex(p as V4)}:${s}::${h}`),
  v4Parts.map((p) => `64:ff9b::${p.join('.')}`),
  v4Parts.map((p) => `64:ff9b::${v4Hex(p as V4)}`),
);

/** One address in any common writing: bare, with a port, bracketed, or an X-Forwarded-For list. */
export const addressWriting: fc.Arbitrary<string> = fc.oneof(
  ipv4,
  ipv6,
  ipv4InIpv6,
  fc.ipV4(),
  ipv4.map((a) => `${a}:443`),
  fc.oneof(ipv6, ipv4InIpv6).map((a) => `[${a.split('%')[0]}]:443`),
  fc.array(fc.oneof(ipv4, ipv6, ipv4InIpv6), { minLength: 2, maxLength: 4 }).map((l) => l.join(', ')),
  fc.array(ipv4, { minLength: 2, maxLength: 3 }).map((l) => l.join(',')),
  ipv4.map((a) => `client=${a};proto=https`),
);

/** Appends the Luhn check digit to a string of digits. */
export function withLuhnDigit(body: string): string {
  let sum = 0;
  for (let i = 0; i < body.length; i++) {
    let d = Number(body[body.length - 1 - i]);
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return `${body}${(10 - (sum % 10)) % 10}`;
}

const BRANDS = [
  { prefix: '4', length: 16, groups: [4, 4, 4, 4] },
  { prefix: '4', length: 13, groups: [4, 4, 5] },
  { prefix: '4', length: 19, groups: [4, 4, 4, 4, 3] },
  { prefix: '51', length: 16, groups: [4, 4, 4, 4] },
  { prefix: '2221', length: 16, groups: [4, 4, 4, 4] },
  { prefix: '37', length: 15, groups: [4, 6, 5] },
  { prefix: '6011', length: 16, groups: [4, 4, 4, 4] },
  { prefix: '35', length: 16, groups: [4, 4, 4, 4] },
  { prefix: '36', length: 14, groups: [4, 6, 4] },
];

/** The digits of a Luhn-valid card number of a real brand's prefix and length. */
export const cardDigits = fc
  .constantFrom(...BRANDS)
  .chain((b) =>
    fc
      .array(fc.integer({ min: 0, max: 9 }), { minLength: b.length - 1 - b.prefix.length, maxLength: b.length - 1 - b.prefix.length })
      .map((ds) => ({ digits: withLuhnDigit(`${b.prefix}${ds.join('')}`), groups: b.groups })),
  );

const SEPARATORS = [' ', '  ', '-', '.', ' - ', '_', '/'];

/** A card number as people write it: plain, grouped by spaces, double spaces, dashes, dots or a mix of them. */
export const cardWriting: fc.Arbitrary<string> = cardDigits.chain(({ digits, groups }) =>
  fc.oneof(
    fc.constant(digits),
    fc.constantFrom(...SEPARATORS).map((sep) => group(digits, groups, () => sep)),
    fc
      .array(fc.constantFrom(...SEPARATORS), { minLength: groups.length - 1, maxLength: groups.length - 1 })
      .map((seps) => group(digits, groups, (i) => seps[i]!)),
  ),
);

function group(digits: string, sizes: number[], sep: (i: number) => string): string {
  const parts: string[] = [];
  let at = 0;
  for (const n of sizes) {
    parts.push(digits.slice(at, at + n));
    at += n;
  }
  return parts.map((p, i) => (i === 0 ? p : `${sep(i - 1)}${p}`)).join('');
}

/** An e-mail address, plain or as it appears in text. */
export const emailWriting: fc.Arbitrary<string> = fc.oneof(
  fc.emailAddress(),
  fc.emailAddress().map((e) => `mailto:${e}`),
  fc.emailAddress().map((e) => `Jane Doe <${e}>`),
  fc.constantFrom('jane.doe@example.com', 'J.Doe+billing@Example.co.uk', 'ops@sub.example.org'),
);

/** Metadata names that mean geography finer than a state, in the spellings emitters use. */
export const GEOGRAPHY_KEYS = [
  'city',
  'City',
  'town',
  'postal',
  'postcode',
  'postCode',
  'postal_code',
  'postalCode',
  'zip',
  'ZIP',
  'zipCode',
  'zip_code',
  'lat',
  'lng',
  'lon',
  'latitude',
  'Longitude',
  'coords',
  'coordinates',
  'geo',
  'location',
  'street',
  'address',
  'addr',
  'streetAddress',
  'shipping_city',
  'billingZip',
  'user-location',
] as const;

const lat = fc.integer({ min: -899_999, max: 899_999 }).map((n) => (n / 10_000).toFixed(4));
const lng = fc.integer({ min: -1_799_999, max: 1_799_999 }).map((n) => (n / 10_000).toFixed(4));

/** A coordinate pair as text: `37.7749,-122.4194`, `37.7749 -122.4194`, `37.7749, -122.4194`. */
export const coordinatesWriting: fc.Arbitrary<string> = fc
  .tuple(lat, lng, fc.constantFrom(',', ' ', ', ', ';'))
  .map(([a, b, sep]) => `${a}${sep}${b}`);

/** A value for a fine-geography key: a place name, a postal code or a coordinate. */
const geographyValue = fc.oneof(
  fc.constantFrom('San Francisco', '94103', 'SW1A 1AA', '221B Baker Street', 'Springfield'),
  coordinatesWriting,
  lat.map(Number),
);

/** Something that must never be stored as sent. */
export const sensitiveText: fc.Arbitrary<string> = fc.oneof(addressWriting, cardWriting, emailWriting, coordinatesWriting);

/** Harmless text around a sensitive value, as free text carries it. */
const inText = (s: fc.Arbitrary<string>) =>
  fc.tuple(fc.constantFrom('', 'seen ', 'qty 12 ', 'note: '), s, fc.constantFrom('', ' ok', '.', ' (retry)')).map((p) => p.join(''));

const CUSTOMERS = ['priv-a', 'priv-b', 'priv-ghost'] as const;
/** Customers the property test registers before it sends; `priv-ghost` is registered only before the replay. */
export const REGISTERED_CUSTOMERS = ['priv-a', 'priv-b'] as const;
export const LATE_CUSTOMER = 'priv-ghost';

let seq = 0;
const nextId = () => `pv-${Date.now().toString(36)}-${++seq}`;

type Placement = (ce: Record<string, unknown>, data: Record<string, unknown>, value: string) => void;

/** Every place an emitter (or an attacker) can put a value in a CloudEvent. */
const PLACEMENTS: Record<string, Placement> = {
  metadataValue: (_ce, d, v) => {
    d.note = v;
  },
  metadataKey: (_ce, d, v) => {
    d[v] = 'x';
  },
  metadataKeyPrefixed: (_ce, d, v) => {
    d[`card ${v}`] = 1;
  },
  extensionAttribute: (ce, _d, v) => {
    ce.forwardedfor = v;
  },
  extensionKey: (ce, _d, v) => {
    ce[v] = 'y';
  },
  clientIp: (_ce, d, v) => {
    d.clientIp = v;
  },
  operation: (_ce, d, v) => {
    d.operation = v;
  },
  apiKeyId: (_ce, d, v) => {
    d.apiKeyId = v;
  },
  id: (ce, _d, v) => {
    ce.id = v;
  },
  subject: (ce, _d, v) => {
    ce.subject = v;
  },
  nested: (_ce, d, v) => {
    d.context = { forwarded: [v], inner: { [v]: v } };
  },
  arrayValue: (_ce, d, v) => {
    d.hops = [v, 'edge'];
  },
};

/** A CloudEvent carrying one or more sensitive values in any place, sometimes otherwise invalid so it is quarantined. */
export const hostileCloudEvent: fc.Arbitrary<Record<string, unknown>> = fc
  .record({
    kind: fc.constantFrom('api', 'user', 'file'),
    customer: fc.constantFrom(...CUSTOMERS),
    hits: fc.array(fc.tuple(fc.constantFrom(...Object.keys(PLACEMENTS)), fc.oneof(sensitiveText, inText(sensitiveText))), {
      minLength: 1,
      maxLength: 3,
    }),
    identity: fc.option(fc.oneof(sensitiveText, fc.constant('u-plain-42')), { nil: undefined }),
    geography: fc.option(fc.tuple(fc.constantFrom(...GEOGRAPHY_KEYS), geographyValue), { nil: undefined }),
    breakIt: fc.constantFrom(false, false, false, 'time', 'type'),
  })
  .map(({ kind, customer, hits, identity, geography, breakIt }) => {
    const data: Record<string, unknown> = {};
    const ce: Record<string, unknown> = {
      specversion: '1.0',
      type: kind === 'api' ? 'com.serenity.api.call' : kind === 'user' ? 'com.serenity.user.active' : 'com.serenity.file.protected',
      source: 'local',
      subject: customer,
      id: nextId(),
      time: new Date().toISOString(),
      data,
    };
    if (kind === 'user') data.userId = identity ?? 'u-1';
    if (kind === 'file') data.fileId = identity ?? 'f-1';
    for (const [where, value] of hits) PLACEMENTS[where]!(ce, data, value);
    if (geography) data[geography[0]] = geography[1];
    if (breakIt === 'time') ce.time = 'yesterday';
    if (breakIt === 'type') ce.type = 'com.serenity.unknown';
    return ce;
  });

/** A normalised-looking event as a producer that never passed ingest might put it on the queue. */
export const producerEvent: fc.Arbitrary<Record<string, unknown>> = fc
  .record({
    kind: fc.constantFrom('api', 'user', 'file'),
    customer: fc.oneof(
      fc.constantFrom(...CUSTOMERS),
      addressWriting.filter((a) => !/[\s#]/.test(a)),
    ),
    ipPrefix: fc.option(fc.oneof(addressWriting, emailWriting, fc.constant('not-an-ip'), fc.constant('192.0.2.0/24')), {
      nil: undefined,
    }),
    identity: fc.oneof(sensitiveText, fc.constant('plain-7')),
    where: fc.constantFrom('userId', 'fileId', 'operation', 'apiKeyId', 'id', 'source', 'metaKey', 'metaValue'),
    value: fc.oneof(sensitiveText, inText(sensitiveText)),
    geography: fc.option(fc.tuple(fc.constantFrom(...GEOGRAPHY_KEYS), fc.oneof(coordinatesWriting, fc.constant('Springfield'))), {
      nil: undefined,
    }),
    extra: fc.constantFrom(false, false, true),
  })
  .map(({ kind, customer, ipPrefix, identity, where, value, geography, extra }) => {
    const e: Record<string, unknown> = {
      id: nextId(),
      source: 'producer',
      customerId: customer,
      type: kind === 'api' ? 'com.serenity.api.call' : kind === 'user' ? 'com.serenity.user.active' : 'com.serenity.file.protected',
      time: new Date().toISOString(),
      quantity: 1,
    };
    if (kind === 'user') e.userId = identity;
    if (kind === 'file') e.fileId = identity;
    if (kind === 'api' && ipPrefix !== undefined) e.ipPrefix = ipPrefix;
    const metadata: Record<string, unknown> = {};
    if (where === 'metaKey') metadata[value] = 'v';
    else if (where === 'metaValue') metadata.note = value;
    else e[where] = value;
    if (geography) metadata[geography[0]] = geography[1];
    if (Object.keys(metadata).length > 0) e.metadata = metadata;
    // An attribute the schema does not know: the event is invalid and quarantined as sent, so it must be cut there too.
    if (extra) e.clientIp = value;
    return e;
  });

/** A queue body from a producer: a v1 message of producer events, or a body that is not one, holding sensitive text. */
export const producerBody: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.array(producerEvent, { minLength: 1, maxLength: 4 }).map((events) => JSON.stringify({ v: 1, events })) },
  { weight: 1, arbitrary: sensitiveText.map((s) => `not json: ${s}`) },
  { weight: 1, arbitrary: sensitiveText.map((s) => JSON.stringify({ v: 2, note: s, [s]: s })) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom(...GEOGRAPHY_KEYS), sensitiveText)
      .map(([k, s]) => JSON.stringify({ v: 1, events: 'none', [k]: s })),
  },
);
