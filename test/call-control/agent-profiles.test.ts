import { afterEach, describe, expect, it } from 'vitest';
import { AcsMediaClient, AcsUpgradeError } from '../../lab/acs/media-client.js';
import { transferAccepted } from '../../shared/call-metadata.js';
import { received, source, startCallControlLab, TRANSFER_TARGET, until, type CallControlLab } from './harness.js';

/**
 * Agent profiles per called number: the Functions app puts the profile in the media path (/ws/<callId>/<profile>),
 * the worker gives that call the profile's agent. Real sockets: worker, Voice Live peer, ACS REST peer, bus peer.
 */
let lab: CallControlLab | undefined;
afterEach(async () => {
  await lab?.close();
  lab = undefined;
});

const SALES_TARGET = '+15550002222';
const sales = {
  instructions: 'You are the sales line.',
  voiceName: 'en-US-Andrew:DragonHDLatestNeural',
  greeting: 'Contoso sales, how can I help?',
  transcriptionLanguage: 'en-GB',
  transferTarget: SALES_TARGET,
};

const sessionOf = (update: Record<string, unknown>) => update.session as Record<string, any>;
const toolNames = (update: Record<string, unknown>) => ((sessionOf(update).tools ?? []) as { name: string }[]).map((t) => t.name);
const greetingOf = (event: Record<string, unknown> | undefined) =>
  (event?.response as { pre_generated_assistant_message?: { content: { text: string }[] } } | undefined)?.pre_generated_assistant_message?.content[0]?.text;
const refusals = async (l: CallControlLab) =>
  Object.fromEntries((await l.worker.server.metrics.upgradesRejected.get()).values.map((v) => [String(v.labels.reason), v.value]));

describe('agent profiles (AGENT_PROFILES, chosen by the media path)', () => {
  it("opens Voice Live with the profile's instructions, voice, transcription language and greeting; a call without a profile gets the defaults", async () => {
    lab = await startCallControlLab({ profiles: { sales } });
    const profiled = await lab.startCall('call-sales', { profile: 'sales' });
    const plain = await lab.startCall('call-plain');

    const salesSession = sessionOf(await profiled.session.waitFor('session.update'));
    expect(salesSession.instructions).toBe('You are the sales line.');
    expect(salesSession.voice).toEqual({ type: 'azure-standard', name: 'en-US-Andrew:DragonHDLatestNeural' });
    expect(salesSession.input_audio_transcription).toEqual({ model: 'azure-speech', language: 'en-GB' });
    expect(greetingOf(await profiled.session.waitFor('response.create'))).toBe('Contoso sales, how can I help?');

    const plainSession = sessionOf(await plain.session.waitFor('session.update'));
    expect(plainSession.instructions).toBe('You are a test agent.');
    expect(plainSession.voice).toEqual({ type: 'azure-standard', name: 'en-US-Ava:DragonHDLatestNeural' });
    expect(plainSession.input_audio_transcription).toEqual({ model: 'azure-speech' });
    expect(received(plain.session, 'response.create')).toEqual([]);
    // Everything else is the default agent's, for both.
    expect(salesSession.turn_detection).toEqual(plainSession.turn_detection);
    expect(profiled.session.query.get('model')).toBe('gpt-realtime');
  });

  it("a profile with a Foundry agent opens Voice Live for that agent, not the default model", async () => {
    lab = await startCallControlLab({ profiles: { support: { agentName: 'helpdesk', agentProject: 'contoso' } } });
    const call = await lab.startCall('call-support', { profile: 'support' });
    expect(call.session.query.get('agent-name')).toBe('helpdesk');
    expect(call.session.query.get('agent-project-name')).toBe('contoso');
    expect(call.session.query.get('model')).toBeNull();
    expect(sessionOf(await call.session.waitFor('session.update')).instructions).toBeUndefined();
  });

  it('refuses a media socket naming an unknown profile with 404 before any Voice Live connection, counted as unknown_profile', async () => {
    lab = await startCallControlLab({ profiles: { sales } });
    const attempt = AcsMediaClient.connect({ url: `${lab.worker.url}/ws/call-lost/marketing`, correlationId: 'call-lost' });
    await expect(attempt).rejects.toBeInstanceOf(AcsUpgradeError);
    await expect(attempt).rejects.toMatchObject({ status: 404 });
    expect(lab.voiceLive.sessions).toHaveLength(0);
    expect(lab.worker.server.calls.size).toBe(0);
    expect(await refusals(lab)).toEqual({ unknown_profile: 1 });
    expect(lab.logs).toContainEqual(expect.objectContaining({ level: 'error', callId: 'call-lost', profile: 'marketing', msg: expect.stringContaining('unknown agent profile') }));
    // The line still works for the profiles the worker has.
    await lab.startCall('call-sales', { profile: 'sales' });
    expect(lab.voiceLive.sessions).toHaveLength(1);
  });

  it("transfer_to_human on a profile's call goes to the profile's target; a call without a profile to TRANSFER_TARGET", async () => {
    lab = await startCallControlLab({ profiles: { sales } });
    const profiled = await lab.startCall('call-sales', { profile: 'sales' });
    const plain = await lab.startCall('call-plain');
    await profiled.session.callFunction('transfer_to_human', { reason: 'wants a quote' });
    await plain.session.callFunction('transfer_to_human', { reason: 'wants a person' });
    await until(() => lab!.acs.requestsFor('transferToParticipant').length === 2, 5000, 'two transfer requests');
    const targetOf = (callConnectionId: string) =>
      (lab!.acs.requestsFor('transferToParticipant').find((r) => r.callConnectionId === callConnectionId)?.body as { targetParticipant: { phoneNumber: { value: string } } })
        .targetParticipant.phoneNumber.value;
    expect(targetOf(profiled.callConnectionId)).toBe(SALES_TARGET);
    expect(targetOf(plain.callConnectionId)).toBe(TRANSFER_TARGET);
  });

  it('offers transfer_to_human only to the calls whose line has a target', async () => {
    lab = await startCallControlLab({ env: { TRANSFER_TARGET: '' }, profiles: { sales, quiet: {} } });
    const withTarget = await lab.startCall('call-sales', { profile: 'sales' });
    const plain = await lab.startCall('call-plain');
    const quiet = await lab.startCall('call-quiet', { profile: 'quiet' });
    expect(toolNames(await withTarget.session.waitFor('session.update'))).toEqual(['end_call', 'transfer_to_human']);
    expect(toolNames(await plain.session.waitFor('session.update'))).toEqual(['end_call']);
    expect(toolNames(await quiet.session.waitFor('session.update'))).toEqual(['end_call']);
  });

  it("names the profile on the call's log lines and in its call record (and the record message's properties); a call without one has none", async () => {
    lab = await startCallControlLab({ profiles: { sales } });
    const profiled = await lab.startCall('call-sales', { profile: 'sales' });
    const plain = await lab.startCall('call-plain');
    await profiled.session.callFunction('transfer_to_human', { reason: 'wants a quote' });
    await until(() => lab!.acs.requestsFor('transferToParticipant').length === 1, 5000, 'transfer request');
    const operationContext = (lab.acs.requestsFor('transferToParticipant')[0]!.body as { operationContext: string }).operationContext;
    await lab.publish(transferAccepted(source(profiled.callId, 1, profiled.callConnectionId), { operationContext }));
    await profiled.media.closed;
    await plain.media.close();
    await until(() => lab!.records().length === 2, 5000, 'two records');

    const record = (callId: string) => lab!.records().find((r) => r.callId === callId)!;
    expect(record('call-sales')).toMatchObject({ profile: 'sales', outcome: { kind: 'transferred' } });
    expect(record('call-plain').profile).toBeUndefined();
    const message = lab.bus.messages('call-records').find((m) => (m.body as { callId: string }).callId === 'call-sales')!;
    expect(message.applicationProperties).toMatchObject({ profile: 'sales' });

    const salesLines = lab.logs.filter((l) => l.callId === 'call-sales');
    expect(salesLines.length).toBeGreaterThan(3);
    expect(salesLines.filter((l) => l.profile !== 'sales').map((l) => l.msg)).toEqual([]);
    expect(lab.logs.filter((l) => l.callId === 'call-plain').some((l) => 'profile' in l)).toBe(false);
  });
});
