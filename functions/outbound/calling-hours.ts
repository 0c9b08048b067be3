import type { FunctionsConfig } from '../../shared/config/functions.js';
import { CALLING_HOURS_HORIZON_MS, describeCallingHours, nextCallingTime } from '../../shared/calling-hours.js';
import { calleeTimeZones } from './callee-time-zones.js';

export type CallingHoursDecision = { kind: 'now' } | { kind: 'later'; at: Date; reason: string } | { kind: 'never'; reason: string };

type HoursConfig = Pick<FunctionsConfig, 'OUTBOUND_CALLING_HOURS' | 'OUTBOUND_DEFAULT_TIME_ZONE'>;

/**
 * Whether a call to `to` may be placed at `atMs` under OUTBOUND_CALLING_HOURS, else when. The reasons name the
 * setting and the zone(s), never the number.
 */
export async function checkCallingHours(config: HoursConfig, to: string, atMs: number): Promise<CallingHoursDecision> {
  const hours = config.OUTBOUND_CALLING_HOURS;
  if (hours === 'always') return { kind: 'now' };
  const { zones, fromNumber } = await calleeTimeZones(to, config.OUTBOUND_DEFAULT_TIME_ZONE);
  const where =
    zones.length === 1
      ? `the callee's time zone (${zones[0]}${fromNumber ? '' : ', OUTBOUND_DEFAULT_TIME_ZONE'})`
      : `every time zone the number may be in (${zones.length}: ${zones[0]} ... ${zones[zones.length - 1]})`;
  const verdict = nextCallingTime(hours, zones, atMs);
  if (verdict.kind === 'now') return verdict;
  const setting = `OUTBOUND_CALLING_HOURS (${describeCallingHours(hours)})`;
  if (verdict.kind === 'never') {
    return { kind: 'never', reason: `no time in the next ${CALLING_HOURS_HORIZON_MS / 86_400_000} days is inside ${setting} in ${where}` };
  }
  return { kind: 'later', at: verdict.at, reason: `outside ${setting} in ${where}` };
}
