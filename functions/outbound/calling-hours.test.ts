import { describe, expect, it } from 'vitest';
import { parseCallingHours } from '../../shared/calling-hours.js';
import { calleeTimeZones } from './callee-time-zones.js';
import { checkCallingHours } from './calling-hours.js';

const hours = (text: string) => {
  const parsed = parseCallingHours(text);
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.hours;
};

describe("the callee's time zones, from the number", () => {
  it('one zone where the prefix tells it, every zone of the country where it does not, the default for ACS users and unknown prefixes', async () => {
    expect(await calleeTimeZones('+12125550123', 'Europe/Paris')).toEqual({ zones: ['America/New_York'], fromNumber: true });
    expect(await calleeTimeZones('+4930123456', 'UTC')).toEqual({ zones: ['Europe/Berlin'], fromNumber: true });
    const tollFree = await calleeTimeZones('+18005550100', 'UTC');
    expect(tollFree.zones).toEqual(expect.arrayContaining(['America/New_York', 'America/Los_Angeles', 'Pacific/Honolulu', 'Pacific/Guam']));
    expect(await calleeTimeZones('8:acs:6f1c2a7e-0b5d-4c59-9a3e-1ab2c3d4e5f6_0000001', 'Europe/Paris')).toEqual({ zones: ['Europe/Paris'], fromNumber: false });
    // +999 is no country code.
    expect(await calleeTimeZones('+99912345678', 'Asia/Tokyo')).toEqual({ zones: ['Asia/Tokyo'], fromNumber: false });
  });
});

describe('calling hours for a number', () => {
  const config = { OUTBOUND_CALLING_HOURS: hours('09:00-20:00'), OUTBOUND_DEFAULT_TIME_ZONE: 'UTC' };

  it('defers a New York number at 08:00 New York time to 09:00 there, naming the setting and the zone but not the number', async () => {
    const decision = await checkCallingHours(config, '+12125550123', Date.parse('2026-12-07T13:00:00Z'));
    expect(decision).toMatchObject({ kind: 'later', at: new Date('2026-12-07T14:00:00Z') });
    if (decision.kind === 'later') {
      expect(decision.reason).toContain('OUTBOUND_CALLING_HOURS (09:00-20:00)');
      expect(decision.reason).toContain('America/New_York');
      expect(decision.reason).not.toContain('555');
    }
    expect(await checkCallingHours(config, '+12125550123', Date.parse('2026-12-07T14:00:00Z'))).toEqual({ kind: 'now' });
  });

  it('a toll-free +1 number may be anywhere from Guam to Alaska: the window must hold in all of them, and in summer it never does', async () => {
    // 23:00 UTC in December is 09:00 in Guam and 13:00 in Honolulu, 18:00 in New York: inside everywhere.
    expect(await checkCallingHours(config, '+18005550100', Date.parse('2026-12-07T12:00:00Z'))).toMatchObject({ kind: 'later', at: new Date('2026-12-07T23:00:00Z') });
    const summer = await checkCallingHours(config, '+18005550100', Date.parse('2026-07-07T12:00:00Z'));
    expect(summer).toMatchObject({ kind: 'never', reason: expect.stringContaining('every time zone the number may be in') });
  });

  it('uses OUTBOUND_DEFAULT_TIME_ZONE for an ACS user, and always places with OUTBOUND_CALLING_HOURS=always', async () => {
    const paris = { ...config, OUTBOUND_DEFAULT_TIME_ZONE: 'Europe/Paris' };
    expect(await checkCallingHours(paris, '8:acs:res_user1', Date.parse('2026-12-07T07:30:00Z'))).toMatchObject({ kind: 'later', at: new Date('2026-12-07T08:00:00Z'), reason: expect.stringContaining('OUTBOUND_DEFAULT_TIME_ZONE') });
    expect(await checkCallingHours({ ...config, OUTBOUND_CALLING_HOURS: 'always' }, '+12125550123', Date.parse('2026-12-07T05:00:00Z'))).toEqual({ kind: 'now' });
  });
});
