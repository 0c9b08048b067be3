import { describe, expect, it } from 'vitest';
import { base64DecodedLength, base64ToInt16, bytesToInt16, bytesToMs, frameBytes, int16ToBase64 } from './pcm.js';

describe('pcm helpers', () => {
  it('round-trips samples through base64', () => {
    const samples = Int16Array.from([0, 1, -1, 32767, -32768]);
    expect(Array.from(base64ToInt16(int16ToBase64(samples)))).toEqual(Array.from(samples));
  });

  it('views bytes without copying when aligned, copies when not', () => {
    const bytes = new Uint8Array([1, 0, 2, 0, 3, 0]);
    expect(bytesToInt16(bytes).buffer).toBe(bytes.buffer);
    const odd = new Uint8Array(bytes.buffer, 1, 4);
    expect(Array.from(bytesToInt16(odd))).toEqual([0x0200, 0x0300]);
  });

  it('measures base64 without decoding and rejects what is not base64', () => {
    expect(base64DecodedLength(Buffer.alloc(640).toString('base64'))).toBe(640);
    expect(base64DecodedLength('AAA=')).toBe(2);
    expect(base64DecodedLength('AA==')).toBe(1);
    expect(base64DecodedLength('A$A=')).toBe(-1);
    expect(base64DecodedLength('AAAAA')).toBe(-1);
  });

  it('knows frame sizes and durations', () => {
    expect(frameBytes(16000)).toBe(640);
    expect(frameBytes(24000)).toBe(960);
    expect(bytesToMs(960, 24000)).toBe(20);
  });
});
