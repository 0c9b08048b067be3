import { afterEach, describe, expect, it } from 'vitest';
import { startLab, type Lab } from '../../lab/lab.js';

/**
 * The agent's tools through the lab: Voice Live (scripted here) calls a function, the worker acts on the call
 * through Call Automation against the ACS emulator, and the emulator answers with ACS's callbacks.
 */
describe('agent tools through the lab', () => {
  let lab: Lab | undefined;
  afterEach(async () => lab?.close());

  it('transfer_to_human: the worker asks ACS to transfer, CallTransferAccepted then CallDisconnected follow', async () => {
    lab = await startLab({ logLevel: 'silent', voiceLiveMode: 'scripted' });
    const call = await lab.placeCall();
    const session = await lab.voiceLive!.nextSession(15_000);
    await session.waitFor('session.update', undefined, 10_000);
    await call.waitFor('MediaStreamingStarted', 10_000);
    await session.callFunction('transfer_to_human', { reason: 'wants a person' });
    await call.waitFor('CallTransferAccepted', 10_000);
    await expect(call.ended()).resolves.toBe('disconnected');
    const transfer = lab.acs.requests.find((r) => r.path.endsWith(':transferToParticipant'));
    expect(transfer).toMatchObject({ status: 202, body: { targetParticipant: { rawId: '4:+15550109999' } } });
    expect(call.timeline.entries.filter((e) => e.source === 'callback').map((e) => e.type).slice(-3)).toEqual(['CallTransferAccepted', 'MediaStreamingStopped', 'CallDisconnected']);
  });

  it('transfer_to_human to a desk that does not answer: CallTransferFailed and the call goes on', async () => {
    lab = await startLab({ logLevel: 'silent', voiceLiveMode: 'scripted', workerEnv: { TRANSFER_TARGET: '+15550120000' } });
    const call = await lab.placeCall();
    const session = await lab.voiceLive!.nextSession(15_000);
    await call.waitFor('MediaStreamingStarted', 10_000);
    await session.callFunction('transfer_to_human', { reason: 'wants a person' });
    await call.waitFor('CallTransferFailed', 10_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(call.state).toBe('connected');
    await call.hangUp();
    await expect(call.ended()).resolves.toBe('disconnected');
  });

  it('offers the custom tools CUSTOM_TOOLS names, as the worker process does, and answers the model with their result', async () => {
    lab = await startLab({ logLevel: 'silent', voiceLiveMode: 'scripted', workerEnv: { CUSTOM_TOOLS: 'worker/tools/examples/order-status.ts' } });
    const call = await lab.placeCall();
    const session = await lab.voiceLive!.nextSession(15_000);
    const update = await session.waitFor('session.update', undefined, 10_000);
    expect((update.session as { tools: { name: string }[] }).tools.map((t) => t.name)).toEqual(expect.arrayContaining(['end_call', 'get_order_status']));
    await call.waitFor('MediaStreamingStarted', 10_000);
    const { callId } = await session.callFunction('get_order_status', { orderNumber: '1001' });
    const output = await session.waitFor('conversation.item.create', (e) => (e.item as { type?: string }).type === 'function_call_output', 10_000);
    expect(output.item).toMatchObject({ call_id: callId });
    expect(JSON.parse((output.item as { output: string }).output)).toMatchObject({ found: true, status: 'shipped' });
    await call.hangUp();
  });

  it('end_call: the worker hangs up through ACS and the call ends with CallDisconnected', async () => {
    lab = await startLab({ logLevel: 'silent', voiceLiveMode: 'scripted' });
    const call = await lab.placeCall();
    const session = await lab.voiceLive!.nextSession(15_000);
    await call.waitFor('MediaStreamingStarted', 10_000);
    await session.callFunction('end_call', { reason: 'caller said goodbye' });
    await expect(call.ended()).resolves.toBe('disconnected');
    expect(call.timeline.entries.some((e) => e.source === 'callback' && e.type === 'CallDisconnected')).toBe(true);
  });
});
