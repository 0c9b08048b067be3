import { describe, expect, it } from 'vitest';
import { boundText, closeFrameReason } from './bounded-text.js';

describe('boundText', () => {
  it('keeps text within the bound as it is', () => {
    expect(boundText('end_call', 64)).toBe('end_call');
  });

  it('cuts longer text visibly, saying how much was left out, never inside a surrogate pair', () => {
    expect(boundText('x'.repeat(300_000), 10)).toBe('xxxxxxxxxx… [299990 more characters]');
    const cut = boundText(`${'a'.repeat(9)}😀rest`, 10);
    expect(cut).toBe(`${'a'.repeat(9)}… [6 more characters]`);
  });
});

describe('closeFrameReason', () => {
  it('fits a WebSocket close frame (123 bytes of UTF-8), cut on a character boundary', () => {
    expect(closeFrameReason('agent ended the call: done')).toBe('agent ended the call: done');
    for (const reason of ['é'.repeat(200), '😀'.repeat(100), `agent ended the call: ${'ü'.repeat(500)}`]) {
      const cut = closeFrameReason(reason);
      expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(123);
      expect(cut.endsWith('…')).toBe(true);
      expect(cut).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
      expect(reason.startsWith(cut.slice(0, -1))).toBe(true);
    }
  });
});
