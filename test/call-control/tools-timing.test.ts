import { afterEach, describe, expect, it } from 'vitest';
import { transferFailed } from '../../shared/call-metadata.js';
import type { AgentTool } from '../../worker/tools/types.js';
import { agentAudio, received, source, startCallControlLab, until, type CallControlLab } from './harness.js';

let lab: CallControlLab | undefined;
afterEach(async () => {
  await lab?.close();
  lab = undefined;
});

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });

const fillerRequests = (session: Parameters<typeof received>[0]) => received(session, 'response.create').filter((e) => e.response !== undefined);

describe('tool filler while the agent is still heard', () => {
  it('says the filler once the agent audio that was playing when the tool started has ended, if the tool still runs', async () => {
    const slow: AgentTool = {
      name: 'slow_lookup',
      description: 'Slow lookup.',
      parameters: { type: 'object', properties: {} },
      handler: async (_args, context) => {
        await sleep(2500, context.abortSignal);
        return { found: true };
      },
    };
    lab = await startCallControlLab({ customTools: [slow], env: { TOOL_FILLER_AFTER_MS: '100', TOOL_FILLER_TEXT: 'One moment.' } });
    const call = await lab.startCall();
    // 1 s of agent audio is queued; the tool starts while it plays, and the filler's first check finds it audible.
    await call.session.respondWithAudio(agentAudio(1000), { transcript: 'Let me look that up for you.' });
    await call.session.callFunction('slow_lookup', {});
    await sleep(400);
    expect(fillerRequests(call.session)).toEqual([]);
    await until(() => fillerRequests(call.session).length === 1, 3000, 'filler after the agent audio ended');
    const heardAudioMs = (call.media.receivedAudio().length / 2 / 16000) * 1000;
    expect(heardAudioMs).toBeGreaterThanOrEqual(1000);
    expect(fillerRequests(call.session)[0]!.response).toEqual({
      pre_generated_assistant_message: { type: 'message', role: 'assistant', content: [{ type: 'text', text: 'One moment.' }] },
    });
  });
});

describe('transfer_to_human timing and record', () => {
  it('sends the transfer request only after the agent’s announcement has been sent to the caller in full', async () => {
    lab = await startCallControlLab();
    const call = await lab.startCall();
    const announcement = agentAudio(800);
    await call.session.respondWithAudio(announcement, { transcript: 'Let me put you through to a colleague.' });
    await call.session.callFunction('transfer_to_human', { reason: 'wants a person' });
    await until(() => lab!.acs.requestsFor('transferToParticipant').length === 1, 5000, 'transfer request');
    const request = lab.acs.requestsFor('transferToParticipant')[0]!;
    const frames = call.media.audioFrames();
    expect(call.media.receivedAudio().subarray(0, announcement.length)).toEqual(announcement);
    const lastFrameAtMs = performance.timeOrigin + frames.at(-1)!.at;
    expect(lastFrameAtMs).toBeLessThanOrEqual(request.receivedAt.getTime() + 1);
  });

  it('records a transfer the target refused as a failed tool use, not ok', async () => {
    lab = await startCallControlLab();
    const call = await lab.startCall();
    await call.session.callFunction('transfer_to_human', { reason: 'needs a person' });
    await until(() => lab!.acs.requestsFor('transferToParticipant').length === 1, 5000, 'transfer request');
    const operationContext = (lab.acs.requestsFor('transferToParticipant')[0]!.body as { operationContext: string }).operationContext;
    await lab.publish(transferFailed(source(call.callId, 1, call.callConnectionId), { operationContext, resultInformation: { code: 408, message: 'Target did not answer' } }));
    await call.session.waitFor('conversation.item.create', (e) => (e.item as { type: string }).type === 'function_call_output');
    call.media.socket.close();
    await until(() => lab!.records().length === 1, 5000, 'record');
    expect(lab.records()[0]!.tools).toEqual([expect.objectContaining({ name: 'transfer_to_human', status: 'failed' })]);
  });
});
