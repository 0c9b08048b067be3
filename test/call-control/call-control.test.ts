import { afterEach, describe, expect, it } from 'vitest';
import { subscribeToCallSession } from '../../shared/bus.js';
import { callDisconnected, callIncoming, participantsUpdated, transferAccepted, transferFailed } from '../../shared/call-metadata.js';
import { WORKER_HANGUP_CLOSE_REASON } from '../../worker/call-control/call-controller.js';
import { agentAudio, received, source, startCallControlLab, TRANSFER_TARGET, until, type CallControlLab } from './harness.js';

let lab: CallControlLab | undefined;
afterEach(async () => {
  await lab?.close();
  lab = undefined;
});

const party = (phoneNumber: string) => ({ kind: 'phoneNumber', rawId: `4:${phoneNumber}`, phoneNumber });
const systemTexts = (session: Parameters<typeof received>[0]) =>
  received(session, 'conversation.item.create')
    .map((e) => e.item as { role?: string; content?: { text?: string }[] })
    .filter((item) => item.role === 'system')
    .map((item) => item.content?.[0]?.text ?? '');

describe('per-call event stream from Service Bus', () => {
  it('gives two concurrent calls only their own session, each in order, and leaves other calls’ messages alone', async () => {
    lab = await startCallControlLab();
    const a = await lab.startCall('call-a');
    const b = await lab.startCall('call-b');
    await lab.publish(
      callIncoming(source('call-a', 1), { from: party('+14155550101'), to: party('+18005550100'), callerDisplayName: 'Ada' }),
      callIncoming(source('call-b', 1), { from: party('+14155550202'), to: party('+18005550100'), callerDisplayName: 'Bob' }),
      callIncoming(source('call-elsewhere', 1), { from: party('+14155550303'), to: party('+18005550100'), callerDisplayName: 'Cy' }),
      participantsUpdated(source('call-a', 2), { participants: [] }),
      // In order: the context is applied before the disconnect ends call A.
      callDisconnected(source('call-a', 3), {}),
    );
    await until(() => lab!.worker.server.calls.get('call-a') === undefined, 5000, 'call A freed');
    expect(systemTexts(a.session)).toEqual([expect.stringContaining('+14155550101')]);
    expect(systemTexts(a.session)[0]).toContain('Ada');
    await until(() => systemTexts(b.session).length === 1, 5000, 'call B context');
    expect(systemTexts(b.session)[0]).toContain('+14155550202');
    expect(systemTexts(b.session)[0]).not.toContain('+14155550101');
    expect(lab.worker.server.calls.get('call-b')).toBeDefined();

    await lab.publish(callDisconnected(source('call-b', 2), {}));
    await until(() => lab!.worker.server.calls.size === 0, 5000, 'call B freed');
    await until(() => lab!.records().length === 2, 5000, 'two records');
    const active = lab.bus.activeMessages('call-events');
    expect(active.map((m) => m.sessionId)).toEqual(['call-elsewhere']);
    const records = Object.fromEntries(lab.records().map((r) => [r.callId, r]));
    expect(records['call-a']).toMatchObject({ from: '+14*******01', to: '+18*******00', outcome: { kind: 'caller_hung_up' } });
    expect(records['call-b']!.from).toBe('+14*******02');
  });

  it('frees a call at once on call.disconnected while its media socket is still open', async () => {
    lab = await startCallControlLab();
    const call = await lab.startCall();
    expect(call.media.socket.readyState).toBe(call.media.socket.OPEN);
    await lab.publish(callDisconnected(source(call.callId, 1, call.callConnectionId), { resultInformation: { code: 200, subCode: 0 } }));
    const closed = await call.media.closed;
    expect(closed.code).toBe(1000);
    expect(lab.worker.server.calls.get(call.callId)).toBeUndefined();
    await until(() => call.session.closed, 3000, 'Voice Live closed');
    await until(() => lab!.records().length === 1, 5000, 'record');
    expect(lab.records()[0]!.outcome).toEqual({ kind: 'caller_hung_up', reason: 'call disconnected' });

    // The worker released the call's session: another receiver can take it at once.
    const later: unknown[] = [];
    const subscription = subscribeToCallSession(lab.busClient, 'call-events', call.callId, (m) => void later.push(m.body), { retryDelayMs: 50 });
    await lab.publish(participantsUpdated(source(call.callId, 2), { participants: [] }));
    await until(() => later.length === 1, 5000, 'session free for another receiver');
    await subscription.close();
  });
});

describe('personalised greeting (CALLER_GREETING)', () => {
  const greetingOf = (e: Record<string, unknown>) =>
    ((e.response as { pre_generated_assistant_message?: { content: { text: string }[] } })?.pre_generated_assistant_message?.content[0]?.text);

  it('greets the caller by name once the caller context arrives, after giving the agent that context', async () => {
    lab = await startCallControlLab({ env: { CALLER_GREETING: 'Hello {name}, thanks for calling Contoso.', CALLER_GREETING_WAIT_MS: '3000' } });
    const call = await lab.startCall();
    await lab.publish(callIncoming(source(call.callId, 1), { from: party('+14155550101'), to: party('+18005550100'), callerDisplayName: 'Ada' }));
    const greeting = await call.session.waitFor('response.create');
    expect(greetingOf(greeting)).toBe('Hello Ada, thanks for calling Contoso.');
    const types = call.session.received.map((r) => r.type);
    expect(types.indexOf('conversation.item.create')).toBeLessThan(types.indexOf('response.create'));
  });

  it('greets without a name when no caller context arrives in time', async () => {
    lab = await startCallControlLab({ env: { CALLER_GREETING: 'Hello {name}, thanks for calling.', CALLER_GREETING_WAIT_MS: '100' } });
    const call = await lab.startCall();
    expect(greetingOf(await call.session.waitFor('response.create'))).toBe('Hello, thanks for calling.');
  });
});

describe('agent tools', () => {
  it('offers end_call and transfer_to_human to Voice Live in session.update', async () => {
    lab = await startCallControlLab();
    const call = await lab.startCall();
    const update = await call.session.waitFor('session.update');
    const tools = (update.session as { tools: { name: string; type: string }[] }).tools;
    expect(tools.map((t) => t.name)).toEqual(['end_call', 'transfer_to_human']);
    expect(tools.every((t) => t.type === 'function')).toBe(true);
  });

  it('end_call: the goodbye is fully sent to ACS before the hang-up reaches Call Automation', async () => {
    lab = await startCallControlLab();
    const call = await lab.startCall();
    const goodbye = agentAudio(600);
    await call.session.respondWithAudio(goodbye, { transcript: 'Thanks for calling, goodbye.' });
    await call.session.callFunction('end_call', { reason: 'caller is done' });
    await until(() => lab!.acs.requestsFor('terminate').length === 1, 5000, 'hang-up request');
    const hangUp = lab.acs.requestsFor('terminate')[0]!;
    expect(hangUp.callConnectionId).toBe(call.callConnectionId);
    expect(hangUp.status).toBe(204);
    const frames = call.media.audioFrames();
    expect(call.media.receivedAudio().subarray(0, goodbye.length)).toEqual(goodbye);
    const lastFrameAtMs = performance.timeOrigin + frames.at(-1)!.at;
    expect(lastFrameAtMs).toBeLessThanOrEqual(hangUp.receivedAt.getTime() + 1);
    expect((await call.media.closed).code).toBe(1000);
    expect(received(call.session, 'conversation.item.create').filter((e) => (e.item as { type: string }).type === 'function_call_output')).toEqual([]);
    await until(() => lab!.records().length === 1, 5000, 'record');
    expect(lab.records()[0]!.outcome).toEqual({ kind: 'completed', reason: 'caller is done' });
  });

  it('transfer_to_human: transfers to TRANSFER_TARGET with the reason, and the call ends as transferred once ACS accepts', async () => {
    lab = await startCallControlLab();
    const call = await lab.startCall();
    await call.session.callFunction('transfer_to_human', { reason: 'wants to talk about a refund' });
    await until(() => lab!.acs.requestsFor('transferToParticipant').length === 1, 5000, 'transfer request');
    const request = lab.acs.requestsFor('transferToParticipant')[0]!;
    const body = request.body as Record<string, any>;
    expect(request.callConnectionId).toBe(call.callConnectionId);
    expect(body.targetParticipant).toMatchObject({ kind: 'phoneNumber', rawId: `4:${TRANSFER_TARGET}`, phoneNumber: { value: TRANSFER_TARGET } });
    // SIP header values may hold only letters, digits and =;.!%*_+~- (ACS): the reason is percent-encoded.
    expect(body.customCallingContext.sipHeaders).toEqual({ 'X-MS-Custom-TransferReason': 'wants%20to%20talk%20about%20a%20refund' });
    expect(request.status).toBe(202);
    expect(body.operationContext).toMatch(/^transfer:/);
    await lab.publish(transferAccepted(source(call.callId, 1, call.callConnectionId), { operationContext: body.operationContext }));
    expect((await call.media.closed).code).toBe(1000);
    await until(() => lab!.records().length === 1, 5000, 'record');
    expect(lab.records()[0]!.outcome).toEqual({ kind: 'transferred', reason: 'wants to talk about a refund' });
    expect(lab.records()[0]!.tools).toEqual([expect.objectContaining({ name: 'transfer_to_human', status: 'ok' })]);
  });

  it('transfer_to_human: a warm hand-off: the agent\'s summary travels in a custom header and lands in the record', async () => {
    lab = await startCallControlLab();
    const call = await lab.startCall();
    const summary = 'Ada Lovelace, order 1001: the parcel shows delivered but never arrived. Address confirmed; she wants a refund.';
    await call.session.callFunction('transfer_to_human', { reason: 'refund for a lost parcel', summary });
    await until(() => lab!.acs.requestsFor('transferToParticipant').length === 1, 5000, 'transfer request');
    const body = lab.acs.requestsFor('transferToParticipant')[0]!.body as Record<string, any>;
    const headers = body.customCallingContext.sipHeaders as Record<string, string>;
    expect(Object.keys(headers)).toEqual(['X-MS-Custom-TransferReason', 'X-MS-Custom-TransferSummary']);
    expect(decodeURIComponent(headers['X-MS-Custom-TransferReason']!)).toBe('refund for a lost parcel');
    expect(decodeURIComponent(headers['X-MS-Custom-TransferSummary']!)).toBe(summary);
    expect(lab.acs.requestsFor('transferToParticipant')[0]!.status).toBe(202);
    await lab.publish(transferAccepted(source(call.callId, 1, call.callConnectionId), { operationContext: body.operationContext }));
    await until(() => lab!.records().length === 1, 5000, 'record');
    expect(lab.records()[0]!.handoff).toEqual({ reason: 'refund for a lost parcel', summary });
  });

  it('transfer_to_human: with transcripts off, the record keeps the hand-off reason but not the summary; the colleague still gets it', async () => {
    lab = await startCallControlLab({ env: { RECORD_TRANSCRIPTS: 'false' } });
    const call = await lab.startCall();
    await call.session.callFunction('transfer_to_human', { reason: 'billing question', summary: 'Card ending 4242 was charged twice.' });
    await until(() => lab!.acs.requestsFor('transferToParticipant').length === 1, 5000, 'transfer request');
    const body = lab.acs.requestsFor('transferToParticipant')[0]!.body as Record<string, any>;
    expect(decodeURIComponent(body.customCallingContext.sipHeaders['X-MS-Custom-TransferSummary'])).toBe('Card ending 4242 was charged twice.');
    await lab.publish(transferAccepted(source(call.callId, 1, call.callConnectionId), { operationContext: body.operationContext }));
    await until(() => lab!.records().length === 1, 5000, 'record');
    expect(lab.records()[0]!.handoff).toEqual({ reason: 'billing question' });
    expect(JSON.stringify(lab.bus.messages('call-records')[0]!.body)).not.toContain('4242');
  });

  it('transfer_to_human: a failed transfer is told to the model as a function_call_output, then response.create', async () => {
    lab = await startCallControlLab();
    const call = await lab.startCall();
    const { callId: toolCallId } = await call.session.callFunction('transfer_to_human', { reason: 'needs a person' });
    await until(() => lab!.acs.requestsFor('transferToParticipant').length === 1, 5000, 'transfer request');
    const operationContext = (lab.acs.requestsFor('transferToParticipant')[0]!.body as { operationContext: string }).operationContext;
    await lab.publish(
      transferFailed(source(call.callId, 1, call.callConnectionId), { operationContext, resultInformation: { code: 408, subCode: 8510, message: 'Target did not answer' } }),
    );
    const output = await call.session.waitFor('conversation.item.create', (e) => (e.item as { type: string }).type === 'function_call_output');
    const item = output.item as { call_id: string; output: string };
    expect(item.call_id).toBe(toolCallId);
    expect(JSON.parse(item.output)).toMatchObject({ ok: false, status: 'transfer_failed', reason: expect.stringContaining('Target did not answer') });
    await call.session.waitFor('response.create');
    const types = call.session.received.map((r) => r.type);
    expect(types.lastIndexOf('response.create')).toBeGreaterThan(types.lastIndexOf('conversation.item.create'));
    expect(lab.worker.server.calls.get(call.callId)).toBeDefined();
  });
});

describe('DTMF', () => {
  const dtmf = (data: string) => JSON.stringify({ kind: 'DtmfData', dtmfData: { data } });

  it('gives key presses to the agent as text and asks for a response', async () => {
    lab = await startCallControlLab();
    const call = await lab.startCall();
    call.media.sendRaw(dtmf('3'));
    const created = await call.session.waitFor('conversation.item.create', (e) => (e.item as { role?: string }).role === 'user');
    expect(created.item).toMatchObject({ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'caller pressed 3' }] });
    await call.session.waitFor('response.create');
  });

  it('transfers a caller who presses 0 even though the model did not ask for it', async () => {
    lab = await startCallControlLab();
    const call = await lab.startCall();
    call.media.sendRaw(dtmf('0'));
    await until(() => lab!.acs.requestsFor('transferToParticipant').length === 1, 5000, 'transfer request');
    const body = lab.acs.requestsFor('transferToParticipant')[0]!.body as Record<string, any>;
    expect(body.targetParticipant.rawId).toBe(`4:${TRANSFER_TARGET}`);
    expect(decodeURIComponent(body.customCallingContext.sipHeaders['X-MS-Custom-TransferReason'])).toBe('caller pressed 0');
  });
});

describe('caps and fallbacks', () => {
  it('asks the agent to wrap up once the call’s token cap is reached', async () => {
    lab = await startCallControlLab({ env: { CALL_MAX_TOKENS: '1000' } });
    const call = await lab.startCall();
    call.session.send({ type: 'response.created', response: { id: 'resp_big', status: 'in_progress', output: [] } });
    call.session.send({ type: 'response.done', response: { id: 'resp_big', status: 'completed', output: [], usage: { total_tokens: 1500, input_tokens: 1000, output_tokens: 500 } } });
    await until(() => systemTexts(call.session).length === 1, 3000, 'wrap-up instruction');
    expect(systemTexts(call.session)[0]).toMatch(/usage limit.*call end_call/);
    await call.session.waitFor('response.create');
    await call.media.close();
    await until(() => lab!.records().length === 1, 5000, 'record');
    expect(lab.records()[0]!.capReached).toBe('tokens');
  });

  it('without Call Automation, end_call ends the call by closing the media stream after the goodbye', async () => {
    lab = await startCallControlLab({ env: { ACS_CONNECTION_STRING: '', TRANSFER_TARGET: '' } });
    const call = await lab.startCall();
    const update = await call.session.waitFor('session.update');
    expect((update.session as { tools: { name: string }[] }).tools.map((t) => t.name)).toEqual(['end_call']);
    await call.session.respondWithAudio(agentAudio(200), { transcript: 'Bye.' });
    await call.session.callFunction('end_call', {});
    const closed = await call.media.closed;
    expect(closed.code).toBe(1000);
    expect(closed.reason.startsWith(WORKER_HANGUP_CLOSE_REASON)).toBe(true);
    expect(call.media.receivedAudio().length).toBeGreaterThanOrEqual(agentAudio(200).length);
    expect(lab.acs.requestsFor('terminate')).toEqual([]);
    // Said once at start-up, since the Functions app will see a media stop on a call that is still up.
    expect(lab.logs.filter((l) => l.level === 'warn' && /no Call Automation.*only closes the media stream/.test(String(l.msg)))).toHaveLength(1);
  });
});

describe('caller silence (CALLER_SILENCE_PROMPT_MS)', () => {
  it('checks in after the caller has been silent once the agent finished, then says goodbye and hangs up', async () => {
    lab = await startCallControlLab({ env: { CALLER_SILENCE_PROMPT_MS: '1000', CALLER_SILENCE_MAX_PROMPTS: '1' } });
    const call = await lab.startCall();
    await call.session.respondWithAudio(agentAudio(300), { transcript: 'How can I help?' });

    // One check-in, made only after the agent's audio has played and the line has been quiet.
    await until(() => systemTexts(call.session).length === 1, 8000, 'check-in');
    expect(systemTexts(call.session)[0]).toMatch(/said nothing for \d+ seconds.*still there/);
    expect(call.media.receivedAudio().length).toBeGreaterThanOrEqual(agentAudio(300).length);
    await call.session.waitFor('response.create');
    await call.session.respondWithAudio(agentAudio(200), { transcript: 'Are you still there?' });

    // Still nothing: the goodbye, then the hang-up once it has played.
    await until(() => systemTexts(call.session).length === 2, 8000, 'goodbye instruction');
    expect(systemTexts(call.session)[1]).toMatch(/goodbye/);
    await until(() => received(call.session, 'response.create').length === 2, 5000, 'goodbye requested');
    const heardBefore = call.media.receivedAudio().length;
    await call.session.respondWithAudio(agentAudio(200), { transcript: 'Goodbye.' });
    await until(() => lab!.acs.requestsFor('terminate').length === 1, 8000, 'hang-up through Call Automation');
    expect(call.media.receivedAudio().length).toBeGreaterThanOrEqual(heardBefore + agentAudio(200).length);
    await call.media.close();
    await until(() => lab!.records().length === 1, 5000, 'record');
    expect(lab.records()[0]!.outcome).toEqual({ kind: 'completed', reason: 'the caller stayed silent' });
  });

  it('starts counting again when the caller speaks, and never checks in while the caller is speaking', async () => {
    lab = await startCallControlLab({ env: { CALLER_SILENCE_PROMPT_MS: '1000', CALLER_SILENCE_MAX_PROMPTS: '1' } });
    const call = await lab.startCall();
    await until(() => systemTexts(call.session).length === 1, 8000, 'first check-in');
    await call.session.waitFor('response.create');
    await call.session.respondWithAudio(agentAudio(100), { transcript: 'Still there?' });
    // The caller answers and keeps talking for longer than the quiet time: no goodbye meanwhile.
    call.session.speechStarted();
    const talking = lab.worker.server.calls.get(call.callId)!.voiceLive!;
    await until(() => talking.callerIsSpeaking, 3000, 'caller speaking');
    await new Promise((r) => setTimeout(r, 1500));
    expect(systemTexts(call.session)).toHaveLength(1);
    call.session.speechStopped();
    // Quiet again: a fresh check-in (the count started again), not the goodbye.
    await until(() => systemTexts(call.session).length === 2, 8000, 'second check-in');
    expect(systemTexts(call.session)[1]).toMatch(/still there/);
    expect(lab.acs.requestsFor('terminate')).toEqual([]);
  });

  it('is off with CALLER_SILENCE_PROMPT_MS=0', async () => {
    lab = await startCallControlLab({ env: { CALLER_SILENCE_PROMPT_MS: '0' } });
    const call = await lab.startCall();
    await new Promise((r) => setTimeout(r, 1500));
    expect(systemTexts(call.session)).toEqual([]);
    expect(received(call.session, 'response.create')).toEqual([]);
  });
});
