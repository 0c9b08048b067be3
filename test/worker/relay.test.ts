import { afterEach, describe, expect, it } from 'vitest';
import { AcsMediaClient } from '../../lab/acs/media-client.js';
import { startVoiceLivePeer, type VoiceLivePeer } from '../../lab/voice-live/peer.js';
import { VoiceLiveClient } from '../../worker/voice-live/client.js';
import { patternPcm, startWorker, until, workerConfig, type RunningWorker } from './harness.js';

let peer: VoiceLivePeer | undefined;
let worker: RunningWorker | undefined;
const clients: AcsMediaClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.socket.terminate();
  await worker?.close();
  await peer?.close();
  worker = undefined;
  peer = undefined;
});

async function connect(path = '/ws/call-1', options: Partial<Parameters<typeof AcsMediaClient.connect>[0]> = {}): Promise<AcsMediaClient> {
  const client = await AcsMediaClient.connect({ url: worker!.url + path, callConnectionId: 'conn-1', correlationId: 'corr-1', ...options });
  clients.push(client);
  return client;
}

describe('media worker relay', () => {
  it('opens Voice Live at the call rate both ways and sends session.update first', async () => {
    peer = await startVoiceLivePeer({ apiKey: 'lab-key' });
    worker = await startWorker(workerConfig(peer.url));
    const client = await connect();
    client.sendMetadata(16000);
    const session = await peer.nextSession();
    const update = await session.waitFor('session.update');
    expect(session.received[0]!.type).toBe('session.update');
    expect(session.headers['api-key']).toBe('lab-key');
    const s = update.session as Record<string, unknown>;
    expect(s.input_audio_sampling_rate).toBe(16000);
    expect(s.output_audio_format).toBe('pcm16_16000hz');
    expect((s.turn_detection as { type: string }).type).toBe('azure_semantic_vad');
    expect(s.metadata).toEqual({ callId: 'call-1' });
  });

  it('in agent mode, names the agent and its project, authenticates with an Entra token and sends no instructions', async () => {
    peer = await startVoiceLivePeer({ acceptBearer: (token) => token === 'entra-token' });
    const credential = { getToken: async () => ({ token: 'entra-token', expiresOnTimestamp: Date.now() + 3_600_000 }) };
    worker = await startWorker(workerConfig(peer.url, {}, { apiKey: undefined, target: { kind: 'agent', agentName: 'receptionist', projectName: 'contoso' } }), { credential });
    const client = await connect();
    client.sendMetadata(24000);
    const session = await peer.nextSession();
    const update = await session.waitFor('session.update');
    expect(session.query.get('agent-name')).toBe('receptionist');
    expect(session.query.get('agent-project-name')).toBe('contoso');
    expect(session.query.has('model')).toBe(false);
    const s = update.session as Record<string, unknown>;
    expect(s.instructions).toBeUndefined();
    expect(s.input_audio_sampling_rate).toBe(24000);
    expect(s.output_audio_format).toBe('pcm16');
  });

  it('without an API key, authenticates to Voice Live with a Microsoft Entra token', async () => {
    const scopes: string[] = [];
    peer = await startVoiceLivePeer({ acceptBearer: (token) => token === 'entra-token' });
    worker = await startWorker(workerConfig(peer.url, {}, { apiKey: undefined }), {
      credential: {
        getToken: async (scope: string | string[]) => {
          scopes.push(...[scope].flat());
          return { token: 'entra-token', expiresOnTimestamp: Date.now() + 3_600_000 };
        },
      },
    });
    const client = await connect();
    client.sendMetadata(16000);
    const session = await peer.nextSession();
    await session.waitFor('session.update');
    expect(session.headers.authorization).toBe('Bearer entra-token');
    expect(session.headers['api-key']).toBeUndefined();
    expect(scopes).toContain('https://ai.azure.com/.default');
  });

  it('passes caller audio, silent frames included, to Voice Live without re-encoding it', async () => {
    peer = await startVoiceLivePeer({ apiKey: 'lab-key' });
    const appended: string[] = [];
    worker = await startWorker(workerConfig(peer.url), {
      createVoiceLiveClient: (options) => {
        const client = new VoiceLiveClient(options);
        const append = client.appendAudio.bind(client);
        client.appendAudio = (base64: string) => (appended.push(base64), append(base64));
        return client;
      },
    });
    const client = await connect();
    client.sendMetadata(16000);
    const session = await peer.nextSession();
    await session.waitFor('session.update');
    await until(() => worker!.server.calls.get('call-1')?.voiceLive?.isOpen === true, 3000, 'Voice Live open');
    const sent: string[] = [];
    for (let i = 0; i < 10; i++) {
      const frame = i % 3 === 0 ? Buffer.alloc(640) : patternPcm(640, i);
      sent.push(frame.toString('base64'));
      client.sendAudio(frame, { silent: i % 3 === 0 });
    }
    await until(() => session.receivedAudioBytes() >= 6400, 3000, 'audio at the peer');
    expect(appended).toEqual(sent);
    expect(session.receivedAudioBytes()).toBe(6400);
  });

  it('plays agent audio to ACS in exact 20 ms frames with identical bytes', async () => {
    peer = await startVoiceLivePeer({ apiKey: 'lab-key', audioChunkMs: 50 });
    worker = await startWorker(workerConfig(peer.url));
    const client = await connect();
    client.sendMetadata(16000);
    const session = await peer.nextSession();
    await session.waitFor('session.update');
    await until(() => worker!.server.calls.get('call-1')?.voiceLive?.isOpen === true, 3000, 'Voice Live open');
    const agent = patternPcm(640 * 10 + 200, 9);
    await session.respondWithAudio(agent);
    await until(() => client.audioFrames().length === 11, 3000, 'eleven frames');
    const frames = client.audioFrames().map((m) => Buffer.from(m.base64, 'base64'));
    expect(frames.every((f) => f.length === 640)).toBe(true);
    const received = Buffer.concat(frames);
    expect(received.subarray(0, agent.length)).toEqual(agent);
    expect(received.subarray(agent.length).every((b) => b === 0)).toBe(true);
  });

  it('paces agent audio: never more than the lead ahead of real time', async () => {
    peer = await startVoiceLivePeer({ apiKey: 'lab-key' });
    worker = await startWorker(workerConfig(peer.url, { playoutLeadMs: 100 }));
    const client = await connect();
    client.sendMetadata(16000);
    const session = await peer.nextSession();
    await session.waitFor('session.update');
    await until(() => worker!.server.calls.get('call-1')?.voiceLive?.isOpen === true, 3000, 'Voice Live open');
    await session.respondWithAudio(patternPcm(640 * 25, 3)); // 500 ms, delivered faster than real time
    await until(() => client.audioFrames().length === 25, 3000, 'all frames');
    const frames = client.audioFrames();
    const start = frames[0]!.at;
    frames.forEach((f, i) => {
      const aheadMs = (i + 1) * 20 - (f.at - start);
      expect(aheadMs).toBeLessThanOrEqual(100 + 20);
    });
    expect(frames.at(-1)!.at - start).toBeGreaterThan(500 - 100 - 40);
  });

  it('resamples both ways when VOICE_LIVE_AUDIO_RATE differs from the call', async () => {
    peer = await startVoiceLivePeer({ apiKey: 'lab-key' });
    worker = await startWorker(workerConfig(peer.url, {}, { audioRateHz: 24000 }));
    const client = await connect();
    client.sendMetadata(16000);
    const session = await peer.nextSession();
    const update = await session.waitFor('session.update');
    const s = update.session as Record<string, unknown>;
    expect(s.input_audio_sampling_rate).toBe(24000);
    expect(s.output_audio_format).toBe('pcm16');
    await until(() => worker!.server.calls.get('call-1')?.voiceLive?.isOpen === true, 3000, 'Voice Live open');
    for (let i = 0; i < 50; i++) client.sendAudio(patternPcm(640, i));
    await until(() => session.receivedAudioBytes() >= 960 * 50 - 960, 3000, 'resampled audio');
    expect(Math.abs(session.receivedAudioBytes() - 960 * 50)).toBeLessThanOrEqual(960);
    // 200 ms of a 24 kHz tone comes back as 10 frames of 16 kHz.
    const tone = new Int16Array(4800).map((_, i) => Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 24000)));
    await session.respondWithAudio(tone);
    await until(() => client.audioFrames().length >= 10, 3000, 'frames');
    await new Promise((r) => setTimeout(r, 100));
    expect(client.audioFrames().every((m) => Buffer.from(m.base64, 'base64').length === 640)).toBe(true);
    expect(client.audioFrames().length).toBeGreaterThanOrEqual(10);
    expect(client.audioFrames().length).toBeLessThanOrEqual(11);
  });

  it('on a hang-up, closes Voice Live and frees the call', async () => {
    peer = await startVoiceLivePeer({ apiKey: 'lab-key' });
    worker = await startWorker(workerConfig(peer.url));
    const client = await connect();
    client.sendMetadata(16000);
    const session = await peer.nextSession();
    await session.waitFor('session.update');
    await client.close();
    await until(() => session.closed, 5000, 'Voice Live closed');
    await until(() => worker!.server.calls.size === 0, 5000, 'call freed');
  });

  it('when Voice Live drops, reconnects, keeps the ACS socket and feeds the new session', async () => {
    peer = await startVoiceLivePeer({ apiKey: 'lab-key' });
    worker = await startWorker(workerConfig(peer.url));
    const client = await connect();
    client.sendMetadata(16000);
    const first = await peer.nextSession();
    await first.waitFor('session.update');
    first.drop(1011, 'server hiccup');
    const second = await peer.nextSession();
    await second.waitFor('session.update');
    await until(() => worker!.server.calls.get('call-1')?.voiceLive?.isOpen === true, 3000, 'reconnected');
    for (let i = 0; i < 5; i++) client.sendAudio(patternPcm(640, i));
    await until(() => second.receivedAudioBytes() === 3200, 3000, 'audio in the new session');
    expect(client.socket.readyState).toBe(client.socket.OPEN);
    const metrics = await (await fetch(`${worker.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/worker_voice_live_reconnects_total\{reason="reconnect"\} 1/);
  });

  it('when Voice Live is gone for good, ends the call with a clear reason', async () => {
    peer = await startVoiceLivePeer({ apiKey: 'lab-key' });
    worker = await startWorker(workerConfig(peer.url));
    const client = await connect();
    client.sendMetadata(16000);
    const first = await peer.nextSession();
    await first.waitFor('session.update');
    peer.refuseNextUpgrades(503, 10);
    first.drop(1011, 'gone');
    const closed = await client.closed;
    expect(closed.code).toBe(1011);
    expect(closed.reason).toMatch(/Voice Live/);
    expect(worker.logs.some((l) => l.callId === 'call-1' && String(l.msg).includes('Voice Live session ended'))).toBe(true);
    await until(() => worker!.server.calls.size === 0, 1000, 'call freed');
  });

  it('names the call from the path, else the correlation header, and keeps the connection id', async () => {
    peer = await startVoiceLivePeer({ apiKey: 'lab-key' });
    worker = await startWorker(workerConfig(peer.url));
    await connect('/ws/from-path');
    await connect('/ws', { correlationId: 'from-header' });
    await until(() => worker!.server.calls.size === 2, 1000, 'two calls');
    expect(worker.server.calls.get('from-path')?.callConnectionId).toBe('conn-1');
    expect(worker.server.calls.has('from-header')).toBe(true);
  });
});
