import { describe, expect, it } from 'vitest';
import { SIP_HEADER_VALUE_MAX, sipHeaderValue } from './call-automation.js';

const ALLOWED = /^[A-Za-z0-9=;.!%*_+~-]*$/;

describe('sipHeaderValue', () => {
  it.each([
    'wants to talk about a refund',
    "Zoë's café (Paris): order #1001 & a question?",
    'line one\nline two\ttabbed',
    '日本語のお客様',
  ])('keeps only the characters ACS allows in a SIP header value, and decodes back to the text: %s', (text) => {
    const value = sipHeaderValue(text);
    expect(value).toMatch(ALLOWED);
    expect(decodeURIComponent(value)).toBe(text.replace(/\s+/g, ' ').trim());
  });

  it('cuts a long text to 256 characters without splitting an escape or a multi-byte character', () => {
    for (const text of ['a b '.repeat(200), 'é'.repeat(200), `${'x'.repeat(254)}é and more`]) {
      const value = sipHeaderValue(text);
      expect(value.length).toBeLessThanOrEqual(SIP_HEADER_VALUE_MAX);
      expect(value).toMatch(ALLOWED);
      expect(text.replace(/\s+/g, ' ').startsWith(decodeURIComponent(value))).toBe(true);
      expect(value.length).toBeGreaterThan(SIP_HEADER_VALUE_MAX - 9);
    }
  });
});
