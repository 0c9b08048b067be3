import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { restartDelayMs, restartWindowMs } from './media-restart.js';
import { answeredCall, callbackEvent, startHarness, type AppInstance, type Harness } from '../test/functions/harness.js';

describe('POST /api/callbacks/{callId} (ACS callbacks)', () => {
  let h: Harness;
  let token: string;
  beforeAll(async () => {
    h = await startHarness({ MEDIA_RESTART_MAX_ATTEMPTS: '2' });
  });
  beforeEach(async () => {
    await h.reset();
    token = await h.issuer.issue();
  });
  afterAll(async () => {
    await h?.close();
  });

  const post = (app: AppInstance, callId: string, body: unknown, headers: Record<string, string> = { authorization: `Bearer ${token}` }) =>
    app.invoke('callbacks', { body, params: { callId }, headers });

  it('publishes each callback type of a batch as its call-metadata message, in order, on the call session', async () => {
    const callId = 'cb-all';
    const cc = 'conn-1';
    const e = (type: string, n: number, data?: Record<string, unknown>) => callbackEvent(type, { id: `ev-${n}`, callId, callConnectionId: cc, ...(data ? { data } : {}) });
    const result = { code: 200, subCode: 0, message: 'ok' };
    const batch = [
      e('CallConnected', 1),
      e('ParticipantsUpdated', 2, {
        sequenceNumber: 3,
        participants: [{ identifier: { kind: 'phoneNumber', rawId: '4:+16041234567', phoneNumber: { value: '+16041234567' } }, isMuted: false, isOnHold: false }],
      }),
      e('MediaStreamingStarted', 3, { mediaStreamingUpdate: { contentType: 'Audio', mediaStreamingStatus: 'mediaStreamingStarted', mediaStreamingStatusDetails: 'subscriptionStarted' } }),
      e('CallTransferAccepted', 4, { operationContext: 'xfer-1', resultInformation: result, transferTarget: { rawId: '4:+15550001111', phoneNumber: { value: '+15550001111' } } }),
      e('CallTransferFailed', 5, { operationContext: 'xfer-2', resultInformation: { code: 500, subCode: 7507, message: 'failed' } }),
      e('AnswerFailed', 6, { resultInformation: { code: 408, subCode: 8587, message: 'not answered in time' } }),
      e('PlayCompleted', 7),
      e('CallDisconnected', 8, { resultInformation: { code: 200, subCode: 560000, message: 'normal' } }),
      e('MediaStreamingStopped', 9, { mediaStreamingUpdate: { mediaStreamingStatus: 'mediaStreamingStopped', mediaStreamingStatusDetails: 'subscriptionStopped' } }),
      e('MediaStreamingFailed', 10, { resultInformation: { code: 500, subCode: 8581, message: 'Transport url is not valid' } }),
    ];
    const response = await post(h.instance(), callId, batch);

    expect(response).toMatchObject({ status: 200, jsonBody: { published: 9, ignored: ['Microsoft.Communication.PlayCompleted'] } });
    const messages = h.published();
    expect(messages.map((m) => [m.type, m.eventId])).toEqual([
      ['call.connected', 'ev-1'],
      ['participants.updated', 'ev-2'],
      ['media.started', 'ev-3'],
      ['transfer.accepted', 'ev-4'],
      ['transfer.failed', 'ev-5'],
      ['answer.failed', 'ev-6'],
      ['call.disconnected', 'ev-8'],
      ['media.stopped', 'ev-9'],
      ['media.failed', 'ev-10'],
    ]);
    expect(messages.every((m) => m.callId === callId && m.callConnectionId === cc && m.occurredAt === '2026-01-05T10:00:05.000Z')).toBe(true);
    expect(h.busMessages().every((m) => m.sessionId === callId)).toBe(true);
    expect(messages[1]?.data).toEqual({
      sequenceNumber: 3,
      participants: [{ identifier: { kind: 'phoneNumber', rawId: '4:+16041234567', phoneNumber: '+16041234567' }, isMuted: false, isOnHold: false }],
    });
    expect(messages[2]?.data).toEqual({ mediaStreamingUpdate: { contentType: 'Audio', status: 'mediaStreamingStarted', statusDetails: 'subscriptionStarted' } });
    expect(messages[3]?.data).toEqual({ operationContext: 'xfer-1', resultInformation: result, transferTarget: { kind: 'phoneNumber', rawId: '4:+15550001111', phoneNumber: '+15550001111' } });
    expect(messages[5]?.data).toEqual({ resultInformation: { code: 408, subCode: 8587, message: 'not answered in time' } });
    // The disconnect in the batch means the media stop/failure is the call ending: nothing is restarted.
    expect(h.acs.requests).toHaveLength(0);
  });

  describe('media streaming restart', () => {
    it('starts media streaming again when it fails while the call is connected', async () => {
      const cc = await answeredCall(h, 'mr-1');
      h.acs.calls.get(cc)!.mediaStreaming = 'inactive';
      const failed = callbackEvent('MediaStreamingFailed', { id: 'mf-1', callId: 'mr-1', callConnectionId: cc, data: { resultInformation: { code: 500, subCode: 8581 } } });
      expect((await post(h.instance(), 'mr-1', [failed])).status).toBe(200);

      expect(h.acs.requests.map((r) => `${r.method} ${r.path}`)).toEqual([`GET /calling/callConnections/${cc}`, `POST /calling/callConnections/${cc}:startMediaStreaming`]);
      expect(h.acs.requests.every((r) => r.authenticated)).toBe(true);
      expect(h.acs.requestsFor('startMediaStreaming')[0]?.body).toEqual({ operationContext: expect.stringMatching(/^media-restart:1@\d+$/) });
      expect(h.acs.calls.get(cc)?.mediaStreaming).toBe('active');
      expect(h.published().map((m) => [m.type, m.eventId])).toEqual([
        ['media.failed', 'mf-1'],
        ['media.restartRequested', 'mf-1:restart'],
      ]);
      expect(h.published()[1]?.data).toEqual({ attempt: 1, maxAttempts: 2, trigger: 'MediaStreamingFailed' });
    });

    it('counts attempts and the window across instances through the operationContext, and hangs up once they are spent', async () => {
      const cc = await answeredCall(h, 'mr-2');
      const stopped = (n: number, operationContext?: string) =>
        callbackEvent('MediaStreamingStopped', { id: `ms-${n}`, callId: 'mr-2', callConnectionId: cc, ...(operationContext ? { data: { operationContext } } : {}) });

      await post(h.instance(), 'mr-2', [stopped(1)]);
      // ACS echoes the restart's operationContext in the event that reports how that restart went.
      const echo = () => (h.acs.requestsFor('startMediaStreaming').at(-1)?.body as { operationContext: string }).operationContext;
      await post(h.instance(), 'mr-2', [stopped(2, echo())]);
      await post(h.instance(), 'mr-2', [stopped(3, echo())]);

      const contexts = h.acs.requestsFor('startMediaStreaming').map((r) => (r.body as { operationContext: string }).operationContext);
      expect(contexts).toEqual([expect.stringMatching(/^media-restart:1@\d+$/), expect.stringMatching(/^media-restart:2@\d+$/)]);
      // The window starts at the first attempt, whichever instance made it.
      expect(contexts[1]!.split('@')[1]).toBe(contexts[0]!.split('@')[1]);
      expect(h.acs.requestsFor('terminate')).toHaveLength(1);
      expect(h.acs.calls.get(cc)?.state).toBe('disconnected');
      expect(h.published().filter((m) => m.type !== 'media.stopped').map((m) => [m.type, m.data])).toEqual([
        ['media.restartRequested', { attempt: 1, maxAttempts: 2, trigger: 'MediaStreamingStopped' }],
        ['media.restartRequested', { attempt: 2, maxAttempts: 2, trigger: 'MediaStreamingStopped' }],
        ['call.hangUpRequested', { reason: 'mediaRestartsExhausted', attempts: 2, windowMs: expect.any(Number) }],
      ]);
      // The second attempt waited its backoff, so the window is at least that long.
      expect((h.published().at(-1)?.data as { windowMs: number }).windowMs).toBeGreaterThanOrEqual(restartDelayMs(2));
    });

    it('spreads the attempts: the first at once, each later one only after its backoff (0.5 s, 1 s, 2 s, then 4 s), so a restarting replica has about 20 s to come back', async () => {
      expect([1, 2, 3, 4, 5, 6, 7, 8].map(restartDelayMs)).toEqual([0, 500, 1000, 2000, 4000, 4000, 4000, 4000]);
      expect(restartWindowMs(8)).toBe(19_500);
      const cc = await answeredCall(h, 'mr-6');
      const app = h.instance({ MEDIA_RESTART_MAX_ATTEMPTS: '8' });
      const failed = (n: number, operationContext: string) =>
        callbackEvent('MediaStreamingFailed', { id: `mf6-${n}`, callId: 'mr-6', callConnectionId: cc, data: { operationContext } });
      const postedAt = Date.now();
      await post(app, 'mr-6', [failed(1, `media-restart:2@${postedAt - 1000}`)]);
      const restart = h.acs.requestsFor('startMediaStreaming')[0]!;
      expect(restart.body).toEqual({ operationContext: `media-restart:3@${postedAt - 1000}` });
      expect(restart.receivedAt.getTime() - postedAt).toBeGreaterThanOrEqual(restartDelayMs(3) - 5);
    });

    it('once media is back, a later loss starts a new run of attempts instead of using up the old one', async () => {
      const cc = await answeredCall(h, 'mr-8');
      const app = h.instance({ MEDIA_RESTART_MAX_ATTEMPTS: '1' });
      await post(app, 'mr-8', [callbackEvent('MediaStreamingFailed', { id: 'mf8-1', callId: 'mr-8', callConnectionId: cc })]);
      await post(app, 'mr-8', [callbackEvent('MediaStreamingStarted', { id: 'ms8-1', callId: 'mr-8', callConnectionId: cc })]);
      h.acs.calls.get(cc)!.mediaStreaming = 'inactive';
      await post(app, 'mr-8', [callbackEvent('MediaStreamingFailed', { id: 'mf8-2', callId: 'mr-8', callConnectionId: cc })]);
      expect(h.acs.requestsFor('startMediaStreaming')).toHaveLength(2);
      expect(h.acs.requestsFor('terminate')).toHaveLength(0);
    });

    it('a caller who hangs up during the backoff gets no restart: the call state is read after the wait', async () => {
      const cc = await answeredCall(h, 'mr-7');
      const app = h.instance();
      const pending = post(app, 'mr-7', [callbackEvent('MediaStreamingFailed', { id: 'mf7', callId: 'mr-7', callConnectionId: cc, data: { operationContext: `media-restart:1@${Date.now()}` } })]);
      // The caller hangs up 200 ms into the 500 ms backoff.
      await new Promise((resolve) => setTimeout(resolve, 200));
      h.acs.setCallState(cc, 'disconnected');
      expect((await pending).status).toBe(200);
      expect(h.acs.requests.map((r) => r.operation)).toEqual(['getCall']);
      expect(h.published().map((m) => m.type)).toEqual(['media.failed']);
    });

    it('keeps its own count on one instance even when ACS echoes no operationContext', async () => {
      const cc = await answeredCall(h, 'mr-3');
      const app = h.instance({ MEDIA_RESTART_MAX_ATTEMPTS: '1' });
      await post(app, 'mr-3', [callbackEvent('MediaStreamingFailed', { id: 'mf-a', callId: 'mr-3', callConnectionId: cc })]);
      await post(app, 'mr-3', [callbackEvent('MediaStreamingFailed', { id: 'mf-b', callId: 'mr-3', callConnectionId: cc })]);
      expect(h.acs.requestsFor('startMediaStreaming')).toHaveLength(1);
      expect(h.acs.requestsFor('terminate')).toHaveLength(1);
    });

    it('restarts nothing after CallDisconnected, nor when ACS says the call is no longer connected', async () => {
      const cc = await answeredCall(h, 'mr-4');
      const app = h.instance();
      await post(app, 'mr-4', [callbackEvent('CallDisconnected', { id: 'd-1', callId: 'mr-4', callConnectionId: cc })]);
      await post(app, 'mr-4', [callbackEvent('MediaStreamingStopped', { id: 's-1', callId: 'mr-4', callConnectionId: cc })]);
      expect(h.acs.requests).toHaveLength(0);

      const cc2 = await answeredCall(h, 'mr-5');
      h.acs.setCallState(cc2, 'disconnected');
      const response = await post(h.instance(), 'mr-5', [callbackEvent('MediaStreamingStopped', { id: 's-2', callId: 'mr-5', callConnectionId: cc2 })]);
      expect(response.status).toBe(200);
      expect(h.acs.requests.map((r) => r.operation)).toEqual(['getCall']);
      expect(h.published().map((m) => m.type)).toEqual(['call.disconnected', 'media.stopped', 'media.stopped']);
    });
  });

  it('a redelivered callback is neither published nor acted on twice', async () => {
    const cc = await answeredCall(h, 'dup-cb');
    const app = h.instance();
    const body = [callbackEvent('MediaStreamingFailed', { id: 'dup-1', callId: 'dup-cb', callConnectionId: cc })];
    expect((await post(app, 'dup-cb', body)).status).toBe(200);
    expect((await post(app, 'dup-cb', body)).status).toBe(200);
    expect(h.acs.requestsFor('startMediaStreaming')).toHaveLength(1);
    expect(h.published().map((m) => m.type)).toEqual(['media.failed', 'media.restartRequested']);
  });

  it('a redelivery arriving while the first delivery is still restarting media waits for it and restarts media once', async () => {
    const cc = await answeredCall(h, 'dup-flight');
    const app = h.instance();
    const body = [callbackEvent('MediaStreamingStopped', { id: 'dup-f1', callId: 'dup-flight', callConnectionId: cc })];
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const starts: (() => void)[] = [];
    let startsSeen = 0;
    const remove = h.acs.beforeRespond(async (exchange, next) => {
      if (exchange.request.operation === 'startMediaStreaming') {
        startsSeen += 1;
        starts.splice(0).forEach((notify) => notify());
        await released;
      }
      return next();
    });
    const nextStart = (timeoutMs: number) =>
      new Promise<void>((resolve) => {
        starts.push(resolve);
        setTimeout(resolve, timeoutMs).unref();
      });
    try {
      const firstHeld = nextStart(5_000);
      const first = post(app, 'dup-flight', body);
      await firstHeld;
      expect(startsSeen).toBe(1);
      // The redelivery comes while ACS still holds the first restart; left alone it would reach ACS at once.
      const secondStart = nextStart(300);
      const second = post(app, 'dup-flight', body);
      await secondStart;
      release();
      expect([(await first).status, (await second).status]).toEqual([200, 200]);
    } finally {
      release();
      remove();
    }
    expect(h.acs.requestsFor('startMediaStreaming').map((r) => r.body)).toEqual([{ operationContext: expect.stringMatching(/^media-restart:1@\d+$/) }]);
    expect(h.published().map((m) => m.eventId)).toEqual(['dup-f1', 'dup-f1:restart']);
  });

  it('with Service Bus down it acts, answers 503, and on redelivery publishes without acting again', async () => {
    const cc = await answeredCall(h, 'bus-cb');
    const app = h.instance();
    const body = [callbackEvent('MediaStreamingStopped', { id: 'bus-1', callId: 'bus-cb', callConnectionId: cc })];
    await h.bus.stop();
    expect((await post(app, 'bus-cb', body)).status).toBe(503);
    expect(h.acs.requestsFor('startMediaStreaming')).toHaveLength(1);
    await h.bus.restart();
    expect((await post(app, 'bus-cb', body)).status).toBe(200);
    expect(h.acs.requestsFor('startMediaStreaming')).toHaveLength(1);
    expect(h.published().map((m) => m.eventId)).toEqual(['bus-1', 'bus-1:restart']);
  });

  describe('refused requests change nothing', () => {
    const event = () => callbackEvent('CallConnected', { id: 'r-1', callId: 'r', callConnectionId: 'conn-r' });

    it('without a token, with a token signed by an unknown key, for another resource, or expired: 401', async () => {
      const app = h.instance();
      const tokens: Record<string, string>[] = [
        {},
        { authorization: `Bearer ${await h.issuer.issueWithUnknownKey()}` },
        { authorization: `Bearer ${await h.issuer.issue({ audience: '11111111-2222-4333-8444-555555555555' })}` },
        { authorization: `Bearer ${await h.issuer.issue({ expiresInSeconds: -600 })}` },
        { authorization: 'Basic dXNlcjpwYXNz' },
      ];
      for (const headers of tokens) {
        const response = await post(app, 'r', [event()], headers);
        expect(response.status).toBe(401);
      }
      expect(h.busMessages()).toHaveLength(0);
      expect(h.acs.requests).toHaveLength(0);
    });

    it('a callId outside [A-Za-z0-9._:-]{1,128} (slash, dot-dot, NUL, CRLF, right-to-left mark, 129 characters): 400 before authentication, publishing or any ACS request', async () => {
      const app = h.instance();
      for (const callId of ['a/b', '..', 'a\u0000b', 'a\r\nb', 'abc\u202Edef', 'x'.repeat(129), '']) {
        const response = await app.invoke('callbacks', { body: [event()], params: { callId }, headers: {} });
        expect(response.status).toBe(400);
        expect(JSON.stringify(response.jsonBody)).toMatch(/callId must be/);
      }
      expect(h.busMessages()).toHaveLength(0);
      expect(h.acs.requests).toHaveLength(0);
    });

    const cases: [string, { rawBody?: string; body?: unknown }, RegExp][] = [
      ['bad JSON', { rawBody: '{"oops' }, /not valid JSON/],
      ['an event without callConnectionId', { body: [{ ...event(), data: { correlationId: 'r' } }] }, /callConnectionId/],
      ['an IncomingCall sent to a callback URL', { body: [{ ...event(), type: 'Microsoft.Communication.IncomingCall' }] }, /wrong event type/],
      ['a CloudEvent without specversion 1.0', { body: [{ ...event(), specversion: '0.3' }] }, /specversion/],
    ];
    for (const [name, init, reason] of cases) {
      it(`${name}: 400 with the reason`, async () => {
        const response = await h.instance().invoke('callbacks', { ...init, params: { callId: 'r' }, headers: { authorization: `Bearer ${token}` } });
        expect(response.status).toBe(400);
        expect(JSON.stringify(response.jsonBody)).toMatch(reason);
        expect(h.busMessages()).toHaveLength(0);
        expect(h.acs.requests).toHaveLength(0);
      });
    }
  });
});
