import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { callBucket } from './screening.js';
import { acsError } from '../lab/acs/rest-peer.js';
import { callbackEvent, incomingCallEvent, startHarness, type Harness } from '../test/functions/harness.js';

describe('POST /api/incomingCall (Event Grid webhook)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  beforeEach(async () => {
    await h.reset();
  });
  afterAll(async () => {
    await h?.close();
  });

  describe('subscription validation', () => {
    it('answers the Event Grid schema handshake with the validation code, and does nothing else', async () => {
      const app = h.instance();
      const response = await app.invoke('incomingCall', {
        headers: { 'aeg-event-type': 'SubscriptionValidation' },
        body: [
          {
            id: 'v1',
            topic: 't',
            subject: '',
            eventType: 'Microsoft.EventGrid.SubscriptionValidationEvent',
            eventTime: '2026-01-05T10:00:00Z',
            dataVersion: '1',
            data: { validationCode: 'CODE-123', validationUrl: 'https://rp-westeurope.eventgrid.azure.net:553/validate?id=1' },
          },
        ],
      });
      expect(response).toMatchObject({ status: 200, jsonBody: { validationResponse: 'CODE-123' } });
      expect(h.acs.requests).toHaveLength(0);
    });

    it('consents to the CloudEvents OPTIONS handshake by echoing the requesting origin', async () => {
      const app = h.instance();
      const response = await app.invoke('incomingCall', { method: 'OPTIONS', headers: { 'WebHook-Request-Origin': 'eventgrid.azure.net' } });
      expect(response.status).toBe(200);
      expect(response.headers).toMatchObject({ 'WebHook-Allowed-Origin': 'eventgrid.azure.net' });
      const refused = await app.invoke('incomingCall', { method: 'OPTIONS' });
      expect(refused.status).toBe(400);
    });
  });

  it('answers with media streaming to the worker exactly as configured, and publishes the call metadata', async () => {
    const app = h.instance();
    const callId = 'd732db64-4803-462d-be9c-518943ea2b7a';
    // As in ACS, the IncomingCall event and the answered call name the same serverCallId.
    const context = h.acs.createIncomingCallContext({ correlationId: callId, serverCallId: `server-${callId}` });
    const response = await app.invoke('incomingCall', { body: [incomingCallEvent({ context, callId, id: 'eg-1' })] });

    expect(response.status).toBe(200);
    const [answer] = h.acs.requestsFor('answer');
    expect(answer?.authenticated).toBe(true);
    expect(answer?.body).toEqual({
      incomingCallContext: context,
      callbackUri: `https://func.example.net/api/callbacks/${callId}`,
      operationContext: 'answer',
      mediaStreamingOptions: {
        transportType: 'websocket',
        transportUrl: `wss://worker.example.net/ws/${callId}`,
        contentType: 'audio',
        audioChannelType: 'mixed',
        startMediaStreaming: true,
        enableBidirectional: true,
        audioFormat: 'pcm24KMono',
        enableDtmfTones: true,
      },
    });

    const callConnectionId = [...h.acs.calls.keys()][0];
    const messages = h.busMessages();
    expect(messages.map((m) => [m.messageId, m.sessionId, m.applicationProperties.type])).toEqual([
      ['eg-1', callId, 'call.incoming'],
      ['eg-1:answered', callId, 'call.answered'],
    ]);
    expect(h.published()).toEqual([
      {
        schemaVersion: 1,
        type: 'call.incoming',
        callId,
        serverCallId: h.acs.calls.get(callConnectionId!)?.serverCallId,
        eventId: 'eg-1',
        occurredAt: '2026-01-05T10:00:00.000Z',
        data: {
          from: { kind: 'phoneNumber', rawId: '4:+16041234567', phoneNumber: '+16041234567' },
          to: { kind: 'phoneNumber', rawId: '4:+18331234567', phoneNumber: '+18331234567' },
          callerDisplayName: 'Ada Caller',
        },
      },
      expect.objectContaining({
        type: 'call.answered',
        callId,
        callConnectionId,
        eventId: 'eg-1:answered',
        data: {
          callbackUrl: `https://func.example.net/api/callbacks/${callId}`,
          mediaTransportUrl: `wss://worker.example.net/ws/${callId}`,
          audioFormat: 'pcm24KMono',
        },
      }),
    ]);
    const logText = h.logs.join('');
    expect(logText).toContain(`"callId":"${callId}"`);
    expect(logText).not.toContain('6041234567');
  });

  it('asks ACS for unmixed audio (one channel per dominant speaker) when MEDIA_AUDIO_CHANNEL=unmixed, the rest unchanged', async () => {
    const app = h.instance({ MEDIA_AUDIO_CHANNEL: 'unmixed' });
    const callId = 'unmixed-call';
    await app.invoke('incomingCall', { body: [incomingCallEvent({ context: h.acs.createIncomingCallContext({ correlationId: callId }), callId })] });
    const [answer] = h.acs.requestsFor('answer');
    expect(answer?.status).toBe(200);
    expect((answer?.body as { mediaStreamingOptions: unknown }).mediaStreamingOptions).toEqual({
      transportType: 'websocket',
      transportUrl: `wss://worker.example.net/ws/${callId}`,
      contentType: 'audio',
      audioChannelType: 'unmixed',
      startMediaStreaming: true,
      enableBidirectional: true,
      audioFormat: 'pcm24KMono',
      enableDtmfTones: true,
    });
  });

  describe('agent profiles by called number (AGENT_PROFILE_BY_NUMBER)', () => {
    const env = { AGENT_PROFILE_BY_NUMBER: '+18005550100=sales,+1833*=support' };
    const answerOf = (callId: string) => h.acs.requestsFor('answer').find((r) => (r.body as { callbackUri: string }).callbackUri.endsWith(`/${callId}`));

    it('appends the profile of the number called to the media URL and names it in call.answered; another number gets neither', async () => {
      const app = h.instance(env);
      const calls = [
        { callId: 'line-sales', to: '+18005550100' },
        { callId: 'line-support', to: '+18331234567' },
        { callId: 'line-other', to: '+18005550199' },
      ];
      for (const { callId, to } of calls) {
        await app.invoke('incomingCall', { body: [incomingCallEvent({ context: h.acs.createIncomingCallContext({ correlationId: callId }), callId, to })] });
      }
      const transportUrl = (callId: string) => (answerOf(callId)?.body as { mediaStreamingOptions: { transportUrl: string } }).mediaStreamingOptions.transportUrl;
      expect(transportUrl('line-sales')).toBe('wss://worker.example.net/ws/line-sales/sales');
      expect(transportUrl('line-support')).toBe('wss://worker.example.net/ws/line-support/support');
      expect(transportUrl('line-other')).toBe('wss://worker.example.net/ws/line-other');

      const answered = (callId: string) => h.published().find((m) => m.type === 'call.answered' && m.callId === callId)?.data;
      expect(answered('line-sales')).toEqual({
        callbackUrl: 'https://func.example.net/api/callbacks/line-sales',
        mediaTransportUrl: 'wss://worker.example.net/ws/line-sales/sales',
        audioFormat: 'pcm24KMono',
        profile: 'sales',
      });
      expect(answered('line-other')).toEqual({ callbackUrl: 'https://func.example.net/api/callbacks/line-other', mediaTransportUrl: 'wss://worker.example.net/ws/line-other', audioFormat: 'pcm24KMono' });
      expect(h.logs.join('')).toContain('"profile":"sales"');
    });

    it('a media restart asks ACS for streaming without a URL, so the call stays on the URL it was answered with, profile included', async () => {
      const app = h.instance(env);
      const callId = 'line-restart';
      await app.invoke('incomingCall', { body: [incomingCallEvent({ context: h.acs.createIncomingCallContext({ correlationId: callId }), callId, to: '+18005550100' })] });
      const [callConnectionId, call] = [...h.acs.calls.entries()][0]!;
      call.mediaStreaming = 'inactive';
      const failed = callbackEvent('MediaStreamingFailed', { id: 'mf-profile', callId, callConnectionId, data: { resultInformation: { code: 500, subCode: 8581 } } });
      const response = await app.invoke('callbacks', { body: [failed], params: { callId }, headers: { authorization: `Bearer ${await h.issuer.issue()}` } });
      expect(response.status).toBe(200);
      expect(h.acs.requestsFor('startMediaStreaming').map((r) => r.body)).toEqual([{ operationContext: expect.stringMatching(/^media-restart:1@\d+$/) }]);
      expect(call.mediaStreaming).toBe('active');
      expect(call.mediaStreamingOptions?.transportUrl).toBe(`wss://worker.example.net/ws/${callId}/sales`);
    });
  });

  it('refuses an IncomingCall whose correlationId the worker would not accept as a callId, before answering or publishing', async () => {
    const app = h.instance();
    for (const callId of ['call id/with+odd?chars', '..', 'a\u0000b', 'a\r\nb', 'abc\u202Edef', 'x'.repeat(129)]) {
      const response = await app.invoke('incomingCall', { body: [incomingCallEvent({ context: h.acs.createIncomingCallContext({ correlationId: callId }), callId })] });
      expect(response.status).toBe(400);
      expect(JSON.stringify(response.jsonBody)).toMatch(/correlationId/);
    }
    expect(h.acs.requests).toHaveLength(0);
    expect(h.busMessages()).toHaveLength(0);
  });

  it('answers a single CloudEvent object as well as a one-event array', async () => {
    const app = h.instance();
    const one = incomingCallEvent({ context: h.acs.createIncomingCallContext({ correlationId: 'c1' }), callId: 'c1' });
    expect((await app.invoke('incomingCall', { body: [one] })).status).toBe(200);

    const cloud = incomingCallEvent({ context: h.acs.createIncomingCallContext({ correlationId: 'c4' }), callId: 'c4' });
    const cloudEvent = { specversion: '1.0', id: cloud.id, type: cloud.eventType, source: cloud.topic, subject: cloud.subject, time: cloud.eventTime, data: cloud.data };
    expect((await app.invoke('incomingCall', { body: cloudEvent, headers: { 'content-type': 'application/cloudevents+json; charset=utf-8' } })).status).toBe(200);

    expect(h.acs.requestsFor('answer')).toHaveLength(2);
    expect(new Set(h.published().map((m) => m.callId))).toEqual(new Set(['c1', 'c4']));
  });

  it('refuses a delivery of more events than the subscription sends (maxEventsPerBatch 1) whole: 413, nothing answered or published', async () => {
    const app = h.instance();
    const batch = Array.from({ length: 1000 }, (_, i) => incomingCallEvent({ context: h.acs.createIncomingCallContext({ correlationId: `b${i}` }), callId: `b${i}` }));
    const response = await app.invoke('incomingCall', { body: batch.slice(0, 2) });
    expect(response.status).toBe(413);
    expect(JSON.stringify(response.jsonBody)).toMatch(/at most 1 per delivery/);
    expect((await app.invoke('incomingCall', { body: batch })).status).toBe(413);
    expect(h.acs.requests).toHaveLength(0);
    expect(h.busMessages()).toHaveLength(0);
  });

  describe('calls not for us', () => {
    it('rejects a call to a number outside CALLED_NUMBERS_ALLOWED, without answering or publishing', async () => {
      const app = h.instance({ CALLED_NUMBERS_ALLOWED: '+18330000000' });
      const response = await app.invoke('incomingCall', { body: [incomingCallEvent({ context: h.acs.createIncomingCallContext(), callId: 'x1' })] });
      expect(response.status).toBe(200);
      expect(h.acs.requestsFor('answer')).toHaveLength(0);
      expect(h.acs.requestsFor('reject')[0]?.body).toMatchObject({ callRejectReason: 'busy' });
      expect(h.busMessages()).toHaveLength(0);
    });

    it('redirects a denied caller to the configured number', async () => {
      const app = h.instance({ CALLER_NUMBERS_DENIED: '+1604*', NOT_FOR_US_ACTION: 'redirect', NOT_FOR_US_REDIRECT_TO: '+15550001234' });
      await app.invoke('incomingCall', { body: [incomingCallEvent({ context: h.acs.createIncomingCallContext(), callId: 'x2' })] });
      expect(h.acs.requestsFor('answer')).toHaveLength(0);
      expect(h.acs.requestsFor('redirect')[0]?.body).toMatchObject({ target: { phoneNumber: { value: '+15550001234' } } });
      expect(h.busMessages()).toHaveLength(0);
    });
  });

  describe('the agent\'s share of calls (AGENT_CALL_PERCENT)', () => {
    it('answers the calls in the share and redirects the others to the human line, deciding each call the same way every time', async () => {
      const env = { AGENT_CALL_PERCENT: '30', NOT_FOR_US_ACTION: 'redirect', NOT_FOR_US_REDIRECT_TO: '+15550001234' };
      const ids = Array.from({ length: 40 }, (_, i) => `share-${i}`);
      const inShare = ids.find((id) => callBucket(id) < 30)!;
      const outside = ids.find((id) => callBucket(id) >= 30)!;
      const app = h.instance(env);
      for (const callId of [inShare, outside]) {
        await app.invoke('incomingCall', { body: [incomingCallEvent({ context: h.acs.createIncomingCallContext({ correlationId: callId }), callId })] });
      }
      expect(h.acs.requestsFor('answer')).toHaveLength(1);
      expect(h.acs.requestsFor('redirect')).toHaveLength(1);
      expect(h.acs.requestsFor('redirect')[0]?.body).toMatchObject({ target: { phoneNumber: { value: '+15550001234' } } });
      expect(new Set(h.published().map((m) => m.callId))).toEqual(new Set([inShare]));

      // Another instance gets a redelivery of the call outside the share: the same decision.
      await h.instance(env).invoke('incomingCall', { body: [incomingCallEvent({ context: h.acs.createIncomingCallContext({ correlationId: outside }), callId: outside })] });
      expect(h.acs.requestsFor('answer')).toHaveLength(1);
      expect(h.acs.requestsFor('redirect')).toHaveLength(2);
    });
  });

  describe('redelivery', () => {
    it('a duplicate delivery to the same instance neither answers nor publishes again', async () => {
      const app = h.instance();
      const body = [incomingCallEvent({ context: h.acs.createIncomingCallContext({ correlationId: 'dup' }), callId: 'dup' })];
      const [first, second] = await Promise.all([app.invoke('incomingCall', { body }), app.invoke('incomingCall', { body })]);
      const third = await app.invoke('incomingCall', { body });
      expect([first.status, second.status, third.status]).toEqual([200, 200, 200]);
      expect(h.acs.requestsFor('answer')).toHaveLength(1);
      expect(h.busMessages()).toHaveLength(2);
    });

    it('concurrent duplicates waiting on a delivery that failed answer the call once between them', async () => {
      const app = h.instance();
      const body = [incomingCallEvent({ context: h.acs.createIncomingCallContext({ correlationId: 'dup3' }), callId: 'dup3' })];
      h.acs.failNext('answer', { status: 503, code: 'ServiceUnavailable' });
      const statuses = (await Promise.all([1, 2, 3].map(() => app.invoke('incomingCall', { body })))).map((r) => r.status);
      expect(statuses.sort()).toEqual([200, 200, 503]);
      expect(h.acs.requestsFor('answer').map((r) => r.status)).toEqual([503, 200]);
      expect(h.published().map((m) => m.type)).toEqual(['call.incoming', 'call.answered']);
    });

    it('a duplicate delivery to another instance is refused by ACS and dropped by duplicate detection', async () => {
      const body = [incomingCallEvent({ context: h.acs.createIncomingCallContext({ correlationId: 'dup2' }), callId: 'dup2' })];
      expect((await h.instance().invoke('incomingCall', { body })).status).toBe(200);
      const other = await h.instance().invoke('incomingCall', { body });
      expect(other.status).toBe(200);
      expect(h.acs.requestsFor('answer').map((r) => r.status)).toEqual([200, 400]);
      expect(h.acs.calls.size).toBe(1);
      // The second instance's call.incoming is the same message (dropped); its refusal is said as such.
      expect(h.published().map((m) => m.type)).toEqual(['call.incoming', 'call.answered', 'call.answerRefused']);
      expect(h.published()[2]?.data).toMatchObject({ status: 400 });
    });

    it('an IncomingCall whose answer ACS refuses publishes the refusal, never call.answered', async () => {
      const body = [incomingCallEvent({ context: h.acs.createIncomingCallContext({ correlationId: 'gone' }), callId: 'gone' })];
      h.acs.failNext('answer', { status: 404, code: '8522' });
      const response = await h.instance().invoke('incomingCall', { body });
      expect(response.status).toBe(200);
      expect(response.jsonBody).toMatchObject({ results: [{ callId: 'gone', outcome: 'answerRefused' }] });
      expect(h.published().map((m) => [m.type, m.data])).toEqual([
        ['call.incoming', expect.anything()],
        ['call.answerRefused', { status: 404, code: '8522' }],
      ]);
    });
  });

  it('when Service Bus is down it still answers, asks for redelivery, and on redelivery publishes without answering again', async () => {
    const app = h.instance();
    const body = [incomingCallEvent({ context: h.acs.createIncomingCallContext({ correlationId: 'busdown' }), callId: 'busdown' })];
    await h.bus.stop();
    const during = await app.invoke('incomingCall', { body });
    expect(during.status).toBe(503);
    expect(h.acs.requestsFor('answer')).toHaveLength(1);
    expect(h.acs.calls.size).toBe(1);

    await h.bus.restart();
    const after = await app.invoke('incomingCall', { body });
    expect(after.status).toBe(200);
    expect(h.acs.requestsFor('answer')).toHaveLength(1);
    expect(h.published().map((m) => m.type)).toEqual(['call.incoming', 'call.answered']);
  });

  it('asks for redelivery when ACS fails transiently, then answers on the redelivery', async () => {
    const app = h.instance();
    const body = [incomingCallEvent({ context: h.acs.createIncomingCallContext({ correlationId: 'flaky' }), callId: 'flaky' })];
    h.acs.failNext('answer', { status: 503, code: 'ServiceUnavailable' });
    expect((await app.invoke('incomingCall', { body })).status).toBe(503);
    // call.incoming went out while ACS was asked; nothing says the call was answered.
    expect(h.published().map((m) => m.type)).toEqual(['call.incoming']);
    expect((await app.invoke('incomingCall', { body })).status).toBe(200);
    expect(h.acs.calls.size).toBe(1);
    expect(h.acs.requestsFor('answer').map((r) => r.status)).toEqual([503, 200]);
    expect(h.busMessages().map((m) => [m.messageId, m.applicationProperties.type])).toEqual([
      ['eg-flaky', 'call.incoming'],
      ['eg-flaky:answered', 'call.answered'],
    ]);
  });

  describe('order on the call session', () => {
    it('publishes call.incoming while ACS answers, so the session reads incoming, answered, connected when CallConnected follows at once', async () => {
      const app = h.instance();
      const callId = 'order-1';
      const token = await h.issuer.issue();
      const callbacks: Promise<unknown>[] = [];
      // As the lab's ACS emulator does: CallConnected is posted as soon as the answer has been answered.
      const stop = h.acs.onRequest((request, call) => {
        if (request.operation !== 'answer' || !call) return;
        const event = callbackEvent('CallConnected', { id: `cc-${callId}`, callId, callConnectionId: call.callConnectionId, data: { operationContext: 'answer' } });
        callbacks.push(app.invoke('callbacks', { body: [event], params: { callId }, headers: { authorization: `Bearer ${token}` } }));
      });
      // ACS holds the answer until call.incoming is on the bus: only a publish that does not wait for the
      // answer gets there (a handler publishing after answerCall would get a 500 here and answer 503).
      const unhook = h.acs.beforeRespond(async ({ request }, next) => {
        if (request.operation !== 'answer') return next();
        const deadline = Date.now() + 5000;
        while (!h.busMessages().some((m) => m.sessionId === callId && m.applicationProperties.type === 'call.incoming')) {
          if (Date.now() > deadline) return acsError(500, 'Test', 'call.incoming was not published while the answer was pending');
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        return next();
      });
      try {
        const response = await app.invoke('incomingCall', { body: [incomingCallEvent({ context: h.acs.createIncomingCallContext({ correlationId: callId }), callId })] });
        expect(response.status).toBe(200);
        expect(await Promise.all(callbacks)).toMatchObject([{ status: 200 }]);
      } finally {
        stop();
        unhook();
      }
      expect(h.busMessages().filter((m) => m.sessionId === callId).map((m) => m.applicationProperties.type)).toEqual(['call.incoming', 'call.answered', 'call.connected']);
      expect(h.acs.requestsFor('answer')).toHaveLength(1);
    });
  });

  describe('refused requests change nothing', () => {
    const cases: [string, { rawBody?: string; body?: unknown }, RegExp][] = [
      ['bad JSON', { rawBody: '[{"id": ' }, /not valid JSON/],
      ['an empty array', { body: [] }, /no events/],
      ['a JSON string', { body: 'hello' }, /array of events/],
      ['an event without data.incomingCallContext', { body: [{ ...incomingCallEvent({ context: 'c', callId: 'm1' }), data: { correlationId: 'm1', to: { rawId: '4:+1' }, from: { rawId: '4:+2' } } }] }, /incomingCallContext/],
      ['an event without an id', { body: [{ eventType: 'Microsoft.Communication.IncomingCall', data: {} }] }, /id/],
      ['the wrong event type', { body: [{ ...incomingCallEvent({ context: 'c', callId: 'm2' }), eventType: 'Microsoft.Communication.CallEnded' }] }, /wrong event type/],
    ];
    for (const [name, init, reason] of cases) {
      it(`${name} gets 400 with the reason`, async () => {
        const response = await h.instance().invoke('incomingCall', init);
        expect(response.status).toBe(400);
        expect(JSON.stringify(response.jsonBody)).toMatch(reason);
        expect(h.acs.requests).toHaveLength(0);
        expect(h.busMessages()).toHaveLength(0);
      });
    }

    it('a delivery from an unexpected Event Grid subscription gets 403 when subscription names are configured', async () => {
      const app = h.instance({ EVENTGRID_SUBSCRIPTION_NAMES: 'incoming-call' });
      const body = [incomingCallEvent({ context: h.acs.createIncomingCallContext(), callId: 's1' })];
      expect((await app.invoke('incomingCall', { body, headers: { 'aeg-subscription-name': 'OTHER' } })).status).toBe(403);
      expect((await app.invoke('incomingCall', { body })).status).toBe(403);
      expect(h.acs.requests).toHaveLength(0);
      expect((await app.invoke('incomingCall', { body, headers: { 'aeg-subscription-name': 'INCOMING-CALL' } })).status).toBe(200);
    });
  });
});
