import { describe, expect, it } from 'vitest';
import { maskPhoneNumber, maskPhoneNumbersIn } from './privacy.js';

describe('phone number masking', () => {
  it('keeps the country prefix and last two digits of an E.164 number', () => {
    expect(maskPhoneNumber('+14255550123')).toBe('+14*******23');
  });
  it('understands ACS raw ids', () => {
    expect(maskPhoneNumber('4:+442071234567')).toBe('+44********67');
  });
  it('shortens ACS user ids to a tail', () => {
    expect(maskPhoneNumber('8:acs:1234-abcd')).toBe('8:acs:…abcd');
  });
  it('masks numbers inside free text and leaves short numbers alone', () => {
    const text = maskPhoneNumbersIn('call from +1 (425) 555-0123 lasted 42 s');
    expect(text).not.toContain('555-0123');
    expect(text).toContain('lasted 42 s');
  });
});

describe('phone number masking in free text leaves ids, times and addresses readable', () => {
  it('keeps call ids (GUIDs) whole', () => {
    const text = 'callId 12345678-1234-4234-8234-123456789012 and a1b2c3d4-0000-1111-2222-333344445555';
    expect(maskPhoneNumbersIn(text)).toBe(text);
  });
  it('keeps ISO dates and times and IPv4 addresses whole', () => {
    const text = 'at 2024-05-01T12:34:56.789Z (2024-05-01) from 10.100.200.150';
    expect(maskPhoneNumbersIn(text)).toBe(text);
  });
  it('keeps identifiers whose characters happen to include a run of digits whole (Voice Live item ids)', () => {
    const text = 'cut item_43726586 and item_3e55be97, response resp_1234567890ab';
    expect(maskPhoneNumbersIn(text)).toBe(text);
  });
  it('masks a number wherever it starts a token: after a colon, an equals sign, a space or a slash', () => {
    const text = maskPhoneNumbersIn('4:+14255550123 sip:+14255550124@x to=14255550125 /+14255550126');
    expect(text).toBe('4:+14*******23 sip:+14*******24@x to=14*******25 /+14*******26');
  });
  it('still masks a number next to them', () => {
    const text = maskPhoneNumbersIn('call 12345678-1234-4234-8234-123456789012 to +14255550123 at 2024-05-01T12:34:56Z');
    expect(text).toBe('call 12345678-1234-4234-8234-123456789012 to +14*******23 at 2024-05-01T12:34:56Z');
  });
});
