import { afterEach, describe, expect, it } from 'vitest';
import { AcsMediaClient, AcsUpgradeError } from '../../lab/acs/media-client.js';
import { startAcsTokenIssuer, type AcsTokenIssuer } from '../../lab/acs-token-issuer.js';
import { startVoiceLivePeer, type VoiceLivePeer } from '../../lab/voice-live/peer.js';
import { patternPcm, startWorker, until, workerConfig, type RunningWorker } from './harness.js';

let peer: VoiceLivePeer | undefined;
let worker: RunningWorker | undefined;
let issuer: AcsTokenIssuer | undefined;
const clients: AcsMediaClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.socket.terminate();
  await worker?.close();
  await peer?.close();
  await issuer?.close();
  worker = undefined;
  issuer = undefined;
});

async function open(path: string, token?: string): Promise<AcsMediaClient> {
  const client = await AcsMediaClient.connect({ url: worker!.url + path, ...(token ? { token } : {}) });
  clients.push(client);
  return client;
}

const metricsText = async () => (await fetch(`${worker!.httpUrl}/metrics`)).text();

describe('bad input', () => {
  it('drops and counts each kind of bad input on one call while another call keeps flowing', async () => {
    peer = await startVoiceLivePeer({ apiKey: 'lab-key' });
    worker = await startWorker(workerConfig(peer.url, { maxMessageBytes: 8192 }));
    const bad = await open('/ws/bad-call');
    bad.sendMetadata(16000);
    const badSession = await peer.nextSession();
    const good = await open('/ws/good-call');
    good.sendMetadata(16000);
    const goodSession = await peer.nextSession();
    await until(() => worker!.server.calls.get('good-call')?.voiceLive?.isOpen === true && worker!.server.calls.get('bad-call')?.voiceLive?.isOpen === true, 3000, 'both open');

    const streaming = good.streamAudio(Buffer.concat(Array.from({ length: 25 }, (_, i) => patternPcm(640, i))), { realTime: true });
    const reply = goodSession.respondWithAudio(patternPcm(640 * 10, 3));
    bad.sendRaw('hello, not JSON');
    bad.sendRaw('[1,2,3]');
    bad.sendRaw('{"kind":"VideoData","videoData":{}}');
    bad.sendRaw(Buffer.from([0xde, 0xad, 0xbe, 0xef]), { binary: true });
    bad.sendRaw('{"kind":"AudioData","audioData":{"data":"@@@not base64@@@"}}');
    bad.sendRaw('{"kind":"AudioData","audioData":{"data":"AAAAAAA="}}');
    bad.sendRaw('{"kind":"AudioData","audioData":{"data":42}}');
    bad.sendRaw(Buffer.from(JSON.stringify({ kind: 'AudioData', audioData: { data: patternPcm(640).toString('base64') } })), { binary: true });
    bad.sendAudio(patternPcm(640, 77));
    await until(() => badSession.receivedAudioBytes() === 1280, 2000, 'the valid frames of the bad call');
    expect(bad.socket.readyState).toBe(bad.socket.OPEN);

    bad.sendRaw('x'.repeat(9000));
    const closed = await bad.closed;
    expect(closed.code).toBe(1009);

    await streaming;
    await reply;
    await until(() => goodSession.receivedAudioBytes() === 640 * 25, 2000, 'all good audio');
    await until(() => good.audioFrames().length === 10, 2000, 'good reply');
    expect(good.socket.readyState).toBe(good.socket.OPEN);

    const metrics = await metricsText();
    for (const reason of ['not_json', 'wrong_shape', 'unknown_kind', 'binary_not_json', 'invalid_base64', 'odd_byte_count', 'oversized']) {
      expect(metrics).toMatch(new RegExp(`worker_frames_dropped_total\\{reason="${reason}"\\} [1-9]`));
    }
    const warnings = worker.logs.filter((l) => l.level === 'warn' && String(l.msg).startsWith('dropped bad input'));
    expect(warnings.length).toBeGreaterThanOrEqual(1);
    expect(warnings.length).toBeLessThan(3);
    expect(warnings.every((w) => w.callId === 'bad-call')).toBe(true);
  });

  it('refuses audio before AudioMetadata and an unsupported rate', async () => {
    peer = await startVoiceLivePeer({ apiKey: 'lab-key' });
    worker = await startWorker(workerConfig(peer.url));
    const early = await open('/ws/early');
    early.sendAudio(patternPcm(640));
    await until(() => worker!.logs.some((l) => String(l.msg).includes('audio_before_metadata')), 2000, 'warning');
    const odd = await open('/ws/odd-rate');
    odd.sendRaw(JSON.stringify({ kind: 'AudioMetadata', audioMetadata: { encoding: 'PCM', sampleRate: 44100, channels: 1 } }));
    const closed = await odd.closed;
    expect(closed.code).toBe(1003);
    expect(peer.sessions).toHaveLength(0);
  });
});

describe('extensions', () => {
  it('hands DTMF to the hooks, and a hook that throws harms neither the call nor the process', async () => {
    peer = await startVoiceLivePeer({ apiKey: 'lab-key' });
    const tones: string[] = [];
    worker = await startWorker(workerConfig(peer.url), {
      hooksFor: () => ({
        onDtmf: (tone) => {
          tones.push(tone);
          throw new Error('tool blew up');
        },
      }),
    });
    const client = await open('/ws/dtmf');
    client.sendMetadata(16000);
    const session = await peer.nextSession();
    await until(() => worker!.server.calls.get('dtmf')?.voiceLive?.isOpen === true, 3000, 'open');
    client.sendRaw('{"kind":"DtmfData","dtmfData":{"data":"5"}}');
    client.sendAudio(patternPcm(640));
    await until(() => session.receivedAudioBytes() === 640, 2000, 'audio after the failing hook');
    expect(tones).toEqual(['5']);
    expect(worker.logs.some((l) => l.msg === 'call hook failed' && l.hook === 'onDtmf' && l.callId === 'dtmf')).toBe(true);
  });
});

describe('a silent socket', () => {
  it('is closed when AudioMetadata never comes, without opening Voice Live', async () => {
    peer = await startVoiceLivePeer({ apiKey: 'lab-key' });
    worker = await startWorker(workerConfig(peer.url), { metadataTimeoutMs: 100 });
    const idle = await open('/ws/idle');
    expect((await idle.closed).code).toBe(1008);
    expect(peer.sessions).toHaveLength(0);
    expect(worker.server.calls.size).toBe(0);
  });
});

describe('authentication of the media upgrade', () => {
  const audience = '6d5a3b2c-1111-4222-8333-444455556666';

  async function authedWorker() {
    issuer = await startAcsTokenIssuer({ audience });
    peer = await startVoiceLivePeer({ apiKey: 'lab-key' });
    worker = await startWorker(workerConfig(peer.url, { mediaAuth: { mode: 'acs', audience, issuer: issuer.issuer, jwksUrl: issuer.jwksUrl } }));
  }

  async function refusal(token?: string): Promise<number> {
    try {
      await open('/ws/auth-call', token);
    } catch (error) {
      if (error instanceof AcsUpgradeError) return error.status;
      throw error;
    }
    return 101;
  }

  it('answers 401 to a missing, expired, foreign-audience or unknown-key token, before any Voice Live connection', async () => {
    await authedWorker();
    expect(await refusal()).toBe(401);
    expect(await refusal(await issuer!.issue({ expiresInSeconds: -600 }))).toBe(401);
    expect(await refusal(await issuer!.issue({ audience: '00000000-0000-4000-8000-000000000000' }))).toBe(401);
    expect(await refusal(await issuer!.issueWithUnknownKey())).toBe(401);
    expect(await refusal('not.a.jwt')).toBe(401);
    await new Promise((r) => setTimeout(r, 50));
    expect(peer!.upgrades).toHaveLength(0);
    expect(worker!.server.calls.size).toBe(0);
    expect(await metricsText()).toMatch(/worker_upgrades_rejected_total\{reason="expired_token"\} 1/);
  });

  it('accepts the token ACS signs for this resource', async () => {
    await authedWorker();
    const client = await open('/ws/auth-call', await issuer!.issue());
    client.sendMetadata(16000);
    await peer!.nextSession();
    expect(worker!.server.calls.has('auth-call')).toBe(true);
  });
});

describe('health, readiness, metrics and drain', () => {
  it('serves health, readiness and Prometheus metrics', async () => {
    peer = await startVoiceLivePeer({ apiKey: 'lab-key' });
    worker = await startWorker(workerConfig(peer.url));
    expect((await fetch(`${worker.httpUrl}/healthz`)).status).toBe(200);
    expect((await fetch(`${worker.httpUrl}/readyz`)).status).toBe(200);
    expect((await fetch(`${worker.httpUrl}/nope`)).status).toBe(404);
    const client = await open('/ws/m');
    client.sendMetadata(16000);
    const session = await peer.nextSession();
    await until(() => worker!.server.calls.get('m')?.voiceLive?.isOpen === true, 3000, 'open');
    client.sendAudio(patternPcm(640));
    await until(() => session.receivedAudioBytes() === 640, 2000, 'audio relayed');
    const response = await fetch(`${worker.httpUrl}/metrics`);
    expect(response.headers.get('content-type')).toContain('text/plain');
    const text = await response.text();
    expect(text).toMatch(/worker_active_calls 1/);
    expect(text).toMatch(/worker_acs_frames_in_total 1/);
    for (const name of ['worker_acs_frames_out_total', 'worker_frames_dropped_total', 'worker_barge_ins_total', 'worker_voice_live_reconnects_total', 'worker_relay_latency_seconds_bucket']) {
      expect(text).toContain(name);
    }
  });

  it('on drain, turns unready and refuses new calls with 503 while live calls continue', async () => {
    peer = await startVoiceLivePeer({ apiKey: 'lab-key' });
    worker = await startWorker(workerConfig(peer.url));
    const live = await open('/ws/live');
    live.sendMetadata(16000);
    const session = await peer.nextSession();
    await until(() => worker!.server.calls.get('live')?.voiceLive?.isOpen === true, 3000, 'open');

    const drained = worker.server.drain(10_000);
    expect((await fetch(`${worker.httpUrl}/readyz`)).status).toBe(503);
    expect((await fetch(`${worker.httpUrl}/healthz`)).status).toBe(200);
    await expect(open('/ws/new')).rejects.toMatchObject({ status: 503 });

    live.sendAudio(patternPcm(640));
    await until(() => session.receivedAudioBytes() === 640, 2000, 'audio during drain');
    await session.respondWithAudio(patternPcm(640 * 2));
    await until(() => live.audioFrames().length === 2, 2000, 'agent audio during drain');

    await live.close();
    await expect(drained).resolves.toEqual({ endedByTimeout: 0 });
  });

  it('at MAX_CALLS turns unready and refuses new calls with 503, lets a call\'s own new socket in, and is ready again once a call ends', async () => {
    peer = await startVoiceLivePeer({ apiKey: 'lab-key' });
    worker = await startWorker(workerConfig(peer.url, { maxCalls: 2 }));
    const first = await open('/ws/cap-1');
    first.sendMetadata(16000);
    await peer.nextSession();
    expect((await fetch(`${worker.httpUrl}/readyz`)).status).toBe(200);
    const second = await open('/ws/cap-2');
    second.sendMetadata(16000);
    await peer.nextSession();
    await until(() => worker!.server.calls.size === 2, 3000, 'two calls');

    const ready = await fetch(`${worker.httpUrl}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.text()).toBe('at capacity');
    await expect(open('/ws/cap-3')).rejects.toMatchObject({ status: 503 });
    expect(await metricsText()).toMatch(/worker_upgrades_rejected_total\{reason="at_capacity"\} 1/);
    expect(worker.logs.some((l) => l.level === 'warn' && /at capacity/.test(String(l.msg)) && l.maxCalls === 2)).toBe(true);

    // ACS reconnecting the media of a call already here replaces that call's socket: not a new call.
    const again = await open('/ws/cap-2');
    again.sendMetadata(16000);
    await peer.nextSession();
    await until(() => second.socket.readyState === second.socket.CLOSED, 3000, 'old socket of cap-2 closed');
    expect(worker.server.calls.size).toBe(2);

    await first.close();
    await until(() => worker!.server.calls.size === 1, 3000, 'first call freed');
    expect((await fetch(`${worker.httpUrl}/readyz`)).status).toBe(200);
    const next = await open('/ws/cap-4');
    next.sendMetadata(16000);
    await peer.nextSession();
    await until(() => worker!.server.calls.has('cap-4'), 3000, 'a new call taken');
  });

  it('ends the calls still live when the drain timeout passes', async () => {
    peer = await startVoiceLivePeer({ apiKey: 'lab-key' });
    worker = await startWorker(workerConfig(peer.url));
    const live = await open('/ws/slow');
    live.sendMetadata(16000);
    await peer.nextSession();
    await until(() => worker!.server.calls.size === 1, 1000, 'call');
    await expect(worker.server.drain(100)).resolves.toEqual({ endedByTimeout: 1 });
    expect((await live.closed).code).toBe(1001);
  });
});
