import { afterEach, describe, expect, it } from 'vitest';
import { startVoiceLivePeer, type VoiceLivePeer } from '../../lab/voice-live/index.js';
import { VoiceLiveClient } from '../../worker/voice-live/client.js';
import type { ServerEvent } from '../../worker/voice-live/events.js';
import { until } from './harness.js';

let peer: VoiceLivePeer | undefined;
let client: VoiceLiveClient | undefined;
afterEach(async () => {
  await client?.close('test over');
  await peer?.close();
});

describe('Voice Live session renewal and late caller transcripts', () => {
  it('waits for the transcript of the last caller turn before switching, so the new session and the record get the caller’s words', async () => {
    peer = await startVoiceLivePeer({ apiKey: 'test-key', sessionExpiresInMs: 2000 });
    client = new VoiceLiveClient({
      endpoint: peer.url,
      apiVersion: '2026-07-15',
      target: { kind: 'model', model: 'gpt-realtime' },
      auth: { apiKey: 'test-key' },
      session: {
        instructions: 'You are a phone agent.',
        voice: { type: 'azure-standard', name: 'en-US-Ava:DragonHDLatestNeural' },
        turnDetection: { type: 'azure_semantic_vad' },
        noiseSuppression: false,
        echoCancellation: false,
        transcription: { model: 'azure-speech' },
        inputRateHz: 16000,
        outputRateHz: 16000,
      },
      callId: 'call-1',
      renewBeforeExpiryMs: 1800,
      reconnect: { maxAttempts: 2, initialDelayMs: 10, maxDelayMs: 40 },
    });
    const events: ServerEvent[] = [];
    client.on('event', (e) => events.push(e));
    const replaced: string[] = [];
    client.on('session-replaced', ({ reason }) => replaced.push(reason));
    await client.connect();
    const first = await peer.nextSession();
    await first.waitFor('session.update');
    first.speechStarted();
    // The turn ends just before the replacement is ready; its transcript completes well after that.
    first.speechStopped({ transcript: 'My order number is 1001.', transcriptDelayMs: 600 });
    const second = await peer.nextSession();
    await second.waitFor('session.update');
    await new Promise((r) => setTimeout(r, 100));
    expect(replaced).toEqual([]);

    await until(() => replaced.length === 1, 3000, 'the switch');
    expect(events.some((e) => e.type === 'conversation.item.input_audio_transcription.completed')).toBe(true);
    await second.waitFor('conversation.item.create', (e) => (e.item as { role?: string }).role === 'user');
    // Without the ids the client gives replayed items (so a barge-in can later replace one).
    const items = second.received.filter((r) => r.type === 'conversation.item.create').map((r) => {
      const { id: _id, ...item } = r.event.item as Record<string, unknown>;
      return item;
    });
    expect(items).toEqual([{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'My order number is 1001.' }] }]);
  });
});
