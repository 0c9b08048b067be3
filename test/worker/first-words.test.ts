import { afterEach, describe, expect, it } from 'vitest';
import { AcsMediaClient } from '../../lab/acs/media-client.js';
import { startVoiceLivePeer, type VoiceLivePeer } from '../../lab/voice-live/peer.js';
import { patternPcm, startWorker, until, workerConfig, type RunningWorker } from './harness.js';

let peer: VoiceLivePeer | undefined;
let worker: RunningWorker | undefined;
const clients: AcsMediaClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.socket.terminate();
  await worker?.close();
  await peer?.close();
  worker = undefined;
});

const FRAME_BYTES = 640; // 20 ms at 16 kHz

const metricsText = async () => (await fetch(`${worker!.httpUrl}/metrics`)).text();

/** A call whose first Voice Live upgrades are refused (503), so the session opens only on a retry. */
async function slowOpeningCall(callId: string, refusals = 1): Promise<AcsMediaClient> {
  peer = await startVoiceLivePeer({ apiKey: 'lab-key' });
  peer.refuseNextUpgrades(503, refusals);
  worker = await startWorker(workerConfig(peer.url));
  const client = await AcsMediaClient.connect({ url: `${worker.url}/ws/${callId}` });
  clients.push(client);
  client.sendMetadata(16000);
  return client;
}

describe('caller audio before the Voice Live session is open', () => {
  it('is held and sent, all of it, once the session opens: the caller’s first words are not lost', async () => {
    const client = await slowOpeningCall('call-hello');
    // "Hello?" at once: 25 frames (500 ms) while the worker is still opening Voice Live.
    for (let i = 0; i < 25; i++) client.sendAudio(patternPcm(FRAME_BYTES, i + 1));
    const session = await peer!.nextSession();
    await until(() => session.receivedAudioBytes() >= 25 * FRAME_BYTES, 3000, 'held audio');
    expect(peer!.upgrades.map((u) => u.status)).toEqual([503, 101]);
    // Held audio is the first thing appended after the session is configured.
    const types = session.received.map((r) => r.type);
    expect(types.indexOf('input_audio_buffer.append')).toBe(types.indexOf('session.update') + 1);
    client.sendAudio(patternPcm(FRAME_BYTES, 99));
    await until(() => session.receivedAudioBytes() === 26 * FRAME_BYTES, 3000, 'live audio after the held audio');
    expect(await metricsText()).not.toContain('reason="voice_live_not_ready"');
  });

  it('keeps at most the newest 3 s and counts what overflowed as dropped', async () => {
    const client = await slowOpeningCall('call-long-wait', 2);
    // 4 s of speech before the session opens: 200 frames; 150 fit.
    for (let i = 0; i < 200; i++) client.sendAudio(patternPcm(FRAME_BYTES, i + 1));
    const session = await peer!.nextSession();
    await until(() => session.receivedAudioBytes() >= 150 * FRAME_BYTES, 3000, 'held audio');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(session.receivedAudioBytes()).toBe(150 * FRAME_BYTES);
    client.socket.close();
    await until(() => worker!.server.calls.size === 0, 3000, 'call ended');
    expect(await metricsText()).toContain('worker_frames_dropped_total{reason="voice_live_not_ready"} 50');
  });
});
