import { afterEach, describe, expect, it } from 'vitest';
import { startVoiceLivePeer, type VoiceLivePeer } from '../../lab/voice-live/index.js';
import { VoiceLiveClient, VoiceLiveError } from '../../worker/voice-live/client.js';

let peer: VoiceLivePeer | undefined;
let client: VoiceLiveClient | undefined;
afterEach(async () => {
  await client?.close('test over');
  await peer?.close();
});

describe('a session.update Voice Live refuses', () => {
  it('fails the connection with SESSION_UPDATE_REJECTED naming the field, and is not retried', async () => {
    peer = await startVoiceLivePeer({ apiKey: 'test-key' });
    client = new VoiceLiveClient({
      endpoint: peer.url,
      apiVersion: '2026-07-15',
      target: { kind: 'model', model: 'gpt-realtime' },
      auth: { apiKey: 'test-key' },
      session: {
        instructions: 'You are a phone agent.',
        // A typo in VOICE_LIVE_VOICE_NAME: not an Azure voice name.
        voice: { type: 'azure-standard', name: 'Ava Dragon HD' },
        turnDetection: { type: 'azure_semantic_vad' },
        noiseSuppression: false,
        echoCancellation: false,
        inputRateHz: 16000,
        outputRateHz: 16000,
      },
      callId: 'call-1',
      reconnect: { maxAttempts: 3, initialDelayMs: 10, maxDelayMs: 40 },
    });
    const error = await client.connect().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(VoiceLiveError);
    expect((error as VoiceLiveError).code).toBe('SESSION_UPDATE_REJECTED');
    expect((error as VoiceLiveError).message).toMatch(/voice/i);
    expect(peer.upgrades.filter((u) => u.status === 101)).toHaveLength(1);
  });
});
