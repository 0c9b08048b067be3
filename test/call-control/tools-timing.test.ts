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
