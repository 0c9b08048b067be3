import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startVoiceLivePeer, type VoiceLivePeer } from '../../lab/voice-live/peer.js';
import { startWorker, until, workerConfig, type RunningWorker } from './harness.js';

let peer: VoiceLivePeer | undefined;
let worker: RunningWorker | undefined;
const sockets: WebSocket[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.terminate();
  await worker?.close();
  await peer?.close();
  worker = peer = undefined;
});

/** An ACS-like media socket; `autoPong: false` makes it behave like the far end of a half-open connection. */
async function openCall(callId: string, options: { answersPings: boolean }): Promise<WebSocket> {
  const socket = new WebSocket(`${worker!.url}/ws/${callId}`, { autoPong: options.answersPings, perMessageDeflate: false });
  sockets.push(socket);
  await new Promise<void>((resolve, reject) => socket.once('open', resolve).once('error', reject));
  socket.send(JSON.stringify({ kind: 'AudioMetadata', audioMetadata: { subscriptionId: 's', encoding: 'PCM', sampleRate: 16000, channels: 1, length: 640 } }));
  return socket;
}

describe('ACS socket liveness', () => {
  it('ends a call whose ACS socket falls silent and answers no ping, and closes its Voice Live session', async () => {
    peer = await startVoiceLivePeer({ apiKey: 'lab-key' });
    worker = await startWorker(workerConfig(peer.url), { idleTimeoutMs: 300 });
    const socket = await openCall('half-open', { answersPings: false });
    let pings = 0;
    socket.on('ping', () => pings++);
    const session = await peer.nextSession();
    await session.waitFor('session.update');
    await until(() => worker!.server.calls.size === 0, 5000, 'silent call ended');
    await until(() => session.closed, 5000, 'Voice Live session closed');
    expect(pings).toBeGreaterThan(0);
    expect(worker.logs.some((line) => line.msg === 'nothing from ACS (no media, no pong); ending the call' && line.callId === 'half-open')).toBe(true);
  });

  it('keeps a quiet call whose ACS socket still answers pings', async () => {
    peer = await startVoiceLivePeer({ apiKey: 'lab-key' });
    worker = await startWorker(workerConfig(peer.url), { idleTimeoutMs: 300 });
    await openCall('quiet-but-there', { answersPings: true });
    await peer.nextSession();
    await new Promise((resolve) => setTimeout(resolve, 1200));
    expect(worker.server.calls.get('quiet-but-there')?.currentState).toBe('live');
  });
});
