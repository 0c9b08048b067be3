import { describe, expect, it } from 'vitest';
import type { ServerEvent } from '../voice-live/events.js';
import { CallRecordCollector, mergeCallRecords } from './collector.js';
import { addUsage, emptyUsage, priceCall } from './cost.js';
import { toCallRecordBusMessage } from '../../shared/call-record.js';

const prices = { currency: 'USD', audioInputPer1M: 40, audioOutputPer1M: 80, textInputPer1M: 5, textOutputPer1M: 20, cachedInputPer1M: 2.5, callPerMinute: 0.02 };
const ev = (e: Record<string, unknown>) => e as unknown as ServerEvent;
const ids = { response_id: 'r1', item_id: 'a1', output_index: 0, content_index: 0 };

function collector(recordTranscripts = true) {
  let now = Date.parse('2026-01-05T10:00:00.000Z');
  const c = new CallRecordCollector({ callId: 'call-1', recordTranscripts, prices, now: () => now });
  return { c, advance: (ms: number) => (now += ms) };
}

const facts = { reason: 'ACS socket closed (1000)', framesIn: 10, framesOut: 5, bargeIns: 1, voiceLiveReconnects: 2, framesDropped: 3 };

describe('call record collector', () => {
  it('orders caller and agent words by when they were spoken and measures time to first agent audio per turn', () => {
    const { c, advance } = collector();
    c.onVoiceLiveEvent(ev({ type: 'input_audio_buffer.speech_started', audio_start_ms: 0, item_id: 'u1' }));
    advance(1000);
    c.onVoiceLiveEvent(ev({ type: 'input_audio_buffer.speech_stopped', audio_end_ms: 1000, item_id: 'u1' }));
    advance(700);
    c.onVoiceLiveEvent(ev({ type: 'response.audio.delta', ...ids, delta: 'AAAA' }));
    advance(50);
    c.onVoiceLiveEvent(ev({ type: 'response.audio.delta', ...ids, delta: 'AAAA' }));
    // The caller's transcription arrives after the agent started: it still comes first.
    c.onVoiceLiveEvent(ev({ type: 'conversation.item.input_audio_transcription.completed', item_id: 'u1', transcript: 'Hello?' }));
    c.onBargeIn('a1', 40.4);
    c.onVoiceLiveEvent(ev({ type: 'response.audio_transcript.done', ...ids, transcript: 'Hi, how can' }));
    advance(250);
    const record = c.build(facts);
    expect(record.transcript).toEqual([
      { role: 'caller', text: 'Hello?', at: '2026-01-05T10:00:00.000Z' },
      { role: 'agent', text: 'Hi, how can', at: '2026-01-05T10:00:01.700Z', interrupted: true, heardMs: 40 },
    ]);
    expect(record.turns).toEqual([{ callerStoppedAt: '2026-01-05T10:00:01.000Z', timeToFirstAgentAudioMs: 700 }]);
    expect(record).toMatchObject({ durationMs: 2000, outcome: { kind: 'caller_hung_up' }, bargeIns: 1, voiceLiveReconnects: 2, framesDropped: 3 });
  });

  it('keeps no words when transcripts are off, and the first outcome set wins', () => {
    const { c } = collector(false);
    c.onVoiceLiveEvent(ev({ type: 'conversation.item.input_audio_transcription.completed', item_id: 'u1', transcript: 'secret' }));
    c.setOutcome('transferred', 'wanted a person');
    c.setOutcome('caller_hung_up', 'call disconnected');
    c.setParties('+14155550101', '8:acs:resource_user-1234');
    const record = c.build(facts);
    expect(record.transcript).toBeNull();
    expect(record.outcome).toEqual({ kind: 'transferred', reason: 'wanted a person' });
    expect(record.from).toBe('+14*******01');
    expect(record.to).toBe('8:acs:…1234');
  });
});

describe('failed and incomplete responses in the record', () => {
  const responseDone = (id: string, status: string, statusDetails: unknown) =>
    ev({ type: 'response.done', response: { id, status, status_details: statusDetails, usage: { total_tokens: 1 } } });

  it('counts failed and incomplete responses with their reasons, not completed or cancelled ones', () => {
    const { c, advance } = collector();
    c.onVoiceLiveEvent(responseDone('r1', 'completed', null));
    c.onVoiceLiveEvent(responseDone('r2', 'cancelled', { type: 'cancelled', reason: 'turn_detected' }));
    advance(100);
    c.onVoiceLiveEvent(responseDone('r3', 'failed', { type: 'failed', error: { type: 'server_error', code: 'internal_error', message: 'Boom.' } }));
    advance(100);
    c.onVoiceLiveEvent(responseDone('r4', 'incomplete', { type: 'incomplete', reason: 'content_filter' }));
    c.onVoiceLiveEvent(responseDone('r5', 'failed', { type: 'failed' }));
    expect(c.build(facts).failedResponses).toEqual({
      count: 3,
      list: [
        { at: '2026-01-05T10:00:00.100Z', status: 'failed', reason: 'internal_error' },
        { at: '2026-01-05T10:00:00.200Z', status: 'incomplete', reason: 'content_filter' },
        { at: '2026-01-05T10:00:00.200Z', status: 'failed', reason: 'unknown' },
      ],
    });
  });

  it('lists at most 20 but counts them all, also across the parts of a call whose media socket was replaced', () => {
    const { c } = collector();
    for (let i = 0; i < 25; i++) c.onVoiceLiveEvent(responseDone(`r${i}`, 'incomplete', { type: 'incomplete', reason: 'max_output_tokens' }));
    const record = c.build(facts);
    expect(record.failedResponses!.count).toBe(25);
    expect(record.failedResponses!.list).toHaveLength(20);
    const { failedResponses: _dropped, ...older } = record;
    expect(mergeCallRecords(older, record, prices).failedResponses!.count).toBe(25);
    expect(mergeCallRecords(record, record, prices).failedResponses).toMatchObject({ count: 50, list: expect.any(Array) });
    expect(mergeCallRecords(record, record, prices).failedResponses!.list).toHaveLength(20);
    expect(mergeCallRecords(older, older, prices)).not.toHaveProperty('failedResponses');
  });
});

describe('the call recording in the record', () => {
  it('keeps the furthest state whatever order the events came in, and the id once known', () => {
    const { c } = collector();
    expect(c.build(facts)).not.toHaveProperty('recording');
    c.setRecording({ recordingId: 'rec-1', state: 'active' }); // ACS's callback overtook our own request's message
    c.setRecording({ recordingId: 'rec-1', state: 'requested' });
    expect(c.build(facts).recording).toEqual({ recordingId: 'rec-1', state: 'active' });
    c.setRecording({ state: 'failed', reason: 'storage unreachable' });
    expect(c.build(facts).recording).toEqual({ recordingId: 'rec-1', state: 'failed', reason: 'storage unreachable' });
  });

  it('merges the recording of the two parts of a call whose media socket was replaced', () => {
    const { c } = collector();
    const without = c.build(facts);
    c.setRecording({ recordingId: 'rec-1', state: 'stopped' });
    const stopped = c.build(facts);
    expect(mergeCallRecords(stopped, without, prices).recording).toEqual({ recordingId: 'rec-1', state: 'stopped' });
    expect(mergeCallRecords(without, without, prices)).not.toHaveProperty('recording');
  });

  it("names the call's agent profile, also when its media socket was replaced; none for the default agent", () => {
    const profiled = new CallRecordCollector({ callId: 'call-1', profile: 'sales', recordTranscripts: true, prices }).build(facts);
    const plain = collector().c.build(facts);
    expect(profiled.profile).toBe('sales');
    expect(plain).not.toHaveProperty('profile');
    expect(mergeCallRecords(profiled, plain, prices).profile).toBe('sales');
    expect(mergeCallRecords(plain, profiled, prices).profile).toBe('sales');
  });
});

describe('usage and cost', () => {
  it('adds response.done usage by modality, and counts totals without a breakdown as text', () => {
    const usage = emptyUsage();
    addUsage(usage, { total_tokens: 30, input_tokens: 10, output_tokens: 20, input_token_details: { audio_tokens: 8, text_tokens: 2, cached_tokens: 1 }, output_token_details: { audio_tokens: 15, text_tokens: 5 } });
    addUsage(usage, { total_tokens: 7, input_tokens: 4, output_tokens: 3 });
    addUsage(usage, null);
    expect(usage).toEqual({ responses: 3, audioTokensIn: 8, textTokensIn: 6, cachedTokensIn: 1, cachedAudioTokensIn: 0, audioTokensOut: 15, textTokensOut: 8, totalTokens: 37 });
  });

  it('keeps the audio share of cached input as Voice Live reports it, and prices it as audio that was cached', () => {
    const usage = emptyUsage();
    addUsage(usage, {
      total_tokens: 1300,
      input_tokens: 1200,
      output_tokens: 100,
      input_token_details: { cached_tokens: 600, text_tokens: 200, audio_tokens: 1000, image_tokens: 0, cached_tokens_details: { text_tokens: 100, audio_tokens: 500, image_tokens: 0 } },
      output_token_details: { text_tokens: 20, audio_tokens: 80 },
    });
    expect(usage).toMatchObject({ cachedTokensIn: 600, cachedAudioTokensIn: 500 });
    const cost = priceCall(usage, 0, prices);
    // text in (200-100)*5 + audio in (1000-500)*40 + cached 600*2.5 + text out 20*20 + audio out 80*80, per million
    expect(cost.tokens).toBeCloseTo((100 * 5 + 500 * 40 + 600 * 2.5 + 20 * 20 + 80 * 80) / 1_000_000, 9);
  });

  it('prices tokens per million (cached input at the cached rate) and call minutes pro rata', () => {
    const usage = { responses: 1, audioTokensIn: 1_000_000, textTokensIn: 200_000, cachedTokensIn: 100_000, audioTokensOut: 500_000, textTokensOut: 100_000, totalTokens: 0 };
    const cost = priceCall(usage, 90_000, prices);
    // text in 100k*5 + audio in 1M*40 + cached 100k*2.5 + text out 100k*20 + audio out 500k*80, per million
    expect(cost.tokens).toBeCloseTo(0.5 + 40 + 0.25 + 2 + 40, 6);
    expect(cost.callMinutes).toBe(1.5);
    expect(cost.minutes).toBeCloseTo(0.03, 6);
    expect(cost.total).toBeCloseTo(82.78, 6);
    expect(cost.rates).toMatchObject({ callPerMinute: 0.02 });
  });
  it('keeps a dropped response (the model answering a voicemail greeting) out of the transcript and the turns', () => {
    const { c, advance } = collector();
    c.onVoiceLiveEvent(ev({ type: 'input_audio_buffer.speech_stopped', audio_end_ms: 1000, item_id: 'u1' }));
    c.onResponseDropped('r1');
    advance(300);
    c.onVoiceLiveEvent(ev({ type: 'response.audio.delta', ...ids, delta: 'AAAA' }));
    c.onVoiceLiveEvent(ev({ type: 'response.audio_transcript.done', ...ids, transcript: 'You' }));
    const record = c.build(facts);
    expect(record.transcript).toEqual([]);
    expect(record.turns).toEqual([{ callerStoppedAt: '2026-01-05T10:00:00.000Z', timeToFirstAgentAudioMs: null }]);
  });

  it('records an outbound call as a person unless a voicemail was reported, and a voicemail stays one across a hand-over', () => {
    const first = collector().c;
    first.setOutbound({ attempt: 2 });
    expect(first.build(facts).outbound).toEqual({ outcome: 'human', attempt: 2 });
    first.setOutbound({ outcome: 'voicemail', recognisedMs: 4000 });
    const earlier = first.build(facts);
    expect(toCallRecordBusMessage(earlier).applicationProperties.outboundOutcome).toBe('voicemail');

    // The next worker starts out assuming a person; what the first one learnt wins.
    const next = collector().c;
    next.setOutbound({});
    next.inherit(earlier);
    expect(next.outboundSoFar).toEqual({ outcome: 'voicemail', attempt: 2, recognisedMs: 4000 });
    next.setOutbound({ voicemailMessage: 'left', hungUpMs: 9000 });
    expect(next.build(facts).outbound).toEqual({ outcome: 'voicemail', attempt: 2, recognisedMs: 4000, voicemailMessage: 'left', hungUpMs: 9000 });
    expect(collector().c.build(facts)).not.toHaveProperty('outbound');
  });
});
