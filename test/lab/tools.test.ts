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
