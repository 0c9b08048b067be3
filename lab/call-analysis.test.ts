import { describe, expect, it } from 'vitest';
import { analyseCall, formatTurnLatencies, speechEnds, speechOnsets } from './call-analysis.js';
import type { TimelineEntry } from './acs/timeline.js';
import { concat, silence, tone } from './audio/signal.js';

const at = (atMs: number, source: TimelineEntry['source'], type: string, detail?: Record<string, unknown>): TimelineEntry => ({ atMs, source, type, ...(detail ? { detail } : {}) });

describe('call analysis', () => {
  const timeline = [
    at(100, 'media', 'connected'),
    at(400, 'media', 'agent-audio'),
    at(1300, 'voice-live', 'input_audio_buffer.speech_started'),
    at(1310, 'media', 'StopAudio', { droppedMs: 160 }),
    at(2500, 'voice-live', 'input_audio_buffer.speech_stopped'),
    at(2740, 'media', 'agent-audio'),
    at(6000, 'voice-live', 'input_audio_buffer.speech_stopped'),
  ];

  it('measures the greeting from media start, and each caller turn from the real end of its speech with the VAD-based figure beside it', () => {
    // The caller stopped speaking at 1900 and 5400; Voice Live's speech_stopped came 600 ms later.
    const { turns } = analyseCall(timeline, [], [1900, 5400]);
    expect(turns).toEqual([
      { turn: 'greeting', speechEndedAtMs: 100, firstAudioMs: 300, vadEndedAtMs: 100, firstAudioAfterVadMs: 300 },
      { turn: 1, speechEndedAtMs: 1900, firstAudioMs: 840, vadEndedAtMs: 2500, firstAudioAfterVadMs: 240 },
      { turn: 2, speechEndedAtMs: 5400, firstAudioMs: undefined, vadEndedAtMs: 6000, firstAudioAfterVadMs: undefined },
    ]);
    expect(formatTurnLatencies(turns)[1]).toBe("  1         840 ms from the end of the caller's speech (VAD-based: 240 ms from speech_stopped)");
  });

  it('leaves the caller figure out for a turn with no speech end of its own (the VAD heard something else)', () => {
    const { turns } = analyseCall(timeline, [], [1900]);
    expect(turns[2]).toMatchObject({ turn: 2, speechEndedAtMs: undefined, firstAudioMs: undefined });
  });

  it("measures barge-in reaction from the caller's speech onset to StopAudio, and detection to speech_started", () => {
    const { bargeIns } = analyseCall(timeline, [200, 1200, 5000]);
    expect(bargeIns).toEqual([{ atMs: 1310, detectMs: 100, reactionMs: 110, droppedMs: 160 }]);
  });

  it('finds speech onsets after quiet, not within one burst', () => {
    const rate = 16000;
    const samples = concat([silence(500, rate), tone({ frequencyHz: 300, durationMs: 400, sampleRateHz: rate }), silence(100, rate), tone({ frequencyHz: 300, durationMs: 200, sampleRateHz: rate }), silence(600, rate), tone({ frequencyHz: 300, durationMs: 200, sampleRateHz: rate })]);
    expect(speechOnsets(samples, rate)).toEqual([500, 1800]);
    // The 100 ms gap does not end the first burst; the audio's end ends the last one.
    expect(speechEnds(samples, rate)).toEqual([1200, 2000]);
  });
});
