import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startLab, type Lab } from '../../lab/lab.js';
import { rms, tone } from '../../lab/audio/signal.js';
import type { EmulatedCall } from '../../lab/acs/emulator.js';
import type { TimelineEntry } from '../../lab/acs/timeline.js';

/**
 * One whole call through the lab, every hop over real sockets on 127.0.0.1: Event Grid IncomingCall →
 * Functions (answer with the real CallAutomationClient) → ACS callbacks → media WebSocket (MEDIA_AUTH=acs)
 * → worker → Voice Live emulator → agent audio back → barge-in → hang-up → CallDisconnected → Service Bus.
 */
describe('a full call through the local lab', () => {
  let lab: Lab;
  let call: EmulatedCall;
  const heard: { atMs: number; level: number }[] = [];

  beforeAll(async () => {
    lab = await startLab({ logLevel: 'silent' });
    call = await lab.placeCall({ from: '+15550142424' });
    call.on('heard', (frame) => heard.push({ atMs: call.timeline.elapsedMs(), level: rms(frame) }));
  }, 30_000);
  afterAll(async () => lab?.close());

  const find = (source: TimelineEntry['source'], type: string) => call.timeline.entries.find((e) => e.source === source && e.type === type);
  const heardBetween = (fromMs: number, toMs: number) => heard.filter((h) => h.atMs >= fromMs && h.atMs < toMs && h.level > 0.01).length;

  it('delivers IncomingCall, is answered by the Functions app and gets the callbacks in ACS order, each accepted', async () => {
    await call.waitFor('MediaStreamingStarted', 15_000);
    expect(find('eventgrid', 'IncomingCall')?.detail?.status).toBe(200);
    const callbacks = call.timeline.entries.filter((e) => e.source === 'callback');
    expect(callbacks.map((e) => e.type)).toEqual(['CallConnected', 'ParticipantsUpdated', 'MediaStreamingStarted']);
    expect(callbacks.every((e) => e.detail?.status === 200)).toBe(true);
    expect(lab.acs.requests[0]).toMatchObject({ path: '/calling/callConnections:answer', status: 200 });
    expect(find('media', 'connected')?.detail?.sampleRateHz).toBe(24000);
  });

  it('plays the agent greeting to the caller through the worker', async () => {
    await call.timeline.waitFor((e) => e.type === 'agent-audio', 10_000, 'agent audio');
    await expect.poll(() => heardBetween(0, Infinity), { timeout: 5000 }).toBeGreaterThan(10);
    const transcript = await call.timeline.waitFor((e) => e.type === 'response.audio_transcript.done', 5000, 'greeting transcript');
    expect(transcript.detail?.transcript).toMatch(/local lab/);
  });

  it('stops the agent when the caller talks over it: speech_started, barge-in, StopAudio, then silence', async () => {
    call.say(tone({ frequencyHz: 300, durationMs: 700, sampleRateHz: 24000, amplitude: 0.4 }));
    const stop = await call.waitFor('StopAudio', 5000);
    const speech = find('voice-live', 'input_audio_buffer.speech_started')!;
    expect(speech).toBeDefined();
    expect(find('voice-live', 'barge-in')).toBeDefined();
    expect(stop.atMs).toBeGreaterThanOrEqual(speech.atMs);
    await new Promise((resolve) => setTimeout(resolve, 250));
    // Nothing of the interrupted greeting reaches the caller after StopAudio (one frame may be in flight).
    expect(heardBetween(stop.atMs + 25, stop.atMs + 250)).toBe(0);
  });

  it("answers the caller's turn with audio once the caller goes quiet", async () => {
    const stopped = await call.waitFor('input_audio_buffer.speech_stopped', 5000);
    await call.timeline.waitFor((e) => e.type === 'agent-audio' && e.atMs > stopped.atMs, 5000, 'agent audio after the turn');
    await expect.poll(() => heardBetween(stopped.atMs, Infinity), { timeout: 5000 }).toBeGreaterThan(10);
  });

  it('hangs up: MediaStreamingStopped and CallDisconnected reach the Functions app and the call ends', async () => {
    await call.hangUp();
    await expect(call.ended()).resolves.toBe('disconnected');
    const callbacks = call.timeline.entries.filter((e) => e.source === 'callback').map((e) => `${e.type}:${String(e.detail?.status)}`);
    expect(callbacks.slice(-2)).toEqual(['MediaStreamingStopped:200', 'CallDisconnected:200']);
    await call.timeline.waitFor((e) => e.source === 'voice-live' && e.type === 'session-ended', 5000, 'worker session end');
  });

  it('runs the worker with real ACS auth: a media socket without a signed token is refused', async () => {
    const refused = await new Promise<number>((resolve, reject) => {
      const socket = new WebSocket(`${lab.urls.worker}/ws/${call.callId}`, { headers: { 'x-ms-call-correlation-id': call.callId } });
      socket.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      socket.once('open', () => reject(new Error('the worker accepted an unauthenticated media socket')));
      socket.once('error', () => undefined);
    });
    expect(refused).toBe(401);
  });

  it("puts the call's events on call-events in its session, in causal order, ending with call.disconnected", async () => {
    await expect.poll(() => lab.busMessages(call.callId).map((m) => (m.body as { type: string }).type), { timeout: 10_000 }).toContain('call.disconnected');
    const messages = lab.busMessages(call.callId);
    const types = messages.map((m) => (m.body as { type: string }).type);
    expect(types).toEqual(expect.arrayContaining(['call.incoming', 'call.answered', 'call.connected', 'media.started', 'media.stopped', 'call.disconnected']));
    expect(types.at(-1)).toBe('call.disconnected');
    expect(types.indexOf('call.incoming')).toBeLessThan(types.indexOf('call.answered'));
    expect(types.indexOf('media.started')).toBeLessThan(types.indexOf('media.stopped'));
    expect(messages.every((m) => m.sessionId === call.callId)).toBe(true);
    expect(new Set(messages.map((m) => m.messageId)).size).toBe(messages.length);
  });

  it("publishes the call's record on call-records once it has ended", async () => {
    await call.timeline.waitFor((e) => e.source === 'bus' && e.type === 'call-record', 10_000, 'call record');
    const record = lab.serviceBus.messages('call-records').find((m) => (m.body as { callId?: string }).callId === call.callId);
    expect(record?.body).toMatchObject({ callId: call.callId, callConnectionId: call.callConnectionId });
  });
});
