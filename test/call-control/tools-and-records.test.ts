import { afterEach, describe, expect, it } from 'vitest';
import { AcsMediaClient } from '../../lab/acs/media-client.js';
import { callIncoming, recordingFailed, recordingRequested, recordingStarted } from '../../shared/call-metadata.js';
import { loadCustomTools } from '../../worker/tools/loader.js';
import type { AgentTool } from '../../worker/tools/types.js';
import { agentAudio, received, source, startCallControlLab, until, type CallControlLab } from './harness.js';

let lab: CallControlLab | undefined;
afterEach(async () => {
  await lab?.close();
  lab = undefined;
});

const outputs = (session: Parameters<typeof received>[0]) =>
  received(session, 'conversation.item.create')
    .map((e) => e.item as { type: string; call_id: string; output: string })
    .filter((item) => item.type === 'function_call_output');

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });

describe('custom tools', () => {
  it('loads the sample tool from CUSTOM_TOOLS, offers it, and answers the model with its result then response.create', async () => {
    const customTools = await loadCustomTools(['worker/tools/examples/order-status.ts']);
    lab = await startCallControlLab({ customTools });
    const call = await lab.startCall();
    const update = await call.session.waitFor('session.update');
    expect((update.session as { tools: { name: string }[] }).tools.map((t) => t.name)).toContain('get_order_status');

    const { callId } = await call.session.callFunction('get_order_status', { orderNumber: '1001' });
    await until(() => outputs(call.session).length === 1, 3000, 'tool output');
    expect(outputs(call.session)[0]!.call_id).toBe(callId);
    expect(JSON.parse(outputs(call.session)[0]!.output)).toEqual({ found: true, orderNumber: '1001', status: 'shipped', eta: 'tomorrow' });
    await call.session.waitFor('response.create');
    const types = call.session.received.map((r) => r.type);
    expect(types.indexOf('response.create')).toBeGreaterThan(types.indexOf('conversation.item.create'));
  });

  it('reports arguments that break the tool’s schema to the model without running the tool', async () => {
    const customTools = await loadCustomTools(['worker/tools/examples/order-status.ts']);
    lab = await startCallControlLab({ customTools });
    const call = await lab.startCall();
    await call.session.callFunction('get_order_status', { orderNumber: 'abc' });
    await until(() => outputs(call.session).length === 1, 3000, 'tool output');
    expect(JSON.parse(outputs(call.session)[0]!.output)).toMatchObject({ ok: false, error: expect.stringContaining('orderNumber') });
  });

  it('says a filler when a tool is slow, then gives the result once the filler response is done', async () => {
    const slow: AgentTool = {
      name: 'check_account',
      description: 'Slow lookup.',
      parameters: { type: 'object', properties: {} },
      handler: async (_args, context) => {
        await sleep(400, context.abortSignal);
        return { balance: 12 };
      },
    };
    lab = await startCallControlLab({ customTools: [slow], env: { TOOL_FILLER_AFTER_MS: '100', TOOL_FILLER_TEXT: 'Let me check that.' } });
    const call = await lab.startCall();
    await call.session.callFunction('check_account', {});
    const filler = await call.session.waitFor('response.create', (e) => e.response !== undefined, 2000);
    expect(filler.response).toEqual({
      pre_generated_assistant_message: { type: 'message', role: 'assistant', content: [{ type: 'text', text: 'Let me check that.' }] },
    });
    expect(outputs(call.session)).toEqual([]);
    await call.session.respondWithAudio(agentAudio(100), { transcript: 'Let me check that.' });
    await until(() => outputs(call.session).length === 1, 3000, 'tool output');
    expect(JSON.parse(outputs(call.session)[0]!.output)).toEqual({ balance: 12 });
    await until(() => received(call.session, 'response.create').length === 2, 3000, 'second response.create');
    expect(received(call.session, 'response.create')[1]).not.toHaveProperty('response');
  });

  it('reports a tool that times out to the model as a timeout', async () => {
    const stuck: AgentTool = {
      name: 'stuck_lookup',
      description: 'Never answers.',
      parameters: { type: 'object', properties: {} },
      timeoutMs: 150,
      noFiller: true,
      handler: (_args, context) => new Promise((resolve) => context.abortSignal.addEventListener('abort', () => resolve('too late'))),
    };
    lab = await startCallControlLab({ customTools: [stuck] });
    const call = await lab.startCall();
    await call.session.callFunction('stuck_lookup', {});
    await until(() => outputs(call.session).length === 1, 3000, 'tool output');
    expect(JSON.parse(outputs(call.session)[0]!.output)).toEqual({ ok: false, error: 'The stuck_lookup tool did not answer within 150 ms.' });
    await call.session.waitFor('response.create');
  });

  it('speaks a tool result that came back while Voice Live was reconnecting: the new session gets the output, then response.create', async () => {
    let callId = '';
    const lookup: AgentTool = {
      name: 'lookup',
      description: 'Answers while Voice Live is reconnecting.',
      parameters: { type: 'object', properties: {} },
      noFiller: true,
      handler: async () => {
        // Answers while the worker is between sessions: its first reconnect attempt has been refused.
        await until(() => lab!.voiceLive.upgrades.some((u) => u.status === 503), 3000, 'a refused reconnect');
        expect(lab!.worker.server.calls.get(callId)?.voiceLive?.isOpen).toBe(false);
        return { balance: 12 };
      },
    };
    lab = await startCallControlLab({ customTools: [lookup] });
    const call = await lab.startCall();
    callId = call.callId;
    const replacement = lab.voiceLive.nextSession();
    await call.session.callFunction('lookup', {});
    lab.voiceLive.refuseNextUpgrades(503, 2);
    call.session.drop(1011, 'server restarting');
    const next = await replacement;
    const create = await next.waitFor('response.create', undefined, 3000);
    expect(create).not.toHaveProperty('response');
    expect(received(call.session, 'response.create')).toEqual([]);
    const types = next.received.map((r) => r.type);
    const output = outputs(next);
    expect(output.map((o) => JSON.parse(o.output))).toEqual([{ balance: 12 }]);
    expect(types.lastIndexOf('conversation.item.create')).toBeLessThan(types.indexOf('response.create'));
    expect(received(next, 'response.create')).toHaveLength(1);
  });
});

describe('call record', () => {
  it('publishes the record of a scripted call: masked numbers, transcript, turns, barge-ins, usage priced, outcome', async () => {
    lab = await startCallControlLab({
      env: {
        PRICE_AUDIO_INPUT_PER_1M_TOKENS: '40',
        PRICE_AUDIO_OUTPUT_PER_1M_TOKENS: '80',
        PRICE_TEXT_INPUT_PER_1M_TOKENS: '5',
        PRICE_TEXT_OUTPUT_PER_1M_TOKENS: '20',
        PRICE_CACHED_INPUT_PER_1M_TOKENS: '2.5',
        PRICE_CALL_PER_MINUTE: '0.01',
        PRICE_CURRENCY: 'EUR',
      },
    });
    const call = await lab.startCall('scripted-1');
    await lab.publish(callIncoming(source('scripted-1', 1), { from: { kind: 'phoneNumber', rawId: '4:+442071234567', phoneNumber: '+442071234567' }, to: { kind: 'phoneNumber', rawId: '4:+18005550100', phoneNumber: '+18005550100' }, callerDisplayName: 'Ada' }));
    const s = call.session;

    s.speechStarted();
    s.speechStopped({ transcript: 'Where is my order?' });
    await s.respondWithAudio(agentAudio(200), { transcript: 'Let me look that up.' });
    await until(() => call.media.audioFrames().length >= 10, 3000, 'first answer played');
    // Second turn: the caller interrupts a long answer.
    s.speechStopped({ transcript: 'And the invoice?' });
    const long = s.respondWithAudio(agentAudio(3000), { transcript: 'Your invoice was sent on Monday and it lists', realTime: true });
    await until(() => call.media.audioFrames().length >= 20, 3000, 'second answer playing');
    s.speechStarted();
    await long;
    s.send({
      type: 'response.done',
      response: {
        id: 'resp_usage',
        status: 'completed',
        output: [],
        usage: {
          total_tokens: 2000,
          input_tokens: 1300,
          output_tokens: 700,
          input_token_details: { cached_tokens: 100, text_tokens: 300, audio_tokens: 1000 },
          output_token_details: { text_tokens: 200, audio_tokens: 500 },
        },
      },
    });
    await until(() => lab!.control.calls.get('scripted-1')?.record.usage.responses === 3, 3000, 'usage seen');
    await call.media.close();
    await until(() => lab!.records().length === 1, 5000, 'record');

    const message = lab.bus.messages('call-records')[0]!;
    expect(message.messageId).toBe('scripted-1:record');
    const record = lab.records()[0]!;
    expect(record).toMatchObject({
      schemaVersion: 1,
      callId: 'scripted-1',
      callConnectionId: call.callConnectionId,
      from: '+44********67',
      to: '+18*******00',
      outcome: { kind: 'caller_hung_up' },
      bargeIns: 1,
      voiceLiveReconnects: 0,
      framesDropped: 0,
    });
    expect(JSON.stringify(record)).not.toContain('2071234567');
    expect(record.transcript!.map(({ role, text }) => ({ role, text }))).toEqual([
      { role: 'caller', text: 'Where is my order?' },
      { role: 'agent', text: 'Let me look that up.' },
      { role: 'caller', text: 'And the invoice?' },
      { role: 'agent', text: expect.stringMatching(/^Your/) },
    ]);
    expect(record.transcript![3]!.interrupted).toBe(true);
    // What the caller heard of it: the playout clock's figure, the same the model was told to keep.
    const truncate = received(s, 'conversation.item.truncate').at(-1)!;
    expect(record.transcript![3]!.heardMs).toBe(truncate.audio_end_ms);
    expect(record.transcript![3]!.heardMs).toBeGreaterThan(0);
    expect(record.turns).toHaveLength(2);
    expect(record.turns.every((t) => t.timeToFirstAgentAudioMs !== null && t.timeToFirstAgentAudioMs >= 0)).toBe(true);
    expect(record.durationMs).toBeGreaterThan(0);
    expect(Date.parse(record.endedAt) - Date.parse(record.startedAt)).toBe(record.durationMs);

    // The peer's own two responses carry usage as the service reports it (text, audio and cached input); the
    // scripted one adds known figures on top.
    const usage = record.usage;
    expect(usage.responses).toBe(3);
    expect(usage.textTokensIn).toBeGreaterThan(300);
    expect(usage.cachedTokensIn).toBeGreaterThan(100);
    expect(usage.textTokensOut).toBeGreaterThan(200);
    expect(usage.audioTokensIn).toBeGreaterThan(1000);
    expect(usage.audioTokensOut).toBeGreaterThan(500);
    // Cached input is charged at the cached rate instead of its own: the audio share as the peer reported it
    // (cached_tokens_details), the scripted response's unreported split from text.
    const cachedAudio = usage.cachedAudioTokensIn ?? 0;
    const cachedText = usage.cachedTokensIn - cachedAudio;
    const expectedTokens =
      ((usage.textTokensIn - cachedText) * 5 + (usage.audioTokensIn - cachedAudio) * 40 + usage.cachedTokensIn * 2.5 + usage.textTokensOut * 20 + usage.audioTokensOut * 80) /
      1_000_000;
    expect(record.cost.currency).toBe('EUR');
    expect(record.cost.tokens).toBeCloseTo(expectedTokens, 5);
    expect(record.cost.minutes).toBeCloseTo((record.durationMs / 60_000) * 0.01, 5);
    expect(record.cost.total).toBeCloseTo(record.cost.tokens + record.cost.minutes, 5);
  });

  it('keeps one record per call when a new media socket of the call replaces the first: both parts in it, once', async () => {
    lab = await startCallControlLab();
    const call = await lab.startCall('replaced-1');
    await call.session.respondWithAudio(agentAudio(100), { transcript: 'Hello from the first socket.' });
    await until(() => lab!.control.calls.get('replaced-1')?.record.usage.responses === 1, 3000, 'first response seen');

    // ACS reconnects the media stream: a second socket for the same call id replaces the first.
    const media = await AcsMediaClient.connect({ url: `${lab.worker.url}/ws/replaced-1`, callConnectionId: call.callConnectionId, correlationId: 'replaced-1' });
    media.sendMetadata(16000);
    const second = await lab.voiceLive.nextSession();
    await second.waitFor('session.update');
    await until(() => lab!.worker.server.calls.get('replaced-1')?.voiceLive?.isOpen === true, 3000, 'second Voice Live open');
    await second.respondWithAudio(agentAudio(100), { transcript: 'Hello from the second socket.' });
    await until(() => lab!.control.calls.get('replaced-1')?.record.usage.responses === 1, 3000, 'second response seen');
    await media.close();

    await until(() => lab!.records().length === 1 && lab!.control.calls.size === 0, 5000, 'record');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(lab.bus.messages('call-records').map((m) => m.messageId)).toEqual(['replaced-1:record']);
    const record = lab.records()[0]!;
    expect(record.transcript?.map((t) => t.text)).toEqual(['Hello from the first socket.', 'Hello from the second socket.']);
    expect(record.usage.responses).toBe(2);
    expect(record.outcome.kind).toBe('caller_hung_up');
  });

  it('counts Voice Live reconnects in the record', async () => {
    lab = await startCallControlLab();
    const call = await lab.startCall();
    call.session.drop(1011, 'server restarting');
    const replacement = await lab.voiceLive.nextSession();
    await replacement.waitFor('session.update');
    await until(() => lab!.worker.server.calls.get(call.callId)?.voiceLive?.isOpen === true, 3000, 'reconnected');
    await call.media.close();
    await until(() => lab!.records().length === 1, 5000, 'record');
    expect(lab.records()[0]).toMatchObject({ voiceLiveReconnects: 1, outcome: { kind: 'caller_hung_up' } });
  });

  it('names the call recording in the record, from the recording events on the call\'s session', async () => {
    lab = await startCallControlLab();
    const call = await lab.startCall('recorded-1');
    await lab.publish(recordingRequested(source('recorded-1', 1), { recordingId: 'rec-1', channel: 'mixed', format: 'mp3', storage: 'azureCommunicationServices' }));
    await lab.publish(recordingStarted(source('recorded-1', 2), { recordingId: 'rec-1', state: 'active' }));
    await until(() => lab!.control.calls.get('recorded-1')?.record.recordingSoFar?.state === 'active', 3000, 'both events applied');
    await call.media.close();
    await until(() => lab!.records().length === 1, 5000, 'record');
    expect(lab.records()[0]!.recording).toEqual({ recordingId: 'rec-1', state: 'active' });
  });

  it('records why a recording failed, without phone numbers', async () => {
    lab = await startCallControlLab();
    const call = await lab.startCall('recorded-2');
    await lab.publish(recordingFailed(source('recorded-2', 1), { error: { status: 400, code: 'BadRequest', message: 'cannot record +442071234567' } }));
    await until(() => lab!.control.calls.get('recorded-2')?.record.recordingSoFar !== undefined, 3000, 'event applied');
    await call.media.close();
    await until(() => lab!.records().length === 1, 5000, 'record');
    expect(lab.records()[0]!.recording).toEqual({ state: 'failed', reason: expect.stringMatching(/^cannot record \+44\**67$/) });
  });

  it('leaves the transcript out when RECORD_TRANSCRIPTS=false', async () => {
    lab = await startCallControlLab({ env: { RECORD_TRANSCRIPTS: 'false' } });
    const call = await lab.startCall();
    call.session.speechStarted();
    call.session.speechStopped({ transcript: 'My card number is 4111' });
    await call.session.respondWithAudio(agentAudio(100), { transcript: 'Thanks.' });
    await call.media.close();
    await until(() => lab!.records().length === 1, 5000, 'record');
    expect(lab.records()[0]!.transcript).toBeNull();
    expect(JSON.stringify(lab.bus.messages('call-records')[0]!.body)).not.toContain('4111');
  });

  it('keeps the call working when Service Bus is down at call start, and publishes the record once it is back', async () => {
    lab = await startCallControlLab();
    await lab.bus.stop();
    const call = await lab.startCall();
    await call.session.respondWithAudio(agentAudio(200), { transcript: 'Hello.' });
    await until(() => call.media.audioFrames().length >= 10, 5000, 'agent audio relayed');
    await call.media.close();
    await until(() => lab!.control.outbox!.size === 1, 3000, 'record waiting');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(lab.control.outbox!.size).toBe(1);
    await lab.bus.restart();
    await until(() => lab!.records().length === 1, 15_000, 'record published after the bus came back');
    expect(lab.records()[0]!.callId).toBe(call.callId);
    // The peer holds the message before the sender's settlement reaches the client: the outbox empties right after.
    await until(() => lab!.control.outbox!.size === 0, 5000, 'outbox emptied after the publish was settled');
    expect(lab.records()).toHaveLength(1);
  });
});
