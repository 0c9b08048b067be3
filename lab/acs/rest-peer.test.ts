import { CallAutomationClient } from '@azure/communication-call-automation';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acsError, startAcsRestPeer, type AcsRestPeer, type PeerResponse } from './rest-peer.js';

describe('ACS REST peer', () => {
  let peer: AcsRestPeer;
  let client: CallAutomationClient;

  beforeEach(async () => {
    peer = await startAcsRestPeer();
    client = new CallAutomationClient(peer.connectionString, { retryOptions: { maxRetries: 0 }, allowInsecureConnection: true });
  });
  afterEach(async () => {
    await peer.close();
  });

  it('accepts an answer signed by the real client and reports the correlation id of the incoming call', async () => {
    const context = peer.createIncomingCallContext({ correlationId: 'corr-1' });
    const result = await client.answerCall(context, 'https://app.example/api/callbacks/corr-1', { operationContext: 'answer' });

    expect(result.callConnectionProperties.correlationId).toBe('corr-1');
    expect(result.callConnectionProperties.callConnectionState).toBe('connected');
    const [request] = peer.requestsFor('answer');
    expect(request).toMatchObject({
      method: 'POST',
      path: '/calling/callConnections:answer',
      authenticated: true,
      status: 200,
      body: { incomingCallContext: context, callbackUri: 'https://app.example/api/callbacks/corr-1', operationContext: 'answer' },
    });
    expect(request?.query['api-version']).toMatch(/^\d{4}-\d{2}-\d{2}/);
    expect(request?.headers['repeatability-request-id']).toBeTruthy();
  });

  it('refuses a request signed with another key with 401, and the client surfaces it', async () => {
    const stranger = new CallAutomationClient(
      `endpoint=${peer.endpoint};accesskey=${Buffer.from('not the key').toString('base64')}`,
      { retryOptions: { maxRetries: 0 }, allowInsecureConnection: true },
    );
    await expect(stranger.answerCall(peer.createIncomingCallContext(), 'https://app.example/cb')).rejects.toMatchObject({ statusCode: 401 });
    expect(peer.requests[0]).toMatchObject({ authenticated: false, authFailure: 'signature does not match' });
    expect(peer.calls.size).toBe(0);
  });

  it('answers a context once: the second answer is refused as already answered', async () => {
    const context = peer.createIncomingCallContext();
    await client.answerCall(context, 'https://app.example/cb');
    await expect(client.answerCall(context, 'https://app.example/cb')).rejects.toMatchObject({ statusCode: 400, code: '8523' });
    expect(peer.calls.size).toBe(1);
  });

  it('implements get, media start/stop, transfer and terminate on a call connection', async () => {
    const answered = await client.answerCall(peer.createIncomingCallContext(), 'https://app.example/cb', {
      mediaStreamingOptions: { transportType: 'websocket', audioChannelType: 'mixed', transportUrl: 'wss://w/ws/x', startMediaStreaming: true },
    });
    const id = answered.callConnectionProperties.callConnectionId as string;
    const connection = client.getCallConnection(id);

    await connection.getCallMedia().stopMediaStreaming();
    expect(peer.calls.get(id)?.mediaStreaming).toBe('inactive');
    await connection.getCallMedia().startMediaStreaming({ operationContext: 'media-restart:1' });
    expect(peer.calls.get(id)?.mediaStreaming).toBe('active');
    expect((await connection.getCallConnectionProperties()).callConnectionState).toBe('connected');
    await connection.transferCallToParticipant({ phoneNumber: '+15550001111' }, { operationContext: 'xfer' });
    await connection.hangUp(true);

    expect(peer.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST /calling/callConnections:answer',
      `POST /calling/callConnections/${id}:stopMediaStreaming`,
      `POST /calling/callConnections/${id}:startMediaStreaming`,
      `GET /calling/callConnections/${id}`,
      `POST /calling/callConnections/${id}:transferToParticipant`,
      `POST /calling/callConnections/${id}:terminate`,
    ]);
    expect(peer.requests.every((r) => r.authenticated)).toBe(true);
    expect(peer.requestsFor('startMediaStreaming')[0]?.body).toEqual({ operationContext: 'media-restart:1' });
    expect(peer.requestsFor('transferToParticipant')[0]?.body).toMatchObject({
      targetParticipant: { rawId: '4:+15550001111', phoneNumber: { value: '+15550001111' } },
      operationContext: 'xfer',
    });
    expect(peer.calls.get(id)?.state).toBe('disconnected');
    await expect(connection.getCallMedia().startMediaStreaming()).rejects.toMatchObject({ statusCode: 404, code: '8522' });
  });

  it('refuses custom SIP headers outside ACS\'s documented limits (value characters, length, count) with 400', async () => {
    const id = (await client.answerCall(peer.createIncomingCallContext(), 'https://app.example/cb')).callConnectionProperties.callConnectionId!;
    const transfer = (customCallingContext: { kind: 'sipx' | 'voip'; key: string; value: string }[]) =>
      client.getCallConnection(id).transferCallToParticipant({ phoneNumber: '+15550001111' }, { customCallingContext });
    await expect(transfer([{ kind: 'sipx', key: 'Reason', value: 'has spaces' }])).rejects.toMatchObject({ statusCode: 400 });
    await expect(transfer([{ kind: 'sipx', key: 'Reason', value: 'x'.repeat(257) }])).rejects.toMatchObject({ statusCode: 400 });
    await expect(transfer(Array.from({ length: 6 }, (_, i) => ({ kind: 'sipx' as const, key: `K${i}`, value: 'v' })))).rejects.toMatchObject({ statusCode: 400 });
    await transfer([{ kind: 'sipx', key: 'Reason', value: 'wants%20a%20refund' }, { kind: 'voip', key: 'Summary', value: 'free text, with spaces' }]);
    expect(peer.requestsFor('transferToParticipant').map((r) => r.status)).toEqual([400, 400, 400, 202]);
  });

  it('records reject and redirect, and fails scripted operations with an ACS error body', async () => {
    await client.rejectCall(peer.createIncomingCallContext(), { callRejectReason: 'busy' });
    await client.redirectCall(peer.createIncomingCallContext(), { targetParticipant: { phoneNumber: '+15550002222' } });
    peer.failNext('answer', { status: 404, code: '8522', message: 'incoming call context expired' });
    await expect(client.answerCall(peer.createIncomingCallContext(), 'https://app.example/cb')).rejects.toMatchObject({ statusCode: 404, code: '8522' });

    expect(peer.requestsFor('reject')[0]?.body).toMatchObject({ callRejectReason: 'busy' });
    expect(peer.requestsFor('redirect')[0]?.body).toMatchObject({ target: { phoneNumber: { value: '+15550002222' } } });
    expect(peer.calls.size).toBe(0);
  });

  it('refuses a body with a bad field with 400 naming it, and creates no call', async () => {
    const answer = (audioFormat: string, transportUrl = 'wss://w/ws/x') =>
      client.answerCall(peer.createIncomingCallContext(), 'https://app.example/cb', {
        mediaStreamingOptions: { transportType: 'websocket', audioChannelType: 'mixed', transportUrl, audioFormat: audioFormat as 'pcm16KMono' },
      });
    await expect(answer('pcm8KMono')).rejects.toMatchObject({ statusCode: 400, message: expect.stringMatching(/mediaStreamingOptions\.audioFormat: must be pcm16KMono or pcm24KMono/) });
    await expect(answer('pcm16KMono', 'https://w/ws/x')).rejects.toMatchObject({ statusCode: 400, message: expect.stringMatching(/mediaStreamingOptions\.transportUrl: must be a ws/) });
    await expect(client.answerCall(peer.createIncomingCallContext(), 'ftp://app.example/cb')).rejects.toMatchObject({ statusCode: 400, message: expect.stringMatching(/callbackUri: must be an http\(s\) URL/) });
    expect(peer.calls.size).toBe(0);
    expect(peer.requests.map((r) => r.status)).toEqual([400, 400, 400]);
  });

  it('lets a beforeRespond hook refuse a request before anything changes, or act on what the peer answered', async () => {
    const seen: { operation: string; status: number; state: string | undefined }[] = [];
    peer.beforeRespond(async ({ request, body, call }, next) => {
      if (request.operation === 'transferToParticipant' && (body.targetParticipant as { rawId: string }).rawId.endsWith('0000')) {
        return acsError(400, '8501', 'that desk is closed');
      }
      const response: PeerResponse = await next();
      seen.push({ operation: request.operation, status: response.status, state: call?.state });
      return response;
    });
    const context = peer.createIncomingCallContext({ callConnectionId: 'cc-fixed', from: '+15550003333', to: '+15550004444' });
    const answered = await client.answerCall(context, 'https://app.example/cb');
    expect(answered.callConnectionProperties).toMatchObject({ callConnectionId: 'cc-fixed', answeredFor: { phoneNumber: '+15550004444' } });
    const connection = client.getCallConnection('cc-fixed');

    await expect(connection.transferCallToParticipant({ phoneNumber: '+15550120000' })).rejects.toMatchObject({ statusCode: 400, code: '8501' });
    expect(peer.calls.get('cc-fixed')?.state).toBe('connected');
    await connection.transferCallToParticipant({ phoneNumber: '+15550121234' });
    expect(peer.calls.get('cc-fixed')?.state).toBe('transferring');
    const participants = await connection.listParticipants();
    expect(participants.values?.map((p) => p.identifier && 'phoneNumber' in p.identifier ? p.identifier.phoneNumber : 'app')).toEqual(['+15550003333', 'app']);
    expect(seen).toEqual([
      { operation: 'answer', status: 200, state: undefined },
      { operation: 'transferToParticipant', status: 202, state: 'transferring' },
      { operation: 'listParticipants', status: 200, state: 'transferring' },
    ]);
    expect(peer.requests.map((r) => r.status)).toEqual([200, 400, 202, 200]);
  });

  it('starts a recording of a connected call as the SDK asks (202 with its id), refuses a second one (409), gets and stops it', async () => {
    const answered = await client.answerCall(peer.createIncomingCallContext({ correlationId: 'rec-1' }), 'https://app.example/cb/rec-1');
    const callConnectionId = answered.callConnectionProperties.callConnectionId as string;
    const recorder = client.getCallRecording();

    const started = await recorder.start({
      callConnectionId,
      recordingContent: 'audio',
      recordingChannel: 'unmixed',
      recordingFormat: 'wav',
      recordingStorage: { recordingStorageKind: 'azureBlobStorage', recordingDestinationContainerUrl: 'https://strec.blob.core.windows.net/recordings' },
      recordingStateCallbackEndpointUrl: 'https://app.example/cb/rec-1',
    });
    expect(started).toMatchObject({ recordingId: expect.any(String), recordingState: 'inactive', recordingKind: 'azureCommunicationServices' });
    const [request] = peer.requestsFor('startRecording');
    expect(request).toMatchObject({ method: 'POST', path: '/calling/recordings', status: 202, authenticated: true, callConnectionId });
    // The wire names: recordingStorage travels as externalStorage.
    expect(request?.body).toEqual({
      callConnectionId,
      recordingStateCallbackUri: 'https://app.example/cb/rec-1',
      recordingContentType: 'audio',
      recordingChannelType: 'unmixed',
      recordingFormatType: 'wav',
      externalStorage: { recordingStorageKind: 'azureBlobStorage', recordingDestinationContainerUrl: 'https://strec.blob.core.windows.net/recordings' },
    });
    expect(peer.recordings.get(started.recordingId)).toMatchObject({ callConnectionId, stopped: false });

    await expect(recorder.start({ callConnectionId, recordingContent: 'audio' })).rejects.toMatchObject({ statusCode: 409 });
    expect(await recorder.getState(started.recordingId)).toMatchObject({ recordingId: started.recordingId });
    await recorder.stop(started.recordingId);
    expect(peer.recordings.get(started.recordingId)).toMatchObject({ stopped: true, state: 'inactive' });
    await expect(recorder.stop(started.recordingId)).rejects.toMatchObject({ statusCode: 404 });
    expect(peer.requests.map((r) => r.operation)).toEqual(['answer', 'startRecording', 'startRecording', 'getRecording', 'stopRecording', 'stopRecording']);
  });

  it('refuses recording options ACS does not combine, an ended call, and a BYOS request without a container', async () => {
    const answered = await client.answerCall(peer.createIncomingCallContext(), 'https://app.example/cb');
    const callConnectionId = answered.callConnectionProperties.callConnectionId as string;
    const recorder = client.getCallRecording();
    await expect(recorder.start({ callConnectionId, recordingContent: 'audio', recordingChannel: 'unmixed', recordingFormat: 'mp3' })).rejects.toMatchObject({
      statusCode: 400,
      message: expect.stringMatching(/recordingFormatType: unmixed audio is recorded as wav only/),
    });
    await expect(recorder.start({ callConnectionId, recordingStorage: { recordingStorageKind: 'azureBlobStorage' } })).rejects.toMatchObject({
      statusCode: 400,
      message: expect.stringMatching(/externalStorage\.recordingDestinationContainerUrl/),
    });
    await client.getCallConnection(callConnectionId).hangUp(true);
    await expect(recorder.start({ callConnectionId })).rejects.toMatchObject({ statusCode: 404, code: '8522' });
    expect(peer.recordings.size).toBe(0);
  });

  it('serves paths outside /calling/ through otherRequests, unsigned and unrecorded', async () => {
    const other = await startAcsRestPeer({ otherRequests: (_req, res, body) => void res.writeHead(200).end(`echo ${body.toString()}`) });
    try {
      const response = await fetch(`${other.endpoint}lab/anything`, { method: 'POST', body: 'hi' });
      expect(await response.text()).toBe('echo hi');
      expect((await fetch(`${other.endpoint}calling/callConnections:answer?api-version=1`, { method: 'POST', body: '{}' })).status).toBe(401);
      expect(other.requests.map((r) => r.path)).toEqual(['/calling/callConnections:answer']);
    } finally {
      await other.close();
    }
  });
});
