import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { CallAutomationClient, type CallInvite } from '@azure/communication-call-automation';
import { startAcsTokenIssuer, type AcsTokenIssuer } from '../acs-token-issuer.js';
import { startAcsEmulator, type AcsEmulator } from './emulator.js';
import WebSocket from 'ws';
import { CREATE_CALL_FAILURES, tone, type RingingCall } from './outbound.js';
import { createOfficialJudge, type OfficialJudge } from './official-judge.js';

/** Where the app would be: a callback endpoint and a media WebSocket, counting what ACS sends. */
async function startApp() {
  const callbacks: { type: string; data: Record<string, any> }[] = [];
  const mediaPaths: string[] = [];
  const audioFrames: { silent: boolean }[] = [];
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    for (const e of JSON.parse(Buffer.concat(chunks).toString('utf8'))) callbacks.push({ type: e.type.replace('Microsoft.Communication.', ''), data: e.data });
    res.writeHead(200).end();
  });
  const wss = new WebSocketServer({ server });
  const mediaSockets: import('ws').WebSocket[] = [];
  wss.on('connection', (socket, req) => {
    mediaPaths.push(req.url ?? '');
    mediaSockets.push(socket);
    socket.on('message', (data) => {
      const message = JSON.parse(data.toString());
      if (message.kind === 'AudioData') audioFrames.push({ silent: message.audioData.silent === true });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    callbacks,
    mediaPaths,
    /** The app speaks on its latest media socket, as the JS SDK's createOutboundAudioData writes it. */
    play: (samples: Int16Array) =>
      mediaSockets.at(-1)!.send(JSON.stringify({ kind: 'audioData', audioData: { data: Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength).toString('base64'), isSilent: false }, stopAudio: {} })),
    audioFrames,
    callbackUrl: `http://${base}/api/callbacks/our-call-1`,
    mediaUrl: `ws://${base}/ws/our-call-1/reminders`,
    close: async () => {
      for (const s of wss.clients) s.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

const until = async (check: () => boolean, timeoutMs = 5000) => {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
};

const OUR_NUMBER = '+15550100100';
const invite = (to: string): CallInvite => ({ targetParticipant: { phoneNumber: to }, sourceCallIdNumber: { phoneNumber: OUR_NUMBER } });

describe('ACS emulator: outbound calls (createCall)', () => {
  let issuer: AcsTokenIssuer;
  let emulator: AcsEmulator;
  let app: Awaited<ReturnType<typeof startApp>>;
  let client: CallAutomationClient;
  let judge: OfficialJudge;

  beforeEach(async () => {
    issuer = await startAcsTokenIssuer({ audience: '6f1c2a7e-0b5d-4c59-9a3e-1ab2c3d4e5f6' });
    judge = createOfficialJudge();
    emulator = await startAcsEmulator({ eventGridWebhookUrl: 'http://127.0.0.1:9/unused', tokenIssuer: issuer, judge, outbound: { ringTimeoutMs: 300 } });
    app = await startApp();
    client = new CallAutomationClient(emulator.connectionString, { allowInsecureConnection: true });
  });
  afterEach(async () => {
    await emulator.close();
    await app.close();
    await issuer.close();
    expect(judge.failures).toEqual([]);
  });

  const place = (to: string) =>
    client.createCall(invite(to), app.callbackUrl, {
      operationContext: 'outbound',
      mediaStreamingOptions: { transportType: 'websocket', transportUrl: app.mediaUrl, contentType: 'audio', audioChannelType: 'mixed', startMediaStreaming: true, enableBidirectional: true, audioFormat: 'pcm24KMono' },
    });

  it('answers createCall with 201 while the callee rings, then reports CallConnected, ParticipantsUpdated and media to the transport URL once the callee answers', async () => {
    emulator.outbound.script('+15550107777', { kind: 'human', answerAfterMs: 100 });
    const result = await place('+15550107777');
    const callConnectionId = result.callConnectionProperties.callConnectionId!;
    expect(emulator.requests.at(-1)).toMatchObject({ operation: 'createCall', status: 201 });
    expect(app.callbacks).toEqual([]);
    const call = [...emulator.calls.values()].find((c) => c.callConnectionId === callConnectionId)!;
    expect(call.direction).toBe('outbound');
    await until(() => app.callbacks.some((c) => c.type === 'MediaStreamingStarted'));
    expect(app.callbacks.map((c) => c.type)).toEqual(['CallConnected', 'ParticipantsUpdated', 'MediaStreamingStarted']);
    expect(app.callbacks[0]!.data).toMatchObject({ callConnectionId, operationContext: 'outbound' });
    expect(app.callbacks[1]!.data.participants.map((p: any) => p.identifier.rawId)).toContain('4:+15550107777');
    expect(app.mediaPaths).toEqual(['/ws/our-call-1/reminders']);
    // The callee speaks: non-silent audio reaches the app.
    await until(() => app.audioFrames.some((f) => !f.silent));
    const props = await client.getCallConnection(callConnectionId).getCallConnectionProperties();
    expect(props.callConnectionState).toBe('connected');
    await client.getCallConnection(callConnectionId).hangUp(true);
    await until(() => app.callbacks.some((c) => c.type === 'CallDisconnected'));
  });

  it.each([
    ['busy', { kind: 'busy' as const, afterMs: 20 }, CREATE_CALL_FAILURES.busy, 'rejected'],
    ['declining', { kind: 'decline' as const, afterMs: 20 }, CREATE_CALL_FAILURES.decline, 'rejected'],
    ['not answering', { kind: 'noAnswer' as const }, CREATE_CALL_FAILURES.noAnswer, 'unanswered'],
  ])('reports CreateCallFailed with its result code when the callee is %s, and forgets the call', async (_name, callee, failure, state) => {
    emulator.outbound.script('+15550108888', callee);
    const result = await place('+15550108888');
    const call = [...emulator.calls.values()].find((c) => c.callConnectionId === result.callConnectionProperties.callConnectionId)!;
    expect(await call.ended()).toBe(state);
    await until(() => app.callbacks.length > 0);
    expect(app.callbacks.map((c) => c.type)).toEqual(['CreateCallFailed']);
    expect(app.callbacks[0]!.data.resultInformation).toMatchObject({ code: failure.code, subCode: failure.subCode });
    await expect(client.getCallConnection(result.callConnectionProperties.callConnectionId!).getCallConnectionProperties()).rejects.toMatchObject({ statusCode: 404 });
  });

  it('plays a voicemail greeting and a beep, then the mailbox hangs up', async () => {
    emulator.outbound.script('+15550106666', { kind: 'voicemail', answerAfterMs: 50, greeting: (rateHz) => tone(rateHz, 300, 400), recordForMs: 200 });
    const result = await place('+15550106666');
    const call = [...emulator.calls.values()].find((c) => c.callConnectionId === result.callConnectionProperties.callConnectionId)!;
    await call.waitFor('voicemail-beep', 5000);
    expect(await call.ended()).toBe('disconnected');
    await until(() => app.callbacks.some((c) => c.type === 'CallDisconnected'));
    expect(app.audioFrames.some((f) => !f.silent)).toBe(true);
  });

  it('refuses a phone-number target without a caller id number, naming the field, as ACS does', async () => {
    await expect(client.createCall({ targetParticipant: { phoneNumber: '+15550107777' } }, app.callbackUrl)).rejects.toMatchObject({
      statusCode: 400,
      message: expect.stringContaining('sourceCallerIdNumber'),
    });
    expect(emulator.requests.at(-1)).toMatchObject({ operation: 'createCall', status: 400 });
    expect(emulator.calls.size).toBe(0);
  });

  it('calls an ACS user without a caller id number', async () => {
    const user = '8:acs:6f1c2a7e-0b5d-4c59-9a3e-1ab2c3d4e5f6_0000001a-aaaa';
    emulator.outbound.script(user, { kind: 'human', answerAfterMs: 10 });
    await client.createCall({ targetParticipant: { communicationUserId: user } }, app.callbackUrl, {
      mediaStreamingOptions: { transportType: 'websocket', transportUrl: app.mediaUrl, contentType: 'audio', audioChannelType: 'mixed', startMediaStreaming: true, enableBidirectional: true, audioFormat: 'pcm16KMono' },
    });
    await until(() => app.callbacks.some((c) => c.type === 'MediaStreamingStarted'));
  });

  describe('a live callee (the softphone, npm run call -- --answer)', () => {
    it('gets its own ACS user id and lab number; a call to either rings it, and accepting connects the call with media as a human callee', async () => {
      const rings: RingingCall[] = [];
      const callee = emulator.outbound.addCallee((ringing) => rings.push(ringing), { name: 'softphone' });
      expect(callee.rawId).toMatch(/^8:acs:6f1c2a7e-0b5d-4c59-9a3e-1ab2c3d4e5f6_softphone-\d+$/);
      expect(callee.phoneNumber).toMatch(/^\+1555012\d{4}$/);
      const result = await place(callee.phoneNumber);
      await until(() => rings.length === 1);
      expect(rings[0]!.call.callConnectionId).toBe(result.callConnectionProperties.callConnectionId);
      expect(app.callbacks).toEqual([]);
      rings[0]!.accept();
      expect(await rings[0]!.settled).toBe('answered');
      await until(() => app.callbacks.some((c) => c.type === 'MediaStreamingStarted'));
      expect(app.callbacks.map((c) => c.type)).toEqual(['CallConnected', 'ParticipantsUpdated', 'MediaStreamingStarted']);
      // Nothing is said until the callee speaks.
      rings[0]!.call.say(tone(24000, 440, 300));
      await until(() => app.audioFrames.some((f) => !f.silent));
      rings[0]!.decline(); // too late: ignored
      await rings[0]!.call.hangUp();
      await until(() => app.callbacks.some((c) => c.type === 'CallDisconnected'));
      callee.remove();
    });

    it.each([
      ['declines', (r: RingingCall) => r.decline(), 'declined', CREATE_CALL_FAILURES.decline, 'rejected'],
      ['is busy', (r: RingingCall) => r.busy(), 'busy', CREATE_CALL_FAILURES.busy, 'rejected'],
      ['lets it ring out', () => undefined, 'unanswered', CREATE_CALL_FAILURES.noAnswer, 'unanswered'],
    ])('reports CreateCallFailed when the callee %s', async (_name, act, outcome, failure, state) => {
      const callee = emulator.outbound.addCallee((ringing) => act(ringing));
      const settled: Promise<string>[] = [];
      const again = emulator.outbound.addCallee((ringing) => settled.push(ringing.settled));
      await place(callee.phoneNumber);
      await until(() => app.callbacks.length > 0);
      expect(app.callbacks.map((c) => c.type)).toEqual(['CreateCallFailed']);
      expect(app.callbacks[0]!.data.resultInformation).toMatchObject({ code: failure.code, subCode: failure.subCode });
      const call = [...emulator.calls.values()].at(-1)!;
      expect(await call.ended()).toBe(state);
      // The other callee is unaffected and rings for its own id too.
      await client.createCall({ targetParticipant: { communicationUserId: again.rawId } }, app.callbackUrl);
      await until(() => settled.length === 1);
      expect(await settled[0]).toBe('unanswered');
      callee.remove();
      again.remove();
    });

    it('refuses a number another callee has, or one that is not E.164, naming the field; removing a callee frees its number and leaves later scripts alone', async () => {
      const first = emulator.outbound.addCallee(() => undefined, { phoneNumber: '+15550129999' });
      expect(() => emulator.outbound.addCallee(() => undefined, { phoneNumber: '+15550129999' })).toThrow(/number: \+15550129999 is already taken/);
      expect(() => emulator.outbound.addCallee(() => undefined, { phoneNumber: '5550129999' })).toThrow(/number: must be an E\.164/);
      expect(() => emulator.outbound.addCallee(() => undefined, { name: 'Bad Name' })).toThrow(/name: /);
      first.remove();
      let rang = false;
      const second = emulator.outbound.addCallee(() => (rang = true), { phoneNumber: '+15550129999' });
      // A script given since the callee registered is left alone when it goes.
      emulator.outbound.script('+15550129999', { kind: 'busy', afterMs: 10 });
      second.remove();
      await place('+15550129999');
      await until(() => app.callbacks.length > 0);
      expect(rang).toBe(false);
      expect(app.callbacks[0]!.data.resultInformation.code).toBe(CREATE_CALL_FAILURES.busy.code);
    });

    it('over the /lab/callee WebSocket: registers, rings, answers, sends audio to the app and hears it, and is told how the call ended', async () => {
      const socket = new WebSocket(`${emulator.url.replace('http', 'ws')}/lab/callee`);
      const messages: { type: string; [k: string]: unknown }[] = [];
      let heardBytes = 0;
      socket.on('message', (data, isBinary) => (isBinary ? (heardBytes += (data as Buffer).length) : messages.push(JSON.parse(data.toString()))));
      await new Promise((r) => socket.once('open', r));
      socket.send('not json');
      socket.send(JSON.stringify({ type: 'accept' }));
      socket.send(JSON.stringify({ type: 'register', number: '+15550121234' }));
      await until(() => messages.some((m) => m.type === 'registered'));
      expect(messages.map((m) => m.type)).toEqual(['error', 'error', 'registered']);
      expect(messages[1]!.message).toMatch(/nothing is ringing/);
      expect(messages[2]).toMatchObject({ phoneNumber: '+15550121234', rawId: expect.stringMatching(/_callee-\d+$/) });
      await place('+15550121234');
      await until(() => messages.some((m) => m.type === 'ringing'));
      socket.send(JSON.stringify({ type: 'accept' }));
      await until(() => messages.some((m) => m.type === 'format'));
      expect(messages.find((m) => m.type === 'format')).toEqual({ type: 'format', sampleRateHz: 24000 });
      socket.send(Buffer.from(tone(24000, 440, 400).buffer));
      await until(() => app.audioFrames.some((f) => !f.silent));
      // What the app plays reaches the callee.
      app.play(tone(24000, 300, 200));
      await until(() => heardBytes > 0);
      socket.send(JSON.stringify({ type: 'hangup' }));
      await until(() => messages.some((m) => m.type === 'ended'));
      expect(messages.at(-1)).toEqual({ type: 'ended', state: 'disconnected', outcome: 'answered' });
      expect(messages.some((m) => m.type === 'timeline' && (m.entry as { type: string }).type === 'hung-up')).toBe(true);
      socket.close();
      // Closing the socket gives the number back.
      await until(() => {
        try {
          emulator.outbound.addCallee(() => undefined, { phoneNumber: '+15550121234' }).remove();
          return true;
        } catch {
          return false;
        }
      });
    });
  });
});
