import { describe, expect, it } from 'vitest';
import { greeting, speak } from './greeting.js';
import { rms } from './audio/signal.js';

describe('offline spoken greeting', () => {
  it('is synthesised by eSpeak NG at the asked rate: seconds of audible speech, not a tone', async () => {
    const spoken = await greeting(24000);
    expect(spoken.source).toBe('espeak-ng');
    expect(spoken.sampleRateHz).toBe(24000);
    expect(spoken.samples.length / 24000).toBeGreaterThan(2);
    expect(spoken.samples.length / 24000).toBeLessThan(10);
    expect(rms(spoken.samples)).toBeGreaterThan(0.02);
  });

  it('is cached in memory per text and rate', async () => {
    const first = speak('Cached words.', 16000);
    expect(speak('Cached words.', 16000)).toBe(first);
    expect(speak('Cached words.', 8000)).not.toBe(first);
    expect((await first).samples.length).toBeGreaterThan(8000);
  });
});
