import { describe, expect, it } from 'vitest';
import { describeCallingHours, isInside, isTimeZone, nextCallingTime, parseCallingHours, type CallingHours } from './calling-hours.js';

const hours = (text: string): CallingHours => {
  const parsed = parseCallingHours(text);
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.hours;
};
const at = (iso: string) => Date.parse(iso);
const later = (verdict: ReturnType<typeof nextCallingTime>) => (verdict.kind === 'later' ? verdict.at.toISOString() : verdict.kind);

describe('calling hours', () => {
  it('parses always, one window, day ranges (wrapping) and several windows; refuses the rest naming the window', () => {
    expect(parseCallingHours('always')).toEqual({ ok: true, hours: 'always' });
    expect(describeCallingHours(hours('09:00-20:00'))).toBe('09:00-20:00');
    expect(describeCallingHours(hours('Mon-Fri 09:00-20:00, Sat 10:00-14:00'))).toBe('Mon/Tue/Wed/Thu/Fri 09:00-20:00, Sat 10:00-14:00');
    expect(describeCallingHours(hours('fri-mon 08:00-24:00'))).toBe('Fri/Sat/Sun/Mon 08:00-24:00');
    for (const [bad, message] of [
      ['', 'always'],
      ['9-17', '(window 1: 9-17)'],
      ['09:00-20:00, Mon-Fry 09:00-12:00', 'days are Mon, Tue, Wed, Thu, Fri, Sat, Sun (window 2: Mon-Fry 09:00-12:00)'],
      ['20:00-09:00', 'over midnight'],
      ['09:00-24:30', '00:00 to 24:00'],
      ['09:75-10:00', '00:00 to 24:00'],
    ] as const) {
      const parsed = parseCallingHours(bad);
      expect(parsed.ok, bad).toBe(false);
      if (!parsed.ok) expect(parsed.message).toContain(message);
    }
  });

  it('tells a time zone name the runtime knows', () => {
    expect(isTimeZone('America/New_York')).toBe(true);
    expect(isTimeZone('UTC')).toBe(true);
    expect(isTimeZone('Mars/Olympus_Mons')).toBe(false);
  });

  it('places now inside the window and defers to the next opening outside it, in the callee zone', () => {
    const h = hours('09:00-20:00');
    // 14:00 UTC = 09:00 in New York (EST, winter): the first minute of the window.
    expect(nextCallingTime(h, ['America/New_York'], at('2026-12-07T14:00:00Z'))).toEqual({ kind: 'now' });
    expect(later(nextCallingTime(h, ['America/New_York'], at('2026-12-07T13:59:00Z')))).toBe('2026-12-07T14:00:00.000Z');
    // 20:00 EST is past the end: tomorrow 09:00 EST.
    expect(later(nextCallingTime(h, ['America/New_York'], at('2026-12-08T01:00:00Z')))).toBe('2026-12-08T14:00:00.000Z');
    expect(isInside(h, 'America/New_York', at('2026-12-08T00:59:59Z'))).toBe(true);
    // Tokyo is ahead of UTC: 23:00 UTC is 08:00 the next local day.
    expect(later(nextCallingTime(h, ['Asia/Tokyo'], at('2026-12-07T23:00:00Z')))).toBe('2026-12-08T00:00:00.000Z');
  });

  it('follows daylight saving time: 09:00 in London is 09:00 UTC in winter and 08:00 UTC in summer, also across the change', () => {
    const h = hours('09:00-20:00');
    expect(later(nextCallingTime(h, ['Europe/London'], at('2026-01-15T03:00:00Z')))).toBe('2026-01-15T09:00:00.000Z');
    expect(later(nextCallingTime(h, ['Europe/London'], at('2026-07-15T03:00:00Z')))).toBe('2026-07-15T08:00:00.000Z');
    // Saturday 28 March 2026 21:00 GMT: the clocks go forward that night, so Sunday 09:00 is 08:00 UTC.
    expect(later(nextCallingTime(h, ['Europe/London'], at('2026-03-28T21:00:00Z')))).toBe('2026-03-29T08:00:00.000Z');
    // And back on 25 October: Sunday 09:00 GMT is 09:00 UTC.
    expect(later(nextCallingTime(h, ['Europe/London'], at('2026-10-24T21:00:00Z')))).toBe('2026-10-25T09:00:00.000Z');
    // New York's change (8 March 2026) at its own date.
    expect(later(nextCallingTime(h, ['America/New_York'], at('2026-03-08T03:00:00Z')))).toBe('2026-03-08T13:00:00.000Z');
  });

  it('a window that opens at a wall time the clocks skip opens after the jump, never before', () => {
    // New York skips 02:00-03:00 on 8 March 2026 (07:00 UTC).
    const verdict = nextCallingTime(hours('02:30-05:00'), ['America/New_York'], at('2026-03-08T05:00:00Z'));
    expect(verdict.kind).toBe('later');
    if (verdict.kind === 'later') {
      expect(verdict.at.getTime()).toBeGreaterThanOrEqual(at('2026-03-08T07:00:00Z'));
      expect(isInside(hours('02:30-05:00'), 'America/New_York', verdict.at.getTime())).toBe(true);
    }
  });

  it('keeps to the days of the week in the callee local calendar', () => {
    const h = hours('Mon-Fri 09:00-17:00');
    // Friday 2026-12-11 18:00 in Sydney (07:00 UTC): next is Monday 09:00 Sydney (AEDT, UTC+11) = Sunday 22:00 UTC.
    expect(later(nextCallingTime(h, ['Australia/Sydney'], at('2026-12-11T07:00:00Z')))).toBe('2026-12-13T22:00:00.000Z');
    // Sunday 22:30 UTC is Monday in Sydney: inside.
    expect(nextCallingTime(h, ['Australia/Sydney'], at('2026-12-13T22:30:00Z'))).toEqual({ kind: 'now' });
    // Several windows: the earliest opening of any of them.
    expect(later(nextCallingTime(hours('Mon-Fri 09:00-17:00, Sat 10:00-12:00'), ['UTC'], at('2026-12-11T18:00:00Z')))).toBe('2026-12-12T10:00:00.000Z');
  });

  it('with several possible zones, places only when inside the window in every one of them', () => {
    const h = hours('09:00-20:00');
    const zones = ['America/New_York', 'America/Los_Angeles'];
    // 15:00 UTC: 10:00 in New York but 07:00 in Los Angeles: wait for 09:00 in Los Angeles (PST) = 17:00 UTC.
    expect(later(nextCallingTime(h, zones, at('2026-12-07T15:00:00Z')))).toBe('2026-12-07T17:00:00.000Z');
    // 00:30 UTC: 16:30 in Los Angeles but 19:30... inside both; 01:00 UTC is 20:00 in New York: outside.
    expect(nextCallingTime(h, zones, at('2026-12-08T00:30:00Z'))).toEqual({ kind: 'now' });
    expect(later(nextCallingTime(h, zones, at('2026-12-08T01:00:00Z')))).toBe('2026-12-08T17:00:00.000Z');
  });

  it('answers never when no instant is inside the window in every zone (zones 13 hours apart, an 11-hour window)', () => {
    expect(nextCallingTime(hours('09:00-20:00'), ['America/New_York', 'Asia/Shanghai'], at('2026-12-07T12:00:00Z'))).toEqual({ kind: 'never' });
    expect(nextCallingTime(hours('always'), ['Pacific/Honolulu', 'Pacific/Guam'], at('2026-12-07T12:00:00Z'))).toEqual({ kind: 'now' });
  });
});
