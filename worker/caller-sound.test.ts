import { describe, expect, it } from 'vitest';
import { tone } from '../lab/acs/outbound.js';
import { CALLER_SOUND_RMS, CallerSoundWatch } from './caller-sound.js';

const frame = (samples: Int16Array) => Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength).toString('base64');

describe('caller sound watch', () => {
  it('counts quiet from the last frame above the threshold (a beep counts, silence and hiss do not) and detaches when stopped', () => {
    let now = 1000;
    let stopped: CallerSoundWatch | undefined;
    const watch = new CallerSoundWatch((w) => (stopped = w), () => now);
    now += 500;
    watch.push(frame(new Int16Array(480)));
    expect(watch.quietForMs()).toBe(500);
    watch.push(frame(tone(24000, 1000, 20)));
    expect(watch.quietForMs()).toBe(0);
    now += 300;
    // Line hiss well under the threshold.
    watch.push(frame(tone(24000, 3000, 20, CALLER_SOUND_RMS / 4)));
    expect(watch.quietForMs()).toBe(300);
    watch.stop();
    expect(stopped).toBe(watch);
    watch.push(frame(tone(24000, 1000, 20)));
    expect(watch.quietForMs()).toBe(300);
  });
});
