import { afterEach, describe, expect, it } from 'vitest';
import { AcsMediaClient } from '../../lab/acs/media-client.js';
import { startVoiceLivePeer, type PeerSession, type VoiceLivePeer } from '../../lab/voice-live/peer.js';
import type { PlayoutTimers } from '../../worker/playout.js';
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

/** Timers that fire only when the test says so: which frames go out together depends on arrival order alone. */
class HeldTimers implements PlayoutTimers {
  private pending = new Map<number, () => void>();
  private nextId = 1;
  now = (): number => performance.now();
  setTimer = (callback: () => void, _delayMs: number): unknown => {
    const id = this.nextId++;
    this.pending.set(id, callback);
    return id;
  };
  clearTimer = (handle: unknown): void => {
    this.pending.delete(handle as number);
  };
  fireAll(): void {
    const due = [...this.pending.values()];
    this.pending.clear();
    for (const callback of due) callback();
  }
}

const A = '4:+15550100001';
const B = '8:acs:6f1b3d2a-9c4e-4b7a-8e21-5d0c7a9f4b13_00000020-0000-0000-0000-000000000002';

/** The saturating int16 sum of equal-length PCM16 frames. */
function mixed(...frames: Buffer[]): Buffer {
  const out = Buffer.alloc(frames[0]!.length);
  for (let i = 0; i < out.length; i += 2) {
    const sum = frames.reduce((total, f) => total + f.readInt16LE(i), 0);
    out.writeInt16LE(Math.max(-32768, Math.min(32767, sum)), i);
  }
  return out;
}

/** A worker whose Voice Live client also records, as base64, each chunk it appends (what the peer receives). */
async function start(options: { timers?: PlayoutTimers; audioRateHz?: 16000 | 24000; channel?: 'mixed' | 'unmixed' } = {}) {
  peer = await startVoiceLivePeer({ apiKey: 'lab-key' });
  const appended: string[] = [];
  worker = await startWorker(workerConfig(peer.url, { mediaAudioChannel: options.channel ?? 'unmixed' }, options.audioRateHz ? { audioRateHz: options.audioRateHz } : {}), {
    ...(options.timers ? { timers: options.timers } : {}),
    createVoiceLiveClient: (clientOptions) => {
      const client = new VoiceLiveClient(clientOptions);
      const append = client.appendAudio.bind(client);
      client.appendAudio = (base64: string) => (appended.push(base64), append(base64));
      return client;
    },
  });
  const client = await AcsMediaClient.connect({ url: `${worker.url}/ws/call-1`, callConnectionId: 'conn-1', correlationId: 'call-1' });
  clients.push(client);
  client.sendMetadata(16000);
  const session: PeerSession = await peer.nextSession();
  await session.waitFor('session.update');
  await until(() => worker!.server.calls.get('call-1')?.voiceLive?.isOpen === true, 3000, 'Voice Live open');
  return { client, session, appended };
}

const metricsText = async () => (await fetch(`${worker!.httpUrl}/metrics`)).text();

/** Retries an async assertion until it holds (at most `timeoutMs`), then rethrows its last failure. */
async function eventually(assertion: () => Promise<void>, timeoutMs = 3000): Promise<void> {
  const start = Date.now();
  for (;;) {
    try {
      return await assertion();
    } catch (error) {
      if (Date.now() - start > timeoutMs) throw error;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}

describe('unmixed media streaming: the worker mixes the speakers into one stream for Voice Live', () => {
  it('two speakers\' interleaved frames reach Voice Live as one stream: each frame time summed (saturating), one frame each', async () => {
    const timers = new HeldTimers();
    const { client, session, appended } = await start({ timers });
    const a = Array.from({ length: 10 }, (_, k) => patternPcm(640, 100 + k));
    const b = Array.from({ length: 10 }, (_, k) => (k === 4 ? Buffer.alloc(640) : patternPcm(640, 200 + k)));

    client.sendAudio(a[0]!, { participantRawId: A });
    await until(() => appended.length === 1, 3000, 'the first frame');
    // Then B joins; from here on ACS sends each frame time's frames back to back.
    client.sendAudio(b[0]!, { participantRawId: B });
    client.sendUnmixed([
      { participantRawId: A, frames: a.slice(1) },
      { participantRawId: B, frames: b.slice(1) },
    ]);
    // A's frame before anyone else was heard, B's first frame (its phase not yet known), then the sums.
    const expected = [a[0]!, b[0]!, ...a.slice(1).map((frame, k) => mixed(frame, b[k + 1]!))];
    await until(() => session.receivedAudioBytes() >= expected.length * 640, 3000, 'the mixed stream at Voice Live');
    expect(session.receivedAudioBytes()).toBe(11 * 640);
    expect(appended.map((text) => Buffer.from(text, 'base64'))).toEqual(expected);
    // B's silent frame adds nothing: that frame time is A's own frame, unchanged.
    expect(appended[5]).toBe(a[4]!.toString('base64'));

    // A speaks on, B does not: A's frame waits for B's at most until the hold timer, then goes out alone.
    client.sendAudio(a[0]!, { participantRawId: A });
    await until(() => (timers.fireAll(), appended.length === 12), 3000, 'the held frame');
    expect(appended[11]).toBe(a[0]!.toString('base64'));
    await until(() => session.receivedAudioBytes() === 12 * 640, 3000, 'the held frame at Voice Live');
  });

  it('with real timers, a frame whose partner never comes still reaches Voice Live', async () => {
    const { client, session } = await start();
    client.sendAudio(patternPcm(640, 1), { participantRawId: A });
    client.sendAudio(patternPcm(640, 2), { participantRawId: B });
    await until(() => session.receivedAudioBytes() === 2 * 640, 3000, 'both first frames');
    client.sendAudio(patternPcm(640, 3), { participantRawId: A });
    await until(() => session.receivedAudioBytes() === 3 * 640, 3000, 'the frame held for B, sent alone');
  });

  it('mixes before resampling: a 16 kHz call with two speakers reaches a 24 kHz session as one stream of the mixed length', async () => {
    const { client, session } = await start({ timers: new HeldTimers(), audioRateHz: 24000 });
    const frames = (seed: number) => Array.from({ length: 50 }, (_, k) => patternPcm(640, seed + k));
    client.sendUnmixed([
      { participantRawId: A, frames: frames(1) },
      { participantRawId: B, frames: frames(100) },
    ]);
    // A's first frame and B's first frame alone, then 49 sums: 51 frames of 20 ms.
    await until(() => session.receivedAudioBytes() >= 960 * 51 - 960, 3000, 'resampled mixed audio');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(Math.abs(session.receivedAudioBytes() - 960 * 51)).toBeLessThanOrEqual(960);
  });

  it('drops the frames of a fifth simultaneous speaker and counts them', async () => {
    const { client, session } = await start({ timers: new HeldTimers() });
    const speakers = [A, B, '4:+15550100003', '4:+15550100004', '4:+15550100005'];
    client.sendUnmixed(speakers.map((participantRawId, i) => ({ participantRawId, frames: [patternPcm(640, i), patternPcm(640, 10 + i)] })));
    // First frames: each of the four goes out as it is first heard; the second frame time is one mix of four.
    await until(() => session.receivedAudioBytes() === 5 * 640, 3000, 'four first frames and one mix');
    await eventually(async () => expect(await metricsText()).toMatch(/worker_frames_dropped_total\{reason="too_many_participants"\} 2\b/));
    expect(worker!.logs.some((l) => String(l.msg).includes('dropped bad input: too_many_participants'))).toBe(true);
  });

  it('mixed audio (one participant) passes through byte-exact, silent frames included, and no mixer is made', async () => {
    const { client, session, appended } = await start();
    const sent: string[] = [];
    for (let i = 0; i < 10; i++) {
      const frame = i % 3 === 0 ? Buffer.alloc(640) : patternPcm(640, i);
      sent.push(frame.toString('base64'));
      client.sendAudio(frame, { silent: i % 3 === 0, participantRawId: A });
    }
    await until(() => session.receivedAudioBytes() === 6400, 3000, 'audio at the peer');
    expect(appended).toEqual(sent);
    expect(worker!.logs.some((l) => String(l.msg).includes('mixing'))).toBe(false);
  });

  it('a worker set to mixed audio never mixes, even when consecutive frames name different participants', async () => {
    const { client, session, appended } = await start({ channel: 'mixed' });
    // Should ACS name the dominant speaker in mixed frames, each frame is still the call's one stream.
    const frames = Array.from({ length: 8 }, (_, k) => patternPcm(640, 60 + k));
    frames.forEach((frame, k) => client.sendAudio(frame, { participantRawId: k % 2 === 0 ? A : B }));
    await until(() => session.receivedAudioBytes() === 8 * 640, 3000, 'audio at the peer');
    expect(appended).toEqual(frames.map((f) => f.toString('base64')));
    expect(worker!.logs.some((l) => String(l.msg).includes('mixing'))).toBe(false);
  });

  it('mixed audio without participantRawID passes through byte-exact too', async () => {
    const { client, session, appended } = await start();
    const frames = [patternPcm(640, 40), Buffer.alloc(640), patternPcm(640, 41)];
    frames.forEach((frame, i) => client.sendAudio(frame, { participantRawId: null, silent: i === 1 }));
    await until(() => session.receivedAudioBytes() === 3 * 640, 3000, 'audio at the peer');
    expect(appended).toEqual(frames.map((f) => f.toString('base64')));
    expect(worker!.logs.some((l) => String(l.msg).includes('mixing'))).toBe(false);
  });
});
