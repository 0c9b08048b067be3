import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { AcsMediaClient } from '../../lab/acs/media-client.js';
import { startVoiceLivePeer, type PeerSession, type VoiceLivePeer } from '../../lab/voice-live/peer.js';
import { createLogger } from '../../shared/log.js';
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

const CALLER_NUMBER = '+44 20 7946 0958';
const AGENT_NUMBER = '+1 415 555 0101';

/** A worker logging at `level` into memory: the lines as objects, and as the raw text they were written as. */
async function startLoggingWorker(level: 'debug' | 'info'): Promise<{ lines: Record<string, unknown>[]; text: () => string }> {
  const raw: string[] = [];
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) {
        if (!line.trim()) continue;
        raw.push(line);
        lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  peer = await startVoiceLivePeer({ apiKey: 'lab-key', audioChunkMs: 20 });
  worker = await startWorker(workerConfig(peer.url), { logger: createLogger({ component: 'worker', level, destination }) });
  return { lines, text: () => raw.join('\n') };
}

async function startCall(): Promise<{ client: AcsMediaClient; session: PeerSession }> {
  const client = await AcsMediaClient.connect({ url: `${worker!.url}/ws/call-1`, callConnectionId: 'conn-1', correlationId: 'call-1' });
  clients.push(client);
  client.sendMetadata(16000);
  const session = await peer!.nextSession();
  await session.waitFor('session.update');
  await until(() => worker!.server.calls.get('call-1')?.voiceLive?.isOpen === true, 3000, 'Voice Live open');
  return { client, session };
}

/** A caller turn with a phone number in it, then an agent answer of 25 deltas (500 ms) with another. */
async function converse(client: AcsMediaClient, session: PeerSession): Promise<string[]> {
  client.sendRaw('{"kind":"DtmfData","dtmfData":{"data":"7"}}');
  session.speechStarted();
  session.speechStopped({ transcript: `my number is ${CALLER_NUMBER}` });
  const agent = patternPcm(16000, 3);
  await session.respondWithAudio(agent, { transcript: `I will call ${AGENT_NUMBER} back` });
  await until(() => client.audioFrames().length >= 25, 3000, 'agent audio played');
  // A few of the deltas as sent, to look for in the log.
  return [0, 12, 24].map((i) => agent.subarray(i * 640, (i + 1) * 640).toString('base64'));
}

describe('worker debug log (LOG_LEVEL=debug)', () => {
  it('logs each Voice Live event and ACS control message with the call id, transcripts masked, and agent audio as one line per response', async () => {
    const log = await startLoggingWorker('debug');
    const { client, session } = await startCall();
    const deltas = await converse(client, session);
    await until(() => log.lines.some((l) => l.msg === 'response done'), 3000, 'response done line');
    const call = log.lines.filter((l) => l.callId === 'call-1');
    const line = (msg: string) => call.find((l) => l.msg === msg);

    expect(line('ACS audio metadata')).toMatchObject({ sampleRateHz: 16000, channels: 1, encoding: 'PCM' });
    expect(line('ACS DTMF tone')).toMatchObject({ tone: '7' });
    expect(line('caller speech started')).toMatchObject({ itemId: expect.any(String) });
    expect(line('caller speech stopped')).toMatchObject({ itemId: expect.any(String) });
    expect(line('caller said')).toMatchObject({ level: 'debug', transcript: 'my number is +44********58' });
    expect(line('agent said')).toMatchObject({ level: 'debug', transcript: 'I will call +14*******01 back' });
    const created = line('response created');
    expect(created).toMatchObject({ responseId: expect.any(String) });
    expect(line('response done')).toMatchObject({ responseId: created!.responseId, status: 'completed', audioDeltas: 25, audioMs: 500 });
    const eventTypes = call.filter((l) => l.msg === 'Voice Live event').map((l) => l.eventType);
    expect(eventTypes).toEqual(expect.arrayContaining(['input_audio_buffer.committed', 'conversation.item.created', 'response.output_item.done', 'response.audio.done']));

    // Nothing per delta: no audio event line, no delta's audio, no transcript delta.
    expect(eventTypes.filter((t) => String(t).endsWith('.delta'))).toEqual([]);
    for (const delta of deltas) expect(log.text()).not.toContain(delta);
    // Nor the numbers, anywhere.
    expect(log.text()).not.toContain('7946');
    expect(log.text()).not.toContain('555 0101');
  });

  it('logs no transcript and no per-event line at info', async () => {
    const log = await startLoggingWorker('info');
    const { client, session } = await startCall();
    await converse(client, session);
    client.sendAudio(patternPcm(640, 1));
    await until(() => session.receivedAudioBytes() >= 640, 3000, 'caller audio at the peer');
    expect(log.lines.some((l) => l.msg === 'call started')).toBe(true);
    expect(log.lines.filter((l) => l.level === 'debug')).toEqual([]);
    expect(log.text()).not.toContain('transcript');
    expect(log.text()).not.toContain('my number');
  });
});
