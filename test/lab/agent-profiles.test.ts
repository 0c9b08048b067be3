import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLab, type Lab } from '../../lab/lab.js';
import type { PeerSession } from '../../lab/voice-live/peer.js';

const SALES_LINE = '+18005550100';
const OTHER_LINE = '+18005550199';

/**
 * Two numbers on one deployment, one with an agent profile: Event Grid → Functions (AGENT_PROFILE_BY_NUMBER) →
 * answer with the profile in the media URL → ACS emulator's media socket → worker (AGENT_PROFILES, MEDIA_AUTH=acs)
 * → Voice Live emulator. Then media drops and the Functions app restarts it: ACS reconnects to the same URL.
 */
describe('several lines, several agents, through the whole lab', () => {
  let lab: Lab;
  beforeAll(async () => {
    lab = await startLab({
      logLevel: 'silent',
      voiceLiveMode: 'scripted',
      greeting: false,
      functionsEnv: { AGENT_PROFILE_BY_NUMBER: `${SALES_LINE}=sales` },
      workerEnv: { AGENT_PROFILES: JSON.stringify({ sales: { instructions: 'You are the sales line.', voiceName: 'en-US-Andrew:DragonHDLatestNeural' } }) },
    });
  }, 30_000);
  afterAll(async () => lab?.close());

  const instructionsOf = async (session: PeerSession) => ((await session.waitFor('session.update')).session as { instructions: string }).instructions;

  it('a call to the profiled number gets the profile\'s agent, again after a media restart; a call to another number the default', async () => {
    const call = await lab.placeCall({ to: SALES_LINE });
    await call.waitFor('MediaStreamingStarted', 15_000);
    const first = await lab.voiceLive!.nextSession();
    expect(await instructionsOf(first)).toBe('You are the sales line.');
    const answered = lab.busMessages(call.callId).map((m) => m.body as { type: string; data: Record<string, unknown> }).find((m) => m.type === 'call.answered');
    expect(answered?.data).toMatchObject({ profile: 'sales', mediaTransportUrl: `${lab.urls.worker}/ws/${call.callId}/sales` });

    // The worker drops the media socket: ACS reports MediaStreamingFailed, the Functions app restarts streaming,
    // and ACS connects again to the URL of the answer, profile included.
    lab.worker!.calls.get(call.callId)!.end('test: media dropped', 1011);
    const mediaConnects = () => call.timeline.entries.filter((e) => e.source === 'media' && e.type === 'connected').length;
    await expect.poll(mediaConnects, { timeout: 15_000 }).toBe(2);
    const second = await lab.voiceLive!.nextSession();
    expect(await instructionsOf(second)).toBe('You are the sales line.');
    expect(((await second.waitFor('session.update')).session as { voice: { name: string } }).voice.name).toBe('en-US-Andrew:DragonHDLatestNeural');
    expect(lab.busMessages(call.callId).map((m) => (m.body as { type: string }).type)).toContain('media.restartRequested');

    const other = await lab.placeCall({ to: OTHER_LINE });
    await other.waitFor('MediaStreamingStarted', 15_000);
    const third = await lab.voiceLive!.nextSession();
    expect(await instructionsOf(third)).not.toBe('You are the sales line.');
    expect(((await third.waitFor('session.update')).session as { voice: { name: string } }).voice.name).toBe('en-US-Ava:DragonHDLatestNeural');
  }, 40_000);
});
