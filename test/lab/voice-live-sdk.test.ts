// The official @azure/ai-voicelive client judges the Voice Live emulator: a whole session, and every event the
// emulator sends must reach the client parsed (the SDK turns an event it cannot parse into an `error` event
// with code MessageParsingError, and silently drops events of a type it does not know).
import { AzureKeyCredential } from '@azure/core-auth';
import { VoiceLiveClient, type VoiceLiveSession } from '@azure/ai-voicelive';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { int16ToBuffer, tone } from '../../lab/voice-live/audio.js';
import { startVoiceLivePeer, type PeerSession, type VoiceLivePeer } from '../../lab/voice-live/peer.js';

interface Judged {
  session: VoiceLiveSession;
  peerSession: PeerSession;
  events: { type: string; event: Record<string, unknown> }[];
  serverErrors: { code?: string; message?: string; param?: string; eventId?: string }[];
  clientErrors: unknown[];
  responsesDone: Record<string, unknown>[];
  next(type: string, predicate?: (event: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
}

let peer: VoiceLivePeer | undefined;
let sdkSession: VoiceLiveSession | undefined;
const savedProxy: Record<string, string | undefined> = {};

beforeEach(() => {
  // The SDK routes even ws://127.0.0.1 through HTTP(S)_PROXY and ignores NO_PROXY.
  for (const name of ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy']) {
    savedProxy[name] = process.env[name];
    delete process.env[name];
  }
});

afterEach(async () => {
  await sdkSession?.dispose().catch(() => undefined);
  sdkSession = undefined;
  await peer?.close();
  peer = undefined;
  for (const [name, value] of Object.entries(savedProxy)) if (value !== undefined) process.env[name] = value;
});

const RATE_HZ = 16000;
const pcm = (samples: Int16Array): Uint8Array => new Uint8Array(int16ToBuffer(samples));

async function judge(): Promise<Judged> {
  peer = await startVoiceLivePeer({ mode: 'echo-agent', apiKey: 'lab-key', audioChunkMs: 20, lateTranscriptFraction: 0.5, seed: 7 });
  const client = new VoiceLiveClient(peer.url, new AzureKeyCredential('lab-key'));
  const session = client.createSession({ model: 'gpt-realtime' });
  sdkSession = session;
  const events: Judged['events'] = [];
  const serverErrors: Judged['serverErrors'] = [];
  const clientErrors: unknown[] = [];
  const responsesDone: Record<string, unknown>[] = [];
  const wake: (() => void)[] = [];
  session.subscribe({
    onServerEvent: async (event) => {
      events.push({ type: event.type, event: event as unknown as Record<string, unknown> });
      // The typed handler (onResponseDone, onServerError) runs after this one: wake the waiters after it.
      setImmediate(() => {
        for (const w of wake.splice(0)) w();
      });
    },
    onServerError: async (event) => {
      const error = event.error as { code?: string; message?: string; param?: string; eventId?: string };
      serverErrors.push(error);
    },
    onError: async (error) => {
      clientErrors.push(error);
    },
    onResponseDone: async (event) => {
      responsesDone.push(event.response as unknown as Record<string, unknown>);
    },
  });
  await session.connect();
  const peerSession = await peer.nextSession();
  const next: Judged['next'] = (type, predicate, timeoutMs = 5000) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`SDK saw no ${type}; saw ${events.map((e) => e.type).join(', ')}`)), timeoutMs);
      const check = (): void => {
        const found = events.find((e) => e.type === type && (!predicate || predicate(e.event)));
        if (found) {
          clearTimeout(timer);
          resolve(found.event);
        } else wake.push(check);
      };
      check();
    });
  return { session, peerSession, events, serverErrors, clientErrors, responsesDone, next };
}

/** Every event the emulator sent reached the SDK's handlers, parsed, and none was a parse error. */
async function expectEverythingParsed(j: Judged): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 100));
  expect(j.serverErrors.filter((e) => e.code === 'MessageParsingError')).toEqual([]);
  expect(j.clientErrors).toEqual([]);
  const seen: Record<string, number> = {};
  for (const { type } of j.events) seen[type] = (seen[type] ?? 0) + 1;
  expect(seen).toEqual(j.peerSession.sentEventCounts());
}

describe('the Voice Live emulator, judged by the official @azure/ai-voicelive client', () => {
  it('runs a whole session: configuration, greeting, caller audio and echo reply, function call round trip, cancel, barge-in', async () => {
    const j = await judge();
    const { session, peerSession } = j;
    await j.next('session.created');

    // Configuration (the SDK serialises camelCase to the documented snake_case wire form).
    await session.updateSession({
      modalities: ['text', 'audio'],
      instructions: 'You are the lab agent. Keep answers short; this is a phone call. '.repeat(20),
      voice: { type: 'azure-standard', name: 'en-US-Ava:DragonHDLatestNeural', temperature: 0.8 },
      inputAudioFormat: 'pcm16',
      inputAudioSamplingRate: RATE_HZ,
      outputAudioFormat: 'pcm16_16000hz',
      turnDetection: { type: 'server_vad', prefixPaddingInMs: 100, silenceDurationInMs: 200 },
      inputAudioTranscription: { model: 'azure-speech' },
      tools: [{ type: 'function', name: 'lookup_order', description: 'Finds an order.', parameters: { type: 'object', properties: { id: { type: 'string' } } } }],
      toolChoice: 'auto',
    });
    const updated = await j.next('session.updated');
    expect(updated.session).toMatchObject({ inputAudioSamplingRate: RATE_HZ, outputAudioFormat: 'pcm16_16000hz', inputAudioTranscription: { model: 'azure-speech' } });

    // Greeting.
    await session.sendEvent({ type: 'response.create' });
    await j.next('response.done');
    expect(j.responsesDone).toHaveLength(1);

    // Caller audio: VAD, transcript (late or early), the echo agent's reply.
    await session.sendAudio(pcm(new Int16Array(RATE_HZ * 0.2)));
    await session.sendAudio(pcm(tone(RATE_HZ, 500)));
    await session.sendAudio(pcm(new Int16Array(RATE_HZ * 0.4)));
    const started = await j.next('input_audio_buffer.speech_started');
    const stopped = await j.next('input_audio_buffer.speech_stopped');
    expect(started.audioStartInMs).toBe(200 - 100);
    expect(stopped.audioEndInMs).toBe(700 + 200);
    await j.next('conversation.item.input_audio_transcription.completed');
    await j.next('response.done', () => j.responsesDone.length === 2);

    // Function call round trip.
    const { callId } = await peerSession.callFunction('lookup_order', { id: 'A-17' });
    const args = await j.next('response.function_call_arguments.done');
    expect(args).toMatchObject({ callId, name: 'lookup_order', arguments: '{"id":"A-17"}' });
    await session.addConversationItem({ type: 'function_call_output', callId, output: JSON.stringify({ status: 'shipped' }) });
    const outputItem = await j.next('conversation.item.created', (e) => (e.item as { type?: string }).type === 'function_call_output');
    expect(outputItem.item).toMatchObject({ callId });
    await j.next('response.done', () => j.responsesDone.length === 3);
    await session.sendEvent({ type: 'response.create' });
    await j.next('response.done', () => j.responsesDone.length === 4);

    // Cancel.
    const long = peerSession.respondWithAudio(tone(RATE_HZ, 3000), { transcript: 'A long answer the caller will not hear.', realTime: true });
    await j.next('response.audio.delta', (e) => e.responseId !== undefined && j.responsesDone.length === 4);
    await session.sendEvent({ type: 'response.cancel' });
    await long;
    await j.next('response.done', () => j.responsesDone.length === 5);
    expect(j.responsesDone[4]).toMatchObject({ status: 'cancelled', statusDetails: { type: 'cancelled', reason: 'client_cancelled' } });

    // Barge-in: the caller speaks during a response; the service cancels it.
    const talking = peerSession.respondWithAudio(tone(RATE_HZ, 3000), { transcript: 'Another long answer.', realTime: true });
    await j.next('response.created', () => j.responsesDone.length === 5);
    await session.sendAudio(pcm(tone(RATE_HZ, 300)));
    await session.sendAudio(pcm(new Int16Array(RATE_HZ * 0.4)));
    await talking;
    await j.next('response.done', () => j.responsesDone.length >= 6);
    expect(j.responsesDone[5]).toMatchObject({ status: 'cancelled', statusDetails: { reason: 'turn_detected' } });
    await j.next('response.done', () => j.responsesDone.length === 7);

    // Every response.done reached onResponseDone with usage in the documented shape.
    for (const response of j.responsesDone) {
      expect(response.usage).toMatchObject({
        totalTokens: expect.any(Number),
        inputTokenDetails: { cachedTokens: expect.any(Number), textTokens: expect.any(Number), audioTokens: expect.any(Number), cachedTokensDetails: expect.any(Object) },
        outputTokenDetails: { textTokens: expect.any(Number), audioTokens: expect.any(Number) },
      });
    }
    const last = j.responsesDone.at(-1)!.usage as { inputTokenDetails: { cachedTokens: number; textTokens: number; audioTokens: number } };
    expect(last.inputTokenDetails.cachedTokens).toBeGreaterThan(0);
    expect(last.inputTokenDetails.textTokens).toBeGreaterThan(0);
    expect(last.inputTokenDetails.audioTokens).toBeGreaterThan(0);
    await expectEverythingParsed(j);
  });

  it('reports the errors the service sends as parsed error events: a second response.create, an invalid session.update, a cancel with nothing active', async () => {
    const j = await judge();
    const { session, peerSession } = j;
    await j.next('session.created');
    await session.updateSession({ inputAudioSamplingRate: RATE_HZ, outputAudioFormat: 'pcm16_16000hz' });
    await j.next('session.updated');

    const first = peerSession.respondWithAudio(tone(RATE_HZ, 1000), { transcript: 'Hello.', realTime: true });
    await j.next('response.created');
    await session.sendEvent({ type: 'response.create' });
    await j.next('error');
    await first;
    await j.next('response.done');
    expect(j.responsesDone).toEqual([expect.objectContaining({ status: 'completed' })]);

    // The SDK's own types allow 11025; the service (and so the emulator) refuses it.
    await session.updateSession({ inputAudioSamplingRate: 11025 });
    await j.next('error', () => j.serverErrors.length === 2);
    await session.sendEvent({ type: 'response.cancel' });
    await j.next('error', () => j.serverErrors.length === 3);

    expect(j.serverErrors.map((e) => e.code)).toEqual(['conversation_already_has_active_response', 'invalid_value', 'response_cancel_not_active']);
    expect(j.serverErrors[1]).toMatchObject({ param: 'session.input_audio_sampling_rate' });
    expect(peerSession.session).toMatchObject({ input_audio_sampling_rate: RATE_HZ });
    await expectEverythingParsed(j);
  });
});
