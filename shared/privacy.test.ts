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
