import { describe, expect, it } from 'vitest';
import { analyseCall, speechOnsets } from './call-analysis.js';
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

  it('measures the greeting from media start and each caller turn from the end of its speech to the first agent audio', () => {
    const { turns } = analyseCall(timeline);
    expect(turns).toEqual([
      { turn: 'greeting', endedAtMs: 100, firstAudioMs: 300 },
      { turn: 1, endedAtMs: 2500, firstAudioMs: 240 },
      { turn: 2, endedAtMs: 6000, firstAudioMs: undefined },
    ]);
  });

  it("measures barge-in reaction from the caller's speech onset to StopAudio, and detection to speech_started", () => {
    const { bargeIns } = analyseCall(timeline, [200, 1200, 5000]);
    expect(bargeIns).toEqual([{ atMs: 1310, detectMs: 100, reactionMs: 110, droppedMs: 160 }]);
  });

  it('finds speech onsets after quiet, not within one burst', () => {
    const rate = 16000;
    const samples = concat([silence(500, rate), tone({ frequencyHz: 300, durationMs: 400, sampleRateHz: rate }), silence(100, rate), tone({ frequencyHz: 300, durationMs: 200, sampleRateHz: rate }), silence(600, rate), tone({ frequencyHz: 300, durationMs: 200, sampleRateHz: rate })]);
    expect(speechOnsets(samples, rate)).toEqual([500, 1800]);
  });
});
