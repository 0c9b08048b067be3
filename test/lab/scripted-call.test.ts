import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLab, type Lab } from '../../lab/lab.js';
import { runScriptedCall, type ScriptedCallResult } from '../../lab/scripted-call.js';
import { renderCallReport } from '../../lab/call-report.js';
import { concat, rms, silence, tone } from '../../lab/audio/signal.js';
import { readWav, writeWav } from '../../lab/audio/wav.js';

/** What `npm run call` does, in-process: a caller WAV through the lab, the heard audio, the figures, the report. */
describe('a scripted call (npm run call)', () => {
  let lab: Lab;
  let result: ScriptedCallResult;

  beforeAll(async () => {
    lab = await startLab({ logLevel: 'silent', audioFormat: 'pcm16KMono' });
    // The caller talks over the greeting at 0.8 s, then waits for the echo of its own words.
    const rateHz = 8000;
    const caller = { sampleRateHz: rateHz, samples: concat([silence(800, rateHz), tone({ frequencyHz: 420, durationMs: 600, sampleRateHz: rateHz, amplitude: 0.4 }), silence(300, rateHz)]) };
    result = await runScriptedCall((o) => lab.placeCall(o), { caller: readWav(writeWav(caller)), quietMs: 600 });
  }, 40_000);
  afterAll(async () => lab?.close());

  it('plays the caller audio at the call rate and records what the caller heard in real time', () => {
    expect(result.sampleRateHz).toBe(16000);
    expect(result.caller.length).toBe(1.7 * 16000);
    expect(result.heard.length % 320).toBe(0);
    expect(rms(result.heard)).toBeGreaterThan(0.01);
    expect(result.call.state).toBe('disconnected');
  });

  it('reports the greeting, one caller turn with its time to first audio, and the barge-in over the greeting', () => {
    const { turns, bargeIns } = result.analysis;
    expect(turns.map((t) => t.turn)).toEqual(['greeting', 1]);
    expect(turns.every((t) => t.firstAudioMs !== undefined && t.firstAudioMs >= 0)).toBe(true);
    // The caller's turn is measured from when its speech really ended (when the last frame of the tone left),
    // which comes after its onset and before Voice Live's speech_stopped (that waits for the silence to end the
    // turn): the caller waits longer than the VAD-based figure says, by exactly that gap.
    const reply = turns[1]!;
    const onsetMs = result.analysis.bargeIns[0]!.atMs - result.analysis.bargeIns[0]!.reactionMs!;
    expect(reply.speechEndedAtMs).toBeDefined();
    expect(reply.speechEndedAtMs!).toBeGreaterThan(onsetMs);
    expect(reply.speechEndedAtMs!).toBeLessThan(reply.vadEndedAtMs);
    // (Each figure is rounded to the millisecond on its own: they may differ by one.)
    expect(Math.abs(reply.firstAudioMs! - reply.firstAudioAfterVadMs! - (reply.vadEndedAtMs - reply.speechEndedAtMs!))).toBeLessThanOrEqual(1);
    // On failure, the timeline says what happened (a loaded machine has surprised this test before).
    const timeline = JSON.stringify({ callerStartMs: result.callerStartMs, entries: result.call.timeline.entries.filter((e) => e.type !== 'agent-audio') });
    expect(bargeIns, timeline).toHaveLength(1);
    expect(bargeIns[0]!.reactionMs ?? -1, timeline).toBeGreaterThanOrEqual(0);
    expect(bargeIns[0]!.detectMs).toBeLessThanOrEqual(bargeIns[0]!.reactionMs!);
  });

  it('renders a one-page HTML report with the waveform picture and the timeline', () => {
    const html = renderCallReport({
      title: 'test call',
      sampleRateHz: result.sampleRateHz,
      caller: result.caller,
      callerStartMs: result.callerStartMs,
      agent: result.heard,
      agentStartMs: result.heardStartMs,
      timeline: result.call.timeline.entries,
      analysis: result.analysis,
    });
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain('<svg');
    expect(html).toContain('StopAudio');
    expect(html).toContain('CallDisconnected');
    expect(html).not.toMatch(/\+1555\d{7}/);
  });
});
