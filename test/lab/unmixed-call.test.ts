import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLab, type Lab } from '../../lab/lab.js';
import { rms, tone } from '../../lab/audio/signal.js';
import type { EmulatedCall } from '../../lab/acs/emulator.js';

/** Amplitude (0..1) of one frequency in a frame (Goertzel). */
function level(frame: Int16Array, frequencyHz: number, sampleRateHz: number): number {
  const coefficient = 2 * Math.cos((2 * Math.PI * frequencyHz) / sampleRateHz);
  let previous = 0;
  let beforePrevious = 0;
  for (const sample of frame) {
    const current = sample / 32768 + coefficient * previous - beforePrevious;
    beforePrevious = previous;
    previous = current;
  }
  const power = previous * previous + beforePrevious * beforePrevious - coefficient * previous * beforePrevious;
  return (2 * Math.sqrt(Math.max(0, power))) / frame.length;
}

/**
 * A call answered with unmixed audio, through the whole lab: the Functions app asks ACS for `unmixed`, the emulator
 * streams the caller and a second participant as frames of their own, and the worker mixes them for Voice Live. The
 * echo agent plays back what it heard, so the caller hears whether the two voices reached it as one stream.
 */
describe('a call with unmixed audio through the local lab', () => {
  const RATE_HZ = 16000;
  let lab: Lab;
  let call: EmulatedCall;
  const heard: Int16Array[] = [];

  beforeAll(async () => {
    lab = await startLab({ logLevel: 'silent', audioFormat: 'pcm16KMono', audioChannel: 'unmixed', greeting: false });
    call = await lab.placeCall({ from: '+15550142424' });
    await call.waitFor('MediaStreamingStarted', 15_000);
    call.on('heard', (frame) => heard.push(frame));
  }, 30_000);
  afterAll(async () => lab?.close());

  it('is answered with audioChannelType unmixed', () => {
    const answer = lab.acs.requests.find((r) => r.path === '/calling/callConnections:answer');
    expect((answer?.body as { mediaStreamingOptions?: { audioChannelType?: string } }).mediaStreamingOptions?.audioChannelType).toBe('unmixed');
  });

  it('two people speaking at once reach the agent as one stream: its echo holds both voices in the same frames, at their length', async () => {
    call.say(tone({ frequencyHz: 300, durationMs: 600, sampleRateHz: RATE_HZ, amplitude: 0.25 }));
    call.say(tone({ frequencyHz: 700, durationMs: 600, sampleRateHz: RATE_HZ, amplitude: 0.25 }), { participantRawId: '4:+15550100077' });
    await call.waitFor('input_audio_buffer.speech_stopped', 10_000);
    await call.waitFor('response.done', 10_000);
    // The echo has reached the emulator; wait until the caller has heard all of it.
    await expect.poll(() => call.media?.queuedAgentMs, { timeout: 10_000 }).toBe(0);
    const loud = () => heard.filter((frame) => rms(frame) > 0.05);
    expect(loud().length).toBeGreaterThanOrEqual(25);

    const frames = loud();
    const both = frames.filter((frame) => level(frame, 300, RATE_HZ) > 0.1 && level(frame, 700, RATE_HZ) > 0.1);
    // Interleaved instead of mixed, the echo would be twice as long, each frame one voice.
    expect(frames.length).toBeLessThanOrEqual(36);
    expect(both.length).toBeGreaterThanOrEqual(frames.length - 2);
  });
});
