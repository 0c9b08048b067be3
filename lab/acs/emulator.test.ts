import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { CallAutomationClient, createOutboundAudioData, createOutboundStopAudioData } from '@azure/communication-call-automation';
import { AcsTokenVerifier } from '../../shared/acs-auth.js';
import { startAcsTokenIssuer, type AcsTokenIssuer } from '../acs-token-issuer.js';
import { startAcsEmulator, type AcsEmulator } from './emulator.js';
import { createOfficialJudge, type OfficialJudge } from './official-judge.js';
import { tone } from '../audio/signal.js';

/** A minimal app standing where the Functions app and the worker stand: real HTTP, real WebSocket, real SDK client. */
interface FakeApp {
  webhookUrl: string;
  callbackUrl: string;
  mediaUrl: string;
  deliveries: { headers: Record<string, unknown>; body: any[] }[];
  callbacks: { type: string; data: any; authorized: boolean; url: string | undefined }[];
  mediaHeaders: Record<string, unknown>[];
  mediaMessages: any[];
  mediaSockets: WebSocket[];
  answerWith?: (context: string) => Promise<void>;
  /** The status the webhook answers an IncomingCall delivery with (nothing is answered unless 200); default 200. */
  incomingCallStatus?: (deliveryCount: number) => number;
  close(): Promise<void>;
}

async function startFakeApp(issuer: AcsTokenIssuer, client: () => CallAutomationClient): Promise<FakeApp> {
  const verifier = new AcsTokenVerifier({ audience: issuer.audience, issuer: issuer.issuer, jwksUrl: issuer.jwksUrl });
  const app: Partial<FakeApp> = { deliveries: [], callbacks: [], mediaHeaders: [], mediaMessages: [], mediaSockets: [] };
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    if (req.url === '/webhook') {
      app.deliveries!.push({ headers: req.headers, body });
      const event = body[0];
      if (event.eventType === 'Microsoft.EventGrid.SubscriptionValidationEvent') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ validationResponse: event.data.validationCode }));
        return;
      }
      const status = app.incomingCallStatus?.(Number(req.headers['aeg-delivery-count'])) ?? 200;
      res.writeHead(status).end();
      if (status !== 200) return;
      await (app.answerWith ?? (async (context: string) => {
        await client().answerCall(context, app.callbackUrl!, {
          mediaStreamingOptions: { transportType: 'websocket', transportUrl: app.mediaUrl!, contentType: 'audio', audioChannelType: 'mixed', startMediaStreaming: true, enableBidirectional: true, audioFormat: 'pcm16KMono' },
        });
      }))(event.data.incomingCallContext).catch(() => undefined); // a test may close the emulator mid-answer
      return;
    }
    const authorized = await verifier.verifyAuthorizationHeader(req.headers.authorization).then(() => true, () => false);
    for (const e of body) app.callbacks!.push({ type: e.type.replace('Microsoft.Communication.', ''), data: e.data, authorized, url: req.url });
    res.writeHead(200).end();
  });
  const wss = new WebSocketServer({ server, path: '/ws' });
  wss.on('connection', (socket, req) => {
    app.mediaHeaders!.push(req.headers);
    app.mediaSockets!.push(socket);
    socket.on('message', (data) => app.mediaMessages!.push(JSON.parse(data.toString())));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return Object.assign(app, {
    webhookUrl: `http://${base}/webhook`,
    callbackUrl: `http://${base}/callbacks`,
    mediaUrl: `ws://${base}/ws`,
    close: async () => {
      for (const s of wss.clients) s.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  }) as FakeApp;
}

const until = async (check: () => boolean, timeoutMs = 5000) => {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('ACS emulator', () => {
  let issuer: AcsTokenIssuer;
  let emulator: AcsEmulator;
  let app: FakeApp;
  let client: CallAutomationClient;
  // Every payload the emulator sends is read by the official SDK parsers; any failure fails the test that caused it.
  let judge: OfficialJudge;

  beforeEach(async () => {
    issuer = await startAcsTokenIssuer();
    app = await startFakeApp(issuer, () => client);
    judge = createOfficialJudge();
    // Event Grid's retry schedule at 1/100: the first redelivery after about 100 ms.
    emulator = await startAcsEmulator({ eventGridWebhookUrl: app.webhookUrl, tokenIssuer: issuer, judge, eventGridTimeScale: 0.01 });
    client = new CallAutomationClient(emulator.connectionString, { allowInsecureConnection: true });
  });
  afterEach(async () => {
    await judge.settled();
    expect(judge.failures).toEqual([]);
    await emulator.close();
    await app.close();
    await issuer.close();
  });

  it('validates the Event Grid subscription before delivering the first IncomingCall with Event Grid headers', async () => {
    const call = await emulator.placeCall({ from: '+15550101234', to: '+15550109999' });
    expect(app.deliveries.map((d) => d.headers['aeg-event-type'])).toEqual(['SubscriptionValidation', 'Notification']);
    const incoming = app.deliveries[1]!.body[0];
    expect(incoming.eventType).toBe('Microsoft.Communication.IncomingCall');
    expect(incoming.data.correlationId).toBe(call.callId);
    expect(incoming.data.from.rawId).toBe('4:+15550101234');
    expect(app.deliveries[1]!.headers['aeg-subscription-name']).toBeTruthy();
    await emulator.placeCall();
    expect(app.deliveries.filter((d) => d.headers['aeg-event-type'] === 'SubscriptionValidation')).toHaveLength(1);
  });

  it('answers through the real CallAutomationClient, posts signed callbacks in ACS order and opens the media socket with ACS headers', async () => {
    const call = await emulator.placeCall();
    await call.waitFor('MediaStreamingStarted');
    expect(app.callbacks.map((c) => c.type)).toEqual(['CallConnected', 'ParticipantsUpdated', 'MediaStreamingStarted']);
    expect(app.callbacks.every((c) => c.authorized && c.data.correlationId === call.callId)).toBe(true);
    const headers = app.mediaHeaders[0]!;
    expect(headers['x-ms-call-correlation-id']).toBe(call.callId);
    expect(headers['x-ms-call-connection-id']).toBe(call.callConnectionId);
    await expect(new AcsTokenVerifier({ audience: issuer.audience, issuer: issuer.issuer, jwksUrl: issuer.jwksUrl }).verifyAuthorizationHeader(headers.authorization as string)).resolves.toBeTruthy();
    await until(() => app.mediaMessages.length >= 5);
    expect(app.mediaMessages[0]).toMatchObject({ kind: 'AudioMetadata', audioMetadata: { sampleRate: 16000, length: 640, encoding: 'PCM', channels: 1 } });
    const frame = app.mediaMessages[1];
    expect(frame.kind).toBe('AudioData');
    expect(Buffer.from(frame.audioData.data, 'base64')).toHaveLength(640);
    expect(frame.audioData.silent).toBe(true);
  });

  it('paces caller audio at one 20 ms frame per 20 ms and plays app audio back until StopAudio clears it', async () => {
    const call = await emulator.placeCall();
    await call.waitFor('MediaStreamingStarted');
    call.say(tone({ frequencyHz: 440, durationMs: 200, sampleRateHz: 16000 }));
    await until(() => app.mediaMessages.filter((m) => m.audioData?.silent === false).length >= 10);
    const voiced = app.mediaMessages.filter((m) => m.audioData?.silent === false);
    expect(voiced).toHaveLength(10);

    const heard: Int16Array[] = [];
    call.on('heard', (f) => heard.push(f));
    const socket = app.mediaSockets[0]!;
    socket.send(JSON.stringify({ kind: 'audioData', audioData: { data: Buffer.from(tone({ frequencyHz: 300, durationMs: 1000, sampleRateHz: 16000 }).buffer).toString('base64') } }));
    await until(() => heard.length >= 5);
    socket.send(JSON.stringify({ Kind: 'StopAudio', AudioData: null, StopAudio: {} }));
    const stop = await call.waitFor('StopAudio');
    expect(stop.detail!.droppedMs).toBeGreaterThan(500);
    const heardAtStop = heard.length;
    await new Promise((r) => setTimeout(r, 100));
    expect(heard.length).toBe(heardAtStop);
  });

  describe('several speakers', () => {
    const OTHER = '4:+15550102222';
    const samplesOf = (messages: any[]) => Buffer.concat(messages.map((m) => Buffer.from(m.audioData.data, 'base64')));
    const bytesOf = (samples: Int16Array) => Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength);

    it('unmixed: each speaker\'s frame of the 20 ms goes out on its own, back to back, named by participantRawID', async () => {
      app.answerWith = async (context) => {
        await client.answerCall(context, app.callbackUrl, {
          mediaStreamingOptions: { transportType: 'websocket', transportUrl: app.mediaUrl, contentType: 'audio', audioChannelType: 'unmixed', startMediaStreaming: true, enableBidirectional: true, audioFormat: 'pcm16KMono' },
        });
      };
      const call = await emulator.placeCall();
      expect((await call.waitFor('answered')).detail).toMatchObject({ mediaStreaming: { audioChannel: 'unmixed' } });
      await call.waitFor('MediaStreamingStarted');
      const callerVoice = tone({ frequencyHz: 440, durationMs: 200, sampleRateHz: 16000 });
      const otherVoice = tone({ frequencyHz: 700, durationMs: 200, sampleRateHz: 16000, amplitude: 0.3 });
      call.say(callerVoice);
      call.say(otherVoice, { participantRawId: OTHER });
      await until(() => app.mediaMessages.filter((m) => m.audioData?.participantRawID === OTHER).length >= 10);
      await until(() => app.mediaMessages.filter((m) => m.audioData?.silent === false && m.audioData.participantRawID === call.callerIdentifier.rawId).length >= 10);
      const audio = app.mediaMessages.filter((m) => m.kind === 'AudioData');
      const other = audio.filter((m) => m.audioData.participantRawID === OTHER);
      expect(other).toHaveLength(10);
      expect(samplesOf(other)).toEqual(bytesOf(otherVoice));
      const callerVoiced = audio.filter((m) => m.audioData.participantRawID === call.callerIdentifier.rawId && !m.audioData.silent);
      expect(samplesOf(callerVoiced)).toEqual(bytesOf(callerVoice));
      // Same 20 ms, same timestamp, right behind the caller's frame.
      for (const frame of other) {
        const before = audio[audio.indexOf(frame) - 1]!;
        expect(before.audioData).toMatchObject({ participantRawID: call.callerIdentifier.rawId, timestamp: frame.audioData.timestamp, silent: false });
      }
    });

    it('mixed (the default): another participant\'s voice is summed into the caller\'s frames', async () => {
      const call = await emulator.placeCall();
      await call.waitFor('MediaStreamingStarted');
      const callerVoice = tone({ frequencyHz: 440, durationMs: 100, sampleRateHz: 16000, amplitude: 0.6 });
      const otherVoice = tone({ frequencyHz: 700, durationMs: 100, sampleRateHz: 16000, amplitude: 0.6 });
      call.say(callerVoice);
      call.say(otherVoice, { participantRawId: OTHER });
      await until(() => app.mediaMessages.filter((m) => m.audioData?.silent === false).length >= 5);
      const voiced = app.mediaMessages.filter((m) => m.audioData?.silent === false);
      expect(voiced).toHaveLength(5);
      expect(voiced.every((m) => m.audioData.participantRawID === call.callerIdentifier.rawId)).toBe(true);
      const expected = Int16Array.from(callerVoice, (v, i) => Math.max(-32768, Math.min(32767, v + otherVoice[i]!)));
      expect(samplesOf(voiced)).toEqual(bytesOf(expected));
    });
  });

  it('ends the call when the app hangs up: media stops, then MediaStreamingStopped and CallDisconnected', async () => {
    const call = await emulator.placeCall();
    await call.waitFor('MediaStreamingStarted');
    await client.getCallConnection(call.callConnectionId).hangUp(true);
    await expect(call.ended()).resolves.toBe('disconnected');
    expect(app.callbacks.map((c) => c.type).slice(-2)).toEqual(['MediaStreamingStopped', 'CallDisconnected']);
    await expect(client.getCallConnection(call.callConnectionId).getCallConnectionProperties()).rejects.toMatchObject({ statusCode: 404 });
  });

  it('records a call on request: RecordingStateChanged (active) to the recording callback URL, signed; inactive when stopped or when the call ends', async () => {
    const call = await emulator.placeCall();
    await call.waitFor('MediaStreamingStarted');
    const recorder = client.getCallRecording();
    const started = await recorder.start({ callConnectionId: call.callConnectionId, recordingContent: 'audio', recordingChannel: 'mixed', recordingFormat: 'mp3', recordingStateCallbackEndpointUrl: `${app.callbackUrl}?recording` });
    expect(started.recordingState).toBe('inactive');
    await call.waitFor('RecordingStateChanged');
    const active = app.callbacks.find((c) => c.type === 'RecordingStateChanged')!;
    expect(active).toMatchObject({ authorized: true, url: '/callbacks?recording', data: { recordingId: started.recordingId, state: 'active', callConnectionId: call.callConnectionId, correlationId: call.callId } });
    expect(Number.isNaN(Date.parse(active.data.startDateTime))).toBe(false);
    expect(emulator.rest.recordings.get(started.recordingId)?.state).toBe('active');

    await recorder.stop(started.recordingId);
    await until(() => app.callbacks.filter((c) => c.type === 'RecordingStateChanged').length === 2);
    expect(app.callbacks.filter((c) => c.type === 'RecordingStateChanged').map((c) => c.data.state)).toEqual(['active', 'inactive']);

    // A second recording runs until the call ends: ACS stops it before CallDisconnected.
    const second = await recorder.start({ callConnectionId: call.callConnectionId, recordingStateCallbackEndpointUrl: app.callbackUrl });
    await until(() => app.callbacks.filter((c) => c.type === 'RecordingStateChanged').length === 3);
    await client.getCallConnection(call.callConnectionId).hangUp(true);
    await call.ended();
    expect(app.callbacks.map((c) => c.type).slice(-3)).toEqual(['MediaStreamingStopped', 'RecordingStateChanged', 'CallDisconnected']);
    expect(app.callbacks.at(-2)?.data).toMatchObject({ recordingId: second.recordingId, state: 'inactive' });
  });

  it('reports a transfer as accepted then disconnects, or as failed and keeps the call', async () => {
    const call = await emulator.placeCall();
    await call.waitFor('MediaStreamingStarted');
    const connection = client.getCallConnection(call.callConnectionId);
    await connection.transferCallToParticipant({ phoneNumber: '+15550120000' }, { operationContext: 'to-failing-desk' });
    await call.waitFor('CallTransferFailed');
    expect(call.state).toBe('connected');
    await connection.transferCallToParticipant({ phoneNumber: '+15550121234' });
    await call.ended();
    expect(app.callbacks.map((c) => c.type).slice(-4)).toEqual(['CallTransferFailed', 'CallTransferAccepted', 'MediaStreamingStopped', 'CallDisconnected']);
    expect(app.callbacks.find((c) => c.type === 'CallTransferFailed')!.data.operationContext).toBe('to-failing-desk');
  });

  it('refuses unsigned or badly signed REST requests and malformed bodies with a clear 4xx', async () => {
    const unsigned = await fetch(`${emulator.url}/calling/callConnections:answer?api-version=2026-03-12`, { method: 'POST', body: '{}' });
    expect(unsigned.status).toBe(401);
    expect(((await unsigned.json()) as any).error.message).toMatch(/not signed/);
    const wrongKey = new CallAutomationClient(emulator.connectionString.replace(/accesskey=.*/, `accesskey=${Buffer.from("wrong").toString("base64")}`), { allowInsecureConnection: true });
    await expect(wrongKey.answerCall('x', 'http://127.0.0.1/cb')).rejects.toMatchObject({ statusCode: 401 });
    await expect(client.answerCall('not-a-context', 'http://127.0.0.1/cb')).rejects.toMatchObject({ statusCode: 400, message: expect.stringMatching(/incomingCallContext/) });

    const badCall = await fetch(`${emulator.url}/lab/calls`, { method: 'POST', body: JSON.stringify({ from: '12345' }) });
    expect(badCall.status).toBe(400);
    expect(((await badCall.json()) as any).error.message).toMatch(/from: must be an E.164 number/);
    expect((await fetch(`${emulator.url}/lab/calls`, { method: 'POST', body: '{nope' })).status).toBe(400);
    expect((await fetch(`${emulator.url}/lab/calls/unknown`, { method: 'DELETE' })).status).toBe(404);
    const badEscape = await fetch(`${emulator.url}/lab/calls/%E0%A4%A`, { method: 'DELETE' });
    expect(badEscape.status).toBe(400);
    expect(((await badEscape.json()) as any).error.message).toMatch(/malformed %-escape/);
  });

  it('places and hangs up calls through its control API, and the caller hanging up disconnects the call', async () => {
    const placed = await fetch(`${emulator.url}/lab/calls`, { method: 'POST', body: JSON.stringify({ from: '+15550107777' }) });
    expect(placed.status).toBe(201);
    const { callId } = (await placed.json()) as { callId: string };
    const call = emulator.calls.get(callId)!;
    await call.waitFor('MediaStreamingStarted');
    expect((await fetch(`${emulator.url}/lab/calls/${callId}`, { method: 'DELETE' })).status).toBe(202);
    await call.ended();
    expect(app.callbacks.map((c) => c.type).slice(-1)).toEqual(['CallDisconnected']);
    expect((await fetch(`${emulator.url}/lab/calls/${callId}`, { method: 'DELETE' })).status).toBe(409);
  });

  it('reports MediaStreamingFailed (8581) when the transport URL does not accept the socket', async () => {
    app.answerWith = async (context) => {
      await client.answerCall(context, app.callbackUrl, {
        mediaStreamingOptions: { transportType: 'websocket', transportUrl: app.mediaUrl.replace('/ws', '/nowhere'), contentType: 'audio', audioChannelType: 'mixed', startMediaStreaming: true, enableBidirectional: true, audioFormat: 'pcm24KMono' },
      });
    };
    const call = await emulator.placeCall();
    await call.waitFor('MediaStreamingFailed');
    expect(app.callbacks.find((c) => c.type === 'MediaStreamingFailed')!.data.resultInformation.subCode).toBe(8581);
  });

  for (const [name, target] of [
    ['an upgrade refused with an HTTP status', (a: FakeApp) => a.mediaUrl.replace('/ws', '/nowhere')],
    ['a port nobody listens on', () => 'ws://127.0.0.1:1/ws'],
  ] as const) {
    it(`reports one failed media connection (${name}) with exactly one MediaStreamingFailed`, async () => {
      app.answerWith = async (context) => {
        await client.answerCall(context, app.callbackUrl, {
          mediaStreamingOptions: { transportType: 'websocket', transportUrl: target(app), contentType: 'audio', audioChannelType: 'mixed', startMediaStreaming: true, enableBidirectional: true, audioFormat: 'pcm24KMono' },
        });
      };
      const call = await emulator.placeCall();
      await call.waitFor('MediaStreamingFailed');
      // A second report would come right behind the first (socket close after the connect error).
      await new Promise((r) => setTimeout(r, 300));
      expect(app.callbacks.filter((c) => c.type === 'MediaStreamingFailed').map((c) => c.data.mediaStreamingUpdate?.mediaStreamingStatusDetails)).toEqual([
        'initialWebSocketConnectionFailed',
      ]);
    });
  }

  it('refuses an answer once the call stopped ringing, and names a bad mediaStreamingOptions field', async () => {
    const contexts: string[] = [];
    app.answerWith = async (context) => void contexts.push(context);
    const call = await emulator.placeCall();
    await expect(
      client.answerCall(contexts[0]!, app.callbackUrl, {
        mediaStreamingOptions: { transportType: 'websocket', transportUrl: app.mediaUrl, audioChannelType: 'mixed', audioFormat: 'pcm8KMono' as 'pcm16KMono' },
      }),
    ).rejects.toMatchObject({ statusCode: 400, message: expect.stringMatching(/mediaStreamingOptions\.audioFormat/) });
    expect(call.state).toBe('ringing');
    await call.hangUp();
    await expect(client.answerCall(contexts[0]!, app.callbackUrl)).rejects.toMatchObject({ statusCode: 400, code: '8501', message: expect.stringMatching(/unanswered/) });
    expect(emulator.requests.map((r) => r.status)).toEqual([400, 400]);
    expect(app.callbacks).toEqual([]);
  });

  it('streams again on startMediaStreaming after the app dropped the media socket', async () => {
    const call = await emulator.placeCall();
    await call.waitFor('MediaStreamingStarted');
    app.mediaSockets[0]!.close(1011, 'worker crashed');
    await call.waitFor('MediaStreamingFailed');
    const connection = client.getCallConnection(call.callConnectionId);
    expect((await connection.getCallConnectionProperties()).mediaStreamingSubscription?.state).toBe('inactive');
    await connection.getCallMedia().startMediaStreaming({ operationContext: 'media-restart:1' });
    await until(() => app.callbacks.filter((c) => c.type === 'MediaStreamingStarted').length === 2);
    expect(app.mediaSockets).toHaveLength(2);
    expect(app.callbacks.at(-1)!.data.operationContext).toBe('media-restart:1');
    await expect(connection.getCallMedia().startMediaStreaming()).rejects.toMatchObject({ statusCode: 400, code: '8501' });
  });

  describe('Event Grid delivery', () => {
    it('sends the validation event as the documented example (metadataVersion "1", dataVersion "1") and IncomingCall with customContext even without custom headers', async () => {
      await emulator.placeCall();
      const validation = app.deliveries[0]!.body[0];
      expect(validation).toMatchObject({ eventType: 'Microsoft.EventGrid.SubscriptionValidationEvent', subject: '', metadataVersion: '1', dataVersion: '1' });
      const incoming = app.deliveries[1]!.body[0];
      expect(incoming.data.customContext).toEqual({ sipHeaders: {}, voipHeaders: {} });
      await emulator.placeCall({ sipHeaders: { 'X-MS-Custom-Ref': 'abc' } });
      expect(app.deliveries[2]!.body[0].data.customContext).toEqual({ sipHeaders: { 'X-MS-Custom-Ref': 'abc' }, voipHeaders: {} });
      expect(judge.counts.eventGrid).toBe(3);
    });

    it('redelivers an IncomingCall the webhook answered 503, with aeg-delivery-count 1, the same event id, after the (scaled) 10 s step', async () => {
      app.incomingCallStatus = (count) => (count === 0 ? 503 : 200);
      const call = await emulator.placeCall();
      await call.waitFor('MediaStreamingStarted');
      const notifications = app.deliveries.filter((d) => d.headers['aeg-event-type'] === 'Notification');
      expect(notifications.map((d) => d.headers['aeg-delivery-count'])).toEqual(['0', '1']);
      expect(notifications[1]!.body[0].id).toBe(notifications[0]!.body[0].id);
      expect(notifications[1]!.headers['aeg-output-event-id']).toBe(notifications[0]!.headers['aeg-output-event-id']);
      const attempts = call.timeline.entries.filter((e) => e.source === 'eventgrid');
      expect(attempts.map((e) => e.detail)).toMatchObject([
        { status: 503, deliveryCount: 0, outcome: 'retrying' },
        { status: 200, deliveryCount: 1, outcome: 'delivered' },
      ]);
      // 10 s at a time scale of 0.01, give or take the ±10 % spread.
      expect(attempts[0]!.detail!.nextInMs).toBeGreaterThanOrEqual(90);
      expect(attempts[0]!.detail!.nextInMs).toBeLessThanOrEqual(110);
      expect(attempts[1]!.atMs - attempts[0]!.atMs).toBeGreaterThanOrEqual(85);
    });

    it('keeps to the schedule (10 s, 30 s, 1 min, 5 min, ...) while the webhook keeps failing, and never retries 400, 401, 403 or 413', async () => {
      const { EventGridDelivery } = await import('./event-grid-delivery.js');
      expect([1, 2, 3, 4, 5, 6, 7, 8, 20].map((n) => EventGridDelivery.retryDelayMs(n))).toEqual([10_000, 30_000, 60_000, 300_000, 600_000, 1_800_000, 3_600_000, 3_600_000, 3_600_000]);
      app.incomingCallStatus = (count) => (count < 2 ? 500 : 200);
      const retried = await emulator.placeCall();
      await retried.waitFor('MediaStreamingStarted');
      const steps = retried.timeline.entries.filter((e) => e.source === 'eventgrid');
      expect(steps.map((e) => e.detail!.deliveryCount)).toEqual([0, 1, 2]);
      expect(steps[2]!.atMs - steps[1]!.atMs).toBeGreaterThanOrEqual(250); // the 30 s step, scaled

      for (const status of [400, 401, 403, 413]) {
        app.incomingCallStatus = () => status;
        const dropped = await emulator.placeCall();
        await new Promise((r) => setTimeout(r, 200));
        expect(dropped.timeline.entries.filter((e) => e.source === 'eventgrid').map((e) => e.detail)).toMatchObject([{ status, outcome: 'dropped' }]);
        await dropped.hangUp();
      }
    });

    it('gives up after the subscription\'s maximum delivery attempts', async () => {
      await emulator.close();
      emulator = await startAcsEmulator({ eventGridWebhookUrl: app.webhookUrl, tokenIssuer: issuer, judge, eventGridTimeScale: 0.001, eventGridMaxDeliveryAttempts: 3 });
      app.incomingCallStatus = () => 503;
      const call = await emulator.placeCall();
      await until(() => call.timeline.entries.some((e) => e.detail?.outcome === 'expired'));
      expect(call.timeline.entries.filter((e) => e.source === 'eventgrid').map((e) => e.detail!.outcome)).toEqual(['retrying', 'retrying', 'expired']);
      await call.hangUp();
    });
  });

  describe('media options as answered', () => {
    const answerWithMedia = (extra: Record<string, unknown>) => async (context: string) => {
      await client.answerCall(context, app.callbackUrl, {
        mediaStreamingOptions: { transportType: 'websocket', transportUrl: app.mediaUrl, contentType: 'audio', audioChannelType: 'mixed', startMediaStreaming: true, audioFormat: 'pcm16KMono', ...extra },
      });
    };
    const audioFrame = (ms: number) => createOutboundAudioData(Buffer.from(tone({ frequencyHz: 300, durationMs: ms, sampleRateHz: 16000 }).buffer).toString('base64'));

    it('sends DtmfData frames for key presses when the call was answered with enableDtmfTones, in the shape StreamingData.parse reads', async () => {
      app.answerWith = answerWithMedia({ enableBidirectional: true, enableDtmfTones: true });
      const call = await emulator.placeCall();
      await call.waitFor('MediaStreamingStarted');
      expect(call.pressKey('1')).toBe(true);
      expect(call.pressKey('#')).toBe(true);
      await until(() => app.mediaMessages.filter((m) => m.kind === 'DtmfData').length === 2);
      expect(app.mediaMessages.filter((m) => m.kind === 'DtmfData')).toEqual([
        { kind: 'DtmfData', dtmfData: { data: '1' } },
        { kind: 'DtmfData', dtmfData: { data: '#' } },
      ]);
      expect(() => call.pressKey('x')).toThrow(/key must be one of/);
      const pressed = await fetch(`${emulator.url}/lab/calls/${call.callId}/keys`, { method: 'POST', body: JSON.stringify({ key: '*' }) });
      expect([pressed.status, await pressed.json()]).toEqual([202, { key: '*', sent: true }]);
      await until(() => app.mediaMessages.filter((m) => m.kind === 'DtmfData').length === 3);
      const bad = await fetch(`${emulator.url}/lab/calls/${call.callId}/keys`, { method: 'POST', body: JSON.stringify({ key: 'A' }) });
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as any).error.message).toMatch(/key: must be one of 0 1 2/);
    });

    it('sends no DtmfData when the call was answered without enableDtmfTones', async () => {
      app.answerWith = answerWithMedia({ enableBidirectional: true });
      const call = await emulator.placeCall();
      await call.waitFor('MediaStreamingStarted');
      expect(call.pressKey('5')).toBe(false);
      await new Promise((r) => setTimeout(r, 100));
      expect(app.mediaMessages.some((m) => m.kind === 'DtmfData')).toBe(false);
      expect(call.timeline.entries.find((e) => e.type === 'dtmf-not-sent')?.detail).toEqual({ key: '5', reason: 'answered without enableDtmfTones' });
    });

    it('plays nothing the app sends on a call answered without enableBidirectional', async () => {
      app.answerWith = answerWithMedia({ enableBidirectional: false });
      const call = await emulator.placeCall();
      await call.waitFor('MediaStreamingStarted');
      const heard: Int16Array[] = [];
      call.on('heard', (f) => heard.push(f));
      app.mediaSockets[0]!.send(audioFrame(500));
      await call.waitFor('outbound-ignored');
      await new Promise((r) => setTimeout(r, 200));
      expect(heard).toEqual([]);
      expect(call.timeline.entries.some((e) => e.type === 'agent-audio')).toBe(false);
      expect(call.media?.isOpen).toBe(true);
    });

    it('plays the SDK\'s createOutboundAudioData frames and the PascalCase frames of the Python/.NET samples', async () => {
      app.answerWith = answerWithMedia({ enableBidirectional: true });
      const call = await emulator.placeCall();
      await call.waitFor('MediaStreamingStarted');
      const heard: Int16Array[] = [];
      call.on('heard', (f) => heard.push(f));
      const socket = app.mediaSockets[0]!;
      socket.send(audioFrame(100));
      socket.send(JSON.stringify({ Kind: 'AudioData', AudioData: { Data: Buffer.from(tone({ frequencyHz: 300, durationMs: 100, sampleRateHz: 16000 }).buffer).toString('base64') }, StopAudio: null }));
      await until(() => heard.length >= 10);
      socket.send(createOutboundStopAudioData());
      await call.waitFor('StopAudio');
      expect(call.timeline.entries.some((e) => e.type === 'invalid-frame')).toBe(false);
    });

    it.each([
      ['mixed casing', JSON.stringify({ kind: 'audioData', AudioData: { data: 'AAAA' } })],
      ['a kind in the wrong case', JSON.stringify({ kind: 'AUDIODATA', audioData: { data: 'AAAA' } })],
      ['an unknown key', JSON.stringify({ kind: 'audioData', audioData: { data: 'AAAA' }, volume: 1 })],
      ['an unknown key in audioData', JSON.stringify({ kind: 'audioData', audioData: { data: 'AAAA', rate: 16000 } })],
      ['malformed base64', JSON.stringify({ kind: 'audioData', audioData: { data: 'AA@A' } })],
      ['an odd byte count', JSON.stringify({ kind: 'audioData', audioData: { data: 'AA==' } })],
      ['audio in a stopAudio frame', JSON.stringify({ kind: 'stopAudio', audioData: { data: 'AAAA' }, stopAudio: {} })],
      ['text that is not JSON', 'play this'],
    ])('closes the media socket (1007) on an outbound frame with %s, as the strict reading of undocumented behaviour', async (_name, frame) => {
      app.answerWith = answerWithMedia({ enableBidirectional: true });
      const call = await emulator.placeCall();
      await call.waitFor('MediaStreamingStarted');
      const closed = new Promise<number>((resolve) => app.mediaSockets[0]!.once('close', (code) => resolve(code)));
      app.mediaSockets[0]!.send(frame);
      expect(await closed).toBe(1007);
      expect((await call.waitFor('invalid-frame')).detail!.reason).toBeTruthy();
    });
  });

  it('judge mode: the official parsers read every Event Grid delivery, callback and media frame of a whole call without a failure', async () => {
    app.answerWith = async (context) => {
      await client.answerCall(context, app.callbackUrl, {
        mediaStreamingOptions: { transportType: 'websocket', transportUrl: app.mediaUrl, contentType: 'audio', audioChannelType: 'unmixed', startMediaStreaming: true, enableBidirectional: true, enableDtmfTones: true, audioFormat: 'pcm24KMono' },
      });
    };
    const call = await emulator.placeCall({ sipHeaders: { 'X-MS-Custom-Ref': 'r1' } });
    await call.waitFor('MediaStreamingStarted');
    call.say(tone({ frequencyHz: 440, durationMs: 100, sampleRateHz: 24000 }));
    call.pressKey('7');
    await until(() => app.mediaMessages.some((m) => m.kind === 'DtmfData') && app.mediaMessages.length >= 10);
    await client.getCallConnection(call.callConnectionId).transferCallToParticipant({ phoneNumber: '+15550121234' });
    await call.ended();
    await judge.settled();
    expect(judge.failures).toEqual([]);
    expect(judge.counts.eventGrid).toBe(2);
    expect(judge.counts.callbacks).toBeGreaterThanOrEqual(6);
    expect(judge.counts.mediaFrames).toBeGreaterThan(5);
  });
});
