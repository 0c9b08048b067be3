import { afterEach, describe, expect, it } from 'vitest';
import { AcsMediaClient } from '../../lab/acs/media-client.js';
import { startVoiceLivePeer, type PeerSession, type VoiceLivePeer } from '../../lab/voice-live/peer.js';
import { startCallControlLab, type CallControlLab } from '../call-control/harness.js';
import { patternPcm, startWorker, until, workerConfig, type RunningWorker } from './harness.js';

let peer: VoiceLivePeer | undefined;
let worker: RunningWorker | undefined;
let lab: CallControlLab | undefined;
const clients: AcsMediaClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.socket.terminate();
  await worker?.close();
  await peer?.close();
  await lab?.close();
  worker = undefined;
  peer = undefined;
  lab = undefined;
});

async function startCall(): Promise<{ client: AcsMediaClient; session: PeerSession }> {
  peer = await startVoiceLivePeer({ apiKey: 'lab-key', audioChunkMs: 20 });
  worker = await startWorker(workerConfig(peer.url));
  const client = await AcsMediaClient.connect({ url: `${worker.url}/ws/call-1`, callConnectionId: 'conn-1', correlationId: 'call-1' });
  clients.push(client);
  client.sendMetadata(16000);
  const session = await peer.nextSession();
  await session.waitFor('session.update');
  await until(() => worker!.server.calls.get('call-1')?.voiceLive?.isOpen === true, 3000, 'Voice Live open');
  return { client, session };
}

/**
 * A response that ends early, as the service sends it: created, `deltas` pieces of audio of 500 bytes (so the
 * last 20 ms frame is partial), then response.done with `status` and `statusDetails`; no response.audio.done.
 */
function endedResponse(session: PeerSession, responseId: string, status: string, statusDetails: object, deltas = 3): void {
  const itemId = `${responseId}_item`;
  const ids = { response_id: responseId, item_id: itemId, output_index: 0, content_index: 0 };
  session.send({ type: 'response.created', response: { id: responseId, object: 'realtime.response', status: 'in_progress', output: [] } });
  session.send({ type: 'response.output_item.added', response_id: responseId, output_index: 0, item: { id: itemId, type: 'message', role: 'assistant', content: [] } });
  for (let i = 0; i < deltas; i++) session.send({ type: 'response.audio.delta', ...ids, delta: patternPcm(500, i + 1).toString('base64') });
  session.send({
    type: 'response.done',
    response: { id: responseId, object: 'realtime.response', status, status_details: statusDetails, output: [], usage: { total_tokens: 10, input_tokens: 6, output_tokens: 4 } },
  });
}

async function scrape(): Promise<string> {
  const res = await fetch(`${worker!.httpUrl}/metrics`);
  return res.text();
}

const serverError = { type: 'failed', error: { type: 'server_error', code: 'internal_error', message: 'The server had an error while processing your request.' } };

describe('responses that end failed, incomplete or cancelled', () => {
  it('a failed response is counted, logged as a warning with its error, its audio played out, and the call goes on', async () => {
    const { client, session } = await startCall();
    endedResponse(session, 'resp_failed', 'failed', serverError);

    await until(() => worker!.logs.some((l) => l.level === 'warn' && l.responseId === 'resp_failed'), 3000, 'warning');
    const warning = worker!.logs.find((l) => l.level === 'warn' && l.responseId === 'resp_failed')!;
    expect(warning).toMatchObject({
      callId: 'call-1',
      status: 'failed',
      reason: 'internal_error',
      error: { type: 'server_error', code: 'internal_error', message: 'The server had an error while processing your request.' },
      audioMs: 47,
    });
    expect(warning.msg).toBe('Voice Live response failed (internal_error): The server had an error while processing your request.');
    expect(warning).not.toHaveProperty('transcript');
    expect(await scrape()).toContain('worker_responses_total{status="failed",reason="server_error"} 1');

    // 1500 bytes: two whole frames and the rest padded, although response.audio.done never came; then silence.
    await until(() => client.audioFrames().length === 3, 3000, 'three frames');
    expect(Buffer.from(client.audioFrames()[2]!.base64, 'base64').subarray(220).every((b) => b === 0)).toBe(true);
    await until(() => worker!.server.calls.get('call-1')?.isAgentAudible() === false, 3000, 'agent no longer audible');

    // The call goes on both ways: caller audio reaches Voice Live, the next answer reaches the caller.
    const before = session.receivedAudioBytes();
    for (let i = 0; i < 5; i++) client.sendAudio(patternPcm(640, i));
    await until(() => session.receivedAudioBytes() === before + 3200, 3000, 'caller audio after the failure');
    await session.respondWithAudio(patternPcm(1280, 9));
    await until(() => client.audioFrames().length === 5, 3000, 'the next answer');
    expect(worker!.server.calls.get('call-1')?.currentState).toBe('live');
    expect(await scrape()).toContain('worker_responses_total{status="completed",reason="none"} 1');
  });

  it('a failed response is asked for once more; a retry that fails too is not, nor is a throttled one', async () => {
    const { client, session } = await startCall();
    const creates = () => session.received.filter((r) => r.type === 'response.create').length;
    endedResponse(session, 'resp_1', 'failed', serverError, 1);
    await until(() => creates() === 1, 3000, 'the response asked for again');
    expect(worker!.logs.find((l) => l.msg === 'asking Voice Live again after a failed response')).toMatchObject({ callId: 'call-1', failedResponseId: 'resp_1', attempt: 1 });
    endedResponse(session, 'resp_2', 'failed', serverError, 1); // the retry fails too
    await until(() => worker!.logs.some((l) => l.level === 'warn' && l.responseId === 'resp_2'), 3000, 'second failure');
    endedResponse(session, 'resp_3', 'failed', { type: 'failed', error: { type: 'rate_limit_exceeded', code: 'rate_limit_exceeded', message: 'slow down' } }, 1);
    await until(() => worker!.logs.some((l) => l.level === 'warn' && l.responseId === 'resp_3'), 3000, 'throttled failure');
    // Caller audio sent now reaches Voice Live behind anything the worker sent before it on the same socket.
    const before = session.receivedAudioBytes();
    client.sendAudio(patternPcm(640, 5));
    await until(() => session.receivedAudioBytes() === before + 640, 3000, 'marker audio');
    expect(creates()).toBe(1);
    expect(await scrape()).toContain('worker_response_retries_total 1');
  });

  it('a failed response is not asked for again while the caller is speaking', async () => {
    const { client, session } = await startCall();
    session.speechStarted();
    endedResponse(session, 'resp_1', 'failed', serverError, 1);
    await until(() => worker!.logs.some((l) => l.level === 'warn' && l.responseId === 'resp_1'), 3000, 'failure');
    const before = session.receivedAudioBytes();
    client.sendAudio(patternPcm(640, 5));
    await until(() => session.receivedAudioBytes() === before + 640, 3000, 'marker audio');
    expect(session.received.filter((r) => r.type === 'response.create')).toEqual([]);
  });

  it('an incomplete response (content filter) is a warning too; an unknown reason is labelled other', async () => {
    const { session } = await startCall();
    endedResponse(session, 'resp_filtered', 'incomplete', { type: 'incomplete', reason: 'content_filter' }, 1);
    endedResponse(session, 'resp_odd', 'incomplete', { type: 'incomplete', reason: 'some_new_reason' }, 1);
    await until(() => worker!.logs.filter((l) => l.level === 'warn' && String(l.msg).startsWith('Voice Live response incomplete')).length === 2, 3000, 'warnings');
    expect(worker!.logs.find((l) => l.responseId === 'resp_filtered' && l.level === 'warn')).toMatchObject({ status: 'incomplete', reason: 'content_filter' });
    const metrics = await scrape();
    expect(metrics).toContain('worker_responses_total{status="incomplete",reason="content_filter"} 1');
    expect(metrics).toContain('worker_responses_total{status="incomplete",reason="other"} 1');
    expect(metrics).not.toContain('some_new_reason');
  });

  it('a response cancelled by the caller barging in is counted as cancelled and logged at debug, not as a warning', async () => {
    const { client, session } = await startCall();
    const answer = session.respondWithAudio(patternPcm(32000, 4), { realTime: true, chunkMs: 100 });
    await until(() => client.audioFrames().length >= 3, 3000, 'agent audible');
    session.speechStarted();
    const { responseId } = await answer;
    await until(() => worker!.logs.some((l) => l.msg === 'response done' && l.responseId === responseId), 3000, 'response done line');
    expect(worker!.logs.find((l) => l.msg === 'response done' && l.responseId === responseId)).toMatchObject({
      level: 'debug',
      status: 'cancelled',
      reason: 'turn_detected',
      bargedIn: true,
    });
    expect(worker!.logs.filter((l) => l.callId === 'call-1' && l.level === 'warn')).toEqual([]);
    expect(await scrape()).toContain('worker_responses_total{status="cancelled",reason="turn_detected"} 1');
  });

  it('the call record counts failed and incomplete responses with their reasons, and not cancelled ones', async () => {
    lab = await startCallControlLab();
    const call = await lab.startCall('record-1');
    endedResponse(call.session, 'resp_a', 'failed', serverError, 1);
    endedResponse(call.session, 'resp_b', 'incomplete', { type: 'incomplete', reason: 'max_output_tokens' }, 1);
    endedResponse(call.session, 'resp_c', 'cancelled', { type: 'cancelled', reason: 'client_cancelled' }, 1);
    await until(() => lab!.control.calls.get('record-1')?.record.usage.responses === 3, 3000, 'responses seen');
    await call.media.close();
    await until(() => lab!.records().length === 1, 5000, 'record');
    const record = lab.records()[0]!;
    expect(record.failedResponses).toEqual({
      count: 2,
      list: [
        { at: expect.any(String), status: 'failed', reason: 'internal_error' },
        { at: expect.any(String), status: 'incomplete', reason: 'max_output_tokens' },
      ],
    });
    expect(record.schemaVersion).toBe(1);
  });
});
