import { afterEach, describe, expect, it } from 'vitest';
import { AcsMediaClient } from '../../lab/acs/media-client.js';
import { startVoiceLivePeer, type PeerSession, type VoiceLivePeer } from '../../lab/voice-live/peer.js';
import { patternPcm, startWorker, until, workerConfig, type RunningWorker } from './harness.js';

let peer: VoiceLivePeer | undefined;
let worker: RunningWorker | undefined;
let client: AcsMediaClient | undefined;

afterEach(async () => {
  client?.socket.terminate();
  await worker?.close();
  await peer?.close();
});

async function liveCall(): Promise<PeerSession> {
  peer = await startVoiceLivePeer({ apiKey: 'lab-key', audioChunkMs: 40 });
  worker = await startWorker(workerConfig(peer.url));
  client = await AcsMediaClient.connect({ url: `${worker.url}/ws/call-b` });
  client.sendMetadata(16000);
  const session = await peer.nextSession();
  await until(() => worker!.server.calls.get('call-b')?.voiceLive?.isOpen === true, 3000, 'Voice Live open');
  return session;
}

describe('barge-in', () => {
  it('stops ACS playback before any further agent audio, cancels, and truncates to what was heard', async () => {
    const session = await liveCall();
    const response = session.respondWithAudio(patternPcm(640 * 150, 5), { realTime: true }); // 3 s, paced by the peer
    const first = await client!.waitFor((m) => m.kind === 'audio');
    await new Promise((r) => setTimeout(r, 400));
    session.speechStarted();
    const stop = await client!.waitFor((m) => m.kind === 'stopAudio');
    const { itemId, responseId } = await response;
    const truncate = await session.waitFor('conversation.item.truncate');
    // A delta of the cancelled response still in flight arrives late.
    session.send({ type: 'response.audio.delta', response_id: responseId, item_id: itemId, output_index: 0, content_index: 0, delta: patternPcm(640, 1).toString('base64') });
    await new Promise((r) => setTimeout(r, 150));

    // Nothing of the cancelled response reached ACS after StopAudio.
    const stopIndex = client!.received.indexOf(stop);
    expect(client!.received.slice(stopIndex + 1).filter((m) => m.kind === 'audio')).toHaveLength(0);

    // The model keeps what the caller heard: no more than the audio ACS was sent before StopAudio, and no less than
    // that minus what the playout clock lets ACS hold unplayed (the lead, plus the frame being sent). Counted in
    // frames, not read off two clocks at both ends of a socket, so a loaded machine cannot move it.
    const sentMs = client!.received.slice(0, stopIndex).filter((m) => m.kind === 'audio').length * 20;
    const heardMs = Number(truncate.audio_end_ms);
    expect(first.kind).toBe('audio');
    expect(truncate.item_id).toBe(itemId);
    expect(truncate.content_index).toBe(0);
    expect(sentMs).toBeGreaterThanOrEqual(400);
    expect(heardMs).toBeLessThanOrEqual(sentMs);
    expect(heardMs).toBeGreaterThanOrEqual(sentMs - workerConfig(peer!.url).playoutLeadMs - 20);

    // Fixed order at Voice Live: cancel (if still active) before truncate.
    const types = session.received.map((r) => r.type).filter((t) => t === 'response.cancel' || t === 'conversation.item.truncate');
    expect(types.at(-1)).toBe('conversation.item.truncate');
    const cancel = session.received.find((r) => r.type === 'response.cancel');
    if (cancel) expect(cancel.event.response_id).toBe(responseId);
    const metrics = await (await fetch(`${worker!.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/worker_barge_ins_total 1/);
    expect(metrics).toMatch(/worker_frames_dropped_total\{reason="discarded_response"\}/);
  });

  it('sends response.cancel when the response is still active at the interruption', async () => {
    const session = await liveCall();
    void session.respondWithAudio(patternPcm(640 * 100, 6), { realTime: true });
    await client!.waitFor((m) => m.kind === 'audio');
    await new Promise((r) => setTimeout(r, 200));
    session.speechStarted();
    const cancel = await session.waitFor('response.cancel');
    await session.waitFor('conversation.item.truncate');
    const order = session.received.map((r) => r.type).filter((t) => t === 'response.cancel' || t === 'conversation.item.truncate');
    expect(order).toEqual(['response.cancel', 'conversation.item.truncate']);
    expect(typeof cancel.response_id).toBe('string');
  });

  it('truncates an item the caller heard all of so far when the model is behind and still streaming it', async () => {
    const session = await liveCall();
    const ids = { response_id: 'resp_slow', item_id: 'item_slow', output_index: 0, content_index: 0 };
    session.send({ type: 'response.created', response: { id: ids.response_id, object: 'realtime.response', status: 'in_progress', output: [] } });
    session.send({ type: 'response.output_item.added', response_id: ids.response_id, output_index: 0, item: { id: ids.item_id, object: 'realtime.item', type: 'message', role: 'assistant', status: 'in_progress', content: [] } });
    session.send({ type: 'response.audio.delta', ...ids, delta: patternPcm(640 * 2, 3).toString('base64') });
    await until(() => client!.audioFrames().length === 2, 2000, 'the first 40 ms played');
    // The model is late with its next delta: ACS plays out all 40 ms, the response goes on.
    await new Promise((r) => setTimeout(r, 150));
    session.speechStarted();
    const truncate = await session.waitFor('conversation.item.truncate');
    expect(truncate.item_id).toBe(ids.item_id);
    expect(truncate.audio_end_ms).toBe(40);
    expect(session.received.some((r) => r.type === 'response.cancel' && r.event.response_id === ids.response_id)).toBe(true);
  });

  it('does nothing when the caller speaks while the agent is silent', async () => {
    const session = await liveCall();
    await session.respondWithAudio(patternPcm(640 * 3, 7));
    await until(() => client!.audioFrames().length === 3, 2000, 'short reply played');
    await new Promise((r) => setTimeout(r, 120));
    session.speechStarted();
    await new Promise((r) => setTimeout(r, 100));
    expect(client!.received.some((m) => m.kind === 'stopAudio')).toBe(false);
    expect(session.received.some((r) => r.type === 'conversation.item.truncate' || r.type === 'response.cancel')).toBe(false);
  });

  it('plays the next response normally after an interruption', async () => {
    const session = await liveCall();
    void session.respondWithAudio(patternPcm(640 * 50, 8), { realTime: true });
    await client!.waitFor((m) => m.kind === 'audio');
    await new Promise((r) => setTimeout(r, 100));
    session.speechStarted();
    await client!.waitFor((m) => m.kind === 'stopAudio');
    await new Promise((r) => setTimeout(r, 100));
    const before = client!.audioFrames().length;
    const next = patternPcm(640 * 5, 9);
    await session.respondWithAudio(next);
    await until(() => client!.audioFrames().length === before + 5, 2000, 'next reply');
    const tail = Buffer.concat(client!.audioFrames().slice(before).map((m) => Buffer.from(m.base64, 'base64')));
    expect(tail).toEqual(next);
  });
});

describe('two barge-ins in one call', () => {
  it('truncates each interrupted item once: the second barge-in lists only the later reply, not the greeting again', async () => {
    const session = await liveCall();
    const greeting = session.respondWithAudio(patternPcm(640 * 100, 11), { realTime: true }); // 2 s
    await client!.waitFor((m) => m.kind === 'audio');
    await new Promise((r) => setTimeout(r, 200));
    session.speechStarted();
    const { itemId: greetingItem } = await greeting;
    await session.waitFor('conversation.item.truncate', (e) => e.item_id === greetingItem);
    session.speechStopped();

    const stopsBefore = client!.received.filter((m) => m.kind === 'stopAudio').length;
    const framesBefore = client!.audioFrames().length;
    const reply = session.respondWithAudio(patternPcm(640 * 100, 12), { realTime: true });
    await until(() => client!.audioFrames().length > framesBefore, 2000, 'the reply plays');
    await new Promise((r) => setTimeout(r, 200));
    session.speechStarted();
    const { itemId: replyItem } = await reply;
    await session.waitFor('conversation.item.truncate', (e) => e.item_id === replyItem);
    await until(() => client!.received.filter((m) => m.kind === 'stopAudio').length === stopsBefore + 1, 2000, 'second StopAudio');
    await new Promise((r) => setTimeout(r, 100));

    const truncated = session.received.filter((r) => r.type === 'conversation.item.truncate').map((r) => r.event.item_id);
    expect(truncated).toEqual([greetingItem, replyItem]);
    const bargeInLines = worker!.logs.filter((l) => l.msg === 'barge-in').map((l) => (l.cut as { itemId: string }[]).map((c) => c.itemId));
    expect(bargeInLines).toEqual([[greetingItem], [replyItem]]);
  });
});
