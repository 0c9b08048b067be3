import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { answeredCall, callbackEvent, startHarness, type AppInstance, type Harness } from '../test/functions/harness.js';

const RECORDING_ON = { CALL_RECORDING: 'audio' };

describe('call recording (CALL_RECORDING)', () => {
  let h: Harness;
  let token: string;
  beforeAll(async () => {
    h = await startHarness();
  });
  beforeEach(async () => {
    await h.reset();
    token = await h.issuer.issue();
  });
  afterAll(async () => {
    await h?.close();
  });

  const post = (app: AppInstance, callId: string, body: unknown) => app.invoke('callbacks', { body, params: { callId }, headers: { authorization: `Bearer ${token}` } });
  const connected = (callId: string, cc: string, id = `conn-${callId}`) => [callbackEvent('CallConnected', { id, callId, callConnectionId: cc })];

  it('off (the default): CallConnected starts no recording', async () => {
    const cc = await answeredCall(h, 'rec-off', { from: '+16045550123' });
    expect((await post(h.instance(), 'rec-off', connected('rec-off', cc))).status).toBe(200);
    expect(h.acs.requests).toHaveLength(0);
    expect(h.published().map((m) => m.type)).toEqual(['call.connected']);
  });

  it('audio: CallConnected starts one recording of the call connection with the configured options, state changes sent to the call callback URL', async () => {
    const cc = await answeredCall(h, 'rec-on', { from: '+16045550123' });
    expect((await post(h.instance(RECORDING_ON), 'rec-on', connected('rec-on', cc))).status).toBe(200);

    const [request] = h.acs.requestsFor('startRecording');
    expect(request).toMatchObject({ method: 'POST', path: '/calling/recordings', authenticated: true, status: 202 });
    expect(request?.body).toEqual({
      callConnectionId: cc,
      recordingContentType: 'audio',
      recordingChannelType: 'mixed',
      recordingFormatType: 'mp3',
      recordingStateCallbackUri: 'https://func.example.net/api/callbacks/rec-on',
    });
    const [recording] = [...h.acs.recordings.values()];
    expect(h.published().map((m) => [m.type, m.eventId])).toEqual([
      ['call.connected', 'conn-rec-on'],
      ['recording.requested', 'conn-rec-on:recording'],
    ]);
    expect(h.published()[1]).toMatchObject({
      callId: 'rec-on',
      callConnectionId: cc,
      data: { recordingId: recording?.recordingId, recordingState: 'inactive', channel: 'mixed', format: 'mp3', storage: 'azureCommunicationServices' },
    });
  });

  it('unmixed with bring-your-own-storage: wav by default, into the configured blob container', async () => {
    const cc = await answeredCall(h, 'rec-byos', { from: '+16045550123' });
    const app = h.instance({ ...RECORDING_ON, CALL_RECORDING_CHANNEL: 'unmixed', CALL_RECORDING_STORAGE_URL: 'https://strec.blob.core.windows.net/recordings' });
    await post(app, 'rec-byos', connected('rec-byos', cc));
    expect(h.acs.requestsFor('startRecording')[0]?.body).toMatchObject({
      recordingChannelType: 'unmixed',
      recordingFormatType: 'wav',
      externalStorage: { recordingStorageKind: 'azureBlobStorage', recordingDestinationContainerUrl: 'https://strec.blob.core.windows.net/recordings' },
    });
    expect(h.published()[1]?.data).toMatchObject({ channel: 'unmixed', format: 'wav', storage: 'azureBlobStorage' });
  });

  it('CallConnected delivered twice, even concurrently, or again on another instance, yields one recording', async () => {
    const cc = await answeredCall(h, 'rec-dup', { from: '+16045550123' });
    const app = h.instance(RECORDING_ON);
    const body = connected('rec-dup', cc);
    const responses = await Promise.all([post(app, 'rec-dup', body), post(app, 'rec-dup', body)]);
    expect(responses.map((r) => r.status)).toEqual([200, 200]);
    expect((await post(app, 'rec-dup', body)).status).toBe(200);
    // Another CallConnected of the same call on the same instance (a new event id) starts nothing either.
    expect((await post(app, 'rec-dup', connected('rec-dup', cc, 'conn-other'))).status).toBe(200);
    expect(h.acs.requestsFor('startRecording')).toHaveLength(1);

    // Another instance has no memory of it: ACS refuses a second recording (409), taken as done.
    expect((await post(h.instance(RECORDING_ON), 'rec-dup', body)).status).toBe(200);
    expect(h.acs.requestsFor('startRecording').map((r) => r.status)).toEqual([202, 409]);
    expect(h.acs.recordings.size).toBe(1);
    expect(h.published().filter((m) => m.type.startsWith('recording.')).map((m) => m.type)).toEqual(['recording.requested']);
  });

  it('ACS failing the start does not fail the callback or the call: recording.failed is published and the call goes on', async () => {
    const cc = await answeredCall(h, 'rec-fail', { from: '+16045550123' });
    h.acs.failNext('startRecording', { status: 500, code: 'InternalError', message: 'recording service unavailable for +16045550123' });
    const app = h.instance(RECORDING_ON);
    expect((await post(app, 'rec-fail', connected('rec-fail', cc))).status).toBe(200);

    expect(h.published().map((m) => [m.type, m.eventId])).toEqual([
      ['call.connected', 'conn-rec-fail'],
      ['recording.failed', 'conn-rec-fail:recordingFailed'],
    ]);
    expect(h.published()[1]?.data).toEqual({ error: { status: 500, code: 'InternalError', message: expect.stringMatching(/recording service unavailable/) } });
    expect(h.acs.requests.map((r) => r.operation)).toEqual(['startRecording']);
    expect(h.acs.calls.get(cc)?.state).toBe('connected');
    const failureLog = h.logs.find((line) => line.includes('starting the call recording failed'));
    expect(failureLog).toContain('"callId":"rec-fail"');
    expect(h.logs.join('')).not.toContain('6045550123');
    // The redelivery (ACS got a 200, but suppose it sent it again) does not try again.
    await post(app, 'rec-fail', connected('rec-fail', cc));
    expect(h.acs.requestsFor('startRecording')).toHaveLength(1);
  });

  it('a call disconnected in the same batch is not recorded', async () => {
    const cc = await answeredCall(h, 'rec-gone', { from: '+16045550123' });
    const batch = [...connected('rec-gone', cc), callbackEvent('CallDisconnected', { id: 'd-rec-gone', callId: 'rec-gone', callConnectionId: cc })];
    expect((await post(h.instance(RECORDING_ON), 'rec-gone', batch)).status).toBe(200);
    expect(h.acs.requestsFor('startRecording')).toHaveLength(0);
  });

  it('RecordingStateChanged and StartRecordingFailed callbacks are published as recording.started, recording.stopped and recording.failed', async () => {
    const e = (type: string, id: string, data: Record<string, unknown>) => callbackEvent(type, { id, callId: 'rec-cb', callConnectionId: 'conn-cb', data });
    const response = await post(h.instance(), 'rec-cb', [
      e('RecordingStateChanged', 'rs-1', { recordingId: 'rec-42', state: 'active', recordingKind: 'azureCommunicationServices', startDateTime: '2026-01-05T10:00:06.1234567+00:00' }),
      e('RecordingStateChanged', 'rs-2', { recordingId: 'rec-42', state: 'inactive' }),
      e('StartRecordingFailed', 'rs-3', { operationContext: 'x', resultInformation: { code: 400, subCode: 8583, message: 'recording failed to start' } }),
    ]);
    expect(response).toMatchObject({ status: 200, jsonBody: { published: 3 } });
    expect(h.published().map((m) => [m.type, m.eventId, m.data])).toEqual([
      ['recording.started', 'rs-1', { recordingId: 'rec-42', state: 'active', recordingKind: 'azureCommunicationServices', startedAt: '2026-01-05T10:00:06.123Z' }],
      ['recording.stopped', 'rs-2', { recordingId: 'rec-42', state: 'inactive' }],
      ['recording.failed', 'rs-3', { operationContext: 'x', resultInformation: { code: 400, subCode: 8583, message: 'recording failed to start' } }],
    ]);
    expect(h.busMessages().every((m) => m.sessionId === 'rec-cb')).toBe(true);
  });

  it('a RecordingStateChanged without a recordingId is refused with the reason', async () => {
    const response = await post(h.instance(), 'rec-bad', [callbackEvent('RecordingStateChanged', { id: 'rs-bad', callId: 'rec-bad', callConnectionId: 'c', data: { state: 'active' } })]);
    expect(response.status).toBe(400);
    expect(JSON.stringify(response.jsonBody)).toMatch(/recordingId/);
    expect(h.busMessages()).toHaveLength(0);
  });
});
