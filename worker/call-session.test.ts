import { afterEach, describe, expect, it } from 'vitest';
import { AcsMediaClient } from '../lab/acs/media-client.js';
import { startVoiceLivePeer, type VoiceLivePeer } from '../lab/voice-live/peer.js';
import { patternPcm, startWorker, until, workerConfig, type RunningWorker } from '../test/worker/harness.js';

let peer: VoiceLivePeer | undefined;
let worker: RunningWorker | undefined;
let client: AcsMediaClient | undefined;

afterEach(async () => {
  client?.socket.terminate();
  await worker?.close();
  await peer?.close();
  client = worker = peer = undefined;
});

async function call(rateHz: 16000 | 24000) {
  peer = await startVoiceLivePeer({ apiKey: 'lab-key' });
  worker = await startWorker(workerConfig(peer.url));
  client = await AcsMediaClient.connect({ url: `${worker.url}/ws/session-test` });
  client.sendMetadata(rateHz);
  const session = await peer.nextSession();
  await until(() => worker!.server.calls.get('session-test')?.voiceLive?.isOpen === true, 3000, 'Voice Live open');
  const delta = (audio: string) => session.send({ type: 'response.audio.delta', response_id: 'resp_1', item_id: 'item_1', output_index: 0, content_index: 0, delta: audio });
  return { session, delta };
}

describe('CallSession agent audio (same rate both sides: relayed as base64 text)', () => {
  it('plays deltas of any size byte for byte, in 20 ms frames, at 16 and 24 kHz', async () => {
    for (const rateHz of [16000, 24000] as const) {
      const { session, delta } = await call(rateHz);
      const frameBytes = (rateHz / 50) * 2;
      const audio = patternPcm(frameBytes * 7 + 100, rateHz);
      // One frame, three frames and a bit, a sliver, the rest: frames cut from the text and frames assembled.
      const cuts = [0, frameBytes, frameBytes * 4 + 50, frameBytes * 4 + 52, audio.length];
      for (let i = 1; i < cuts.length; i++) delta(audio.subarray(cuts[i - 1], cuts[i]).toString('base64'));
      session.send({ type: 'response.audio.done', response_id: 'resp_1', item_id: 'item_1', output_index: 0, content_index: 0 });
      await until(() => client!.audioFrames().length === 8, 3000, 'eight frames');
      expect(client!.audioFrames().every((f) => Buffer.from(f.base64, 'base64').length === frameBytes)).toBe(true);
      const received = client!.receivedAudio();
      expect(received.subarray(0, audio.length).equals(audio)).toBe(true);
      expect(received.subarray(audio.length).every((b) => b === 0)).toBe(true);
      client!.socket.terminate();
      await worker!.close();
      await peer!.close();
      client = worker = peer = undefined;
    }
  });

  it('drops and counts a delta that is not base64, or of an odd byte count, and plays the rest', async () => {
    const { delta } = await call(16000);
    const frame = patternPcm(640, 9);
    delta('@@@not base64@@@');
    delta('AA==');
    delta(frame.toString('base64'));
    await until(() => client!.audioFrames().length === 1, 3000, 'the valid frame');
    expect(client!.receivedAudio().equals(frame)).toBe(true);
    const metrics = await (await fetch(`${worker!.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/worker_frames_dropped_total\{reason="invalid_base64"\} 1\b/);
    expect(metrics).toMatch(/worker_frames_dropped_total\{reason="odd_byte_count"\} 1\b/);
    expect(client!.socket.readyState).toBe(client!.socket.OPEN);
  });
});
