import { afterEach, describe, expect, it } from 'vitest';
import { AcsMediaClient, AcsUpgradeError } from '../../lab/acs/media-client.js';
import { startAcsTokenIssuer, type AcsTokenIssuer } from '../../lab/acs-token-issuer.js';
import { startVoiceLivePeer, type VoiceLivePeer } from '../../lab/voice-live/peer.js';
import { resolveAgentProfiles } from '../../shared/config/worker.js';
import { startWorker, workerConfig, type RunningWorker } from './harness.js';

const audience = '6d5a3b2c-1111-4222-8333-444455556666';

describe('media path with an agent profile, under MEDIA_AUTH=acs', () => {
  let issuer: AcsTokenIssuer | undefined;
  let peer: VoiceLivePeer | undefined;
  let worker: RunningWorker | undefined;
  const clients: AcsMediaClient[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.socket.terminate();
    await worker?.close();
    await peer?.close();
    await issuer?.close();
    worker = peer = issuer = undefined;
  });

  const refusal = (url: string, token?: string) =>
    AcsMediaClient.connect({ url, ...(token ? { token } : {}) }).then(
      (client) => {
        clients.push(client);
        return 'accepted';
      },
      (error: unknown) => (error instanceof AcsUpgradeError ? error.status : error),
    );

  it('checks the token before the profile (a stranger learns nothing of the profile names), then 404s an unknown one; a known one gets its agent', async () => {
    issuer = await startAcsTokenIssuer({ audience });
    peer = await startVoiceLivePeer({ apiKey: 'lab-key' });
    const defaults = workerConfig(peer.url, { mediaAuth: { mode: 'acs', audience, issuer: issuer.issuer, jwksUrl: issuer.jwksUrl } });
    worker = await startWorker({ ...defaults, agentProfiles: resolveAgentProfiles({ sales: { instructions: 'Sales line.' } }, defaults.voiceLive) });
    const token = await issuer.issue();

    expect(await refusal(`${worker.url}/ws/call-1/marketing`)).toBe(401);
    expect(await refusal(`${worker.url}/ws/call-1/sales`)).toBe(401);
    expect(await refusal(`${worker.url}/ws/call-1/marketing`, token)).toBe(404);
    expect(await refusal(`${worker.url}/ws/call-1/Not%20A%20Name`, token)).toBe(404);
    expect(peer.sessions).toHaveLength(0);

    expect(await refusal(`${worker.url}/ws/call-1/sales`, token)).toBe('accepted');
    clients[0]!.sendMetadata(16000);
    const session = await peer.nextSession();
    expect(((await session.waitFor('session.update')).session as { instructions: string }).instructions).toBe('Sales line.');

    const reasons = Object.fromEntries((await worker.server.metrics.upgradesRejected.get()).values.map((v) => [String(v.labels.reason), v.value]));
    expect(reasons).toEqual({ missing_token: 2, unknown_profile: 2 });
    // A name that is not a profile name is not echoed into the log.
    const refusedLines = worker.logs.filter((l) => String(l.msg).includes('unknown agent profile'));
    expect(refusedLines.map((l) => l.profile)).toEqual(['marketing', '(not a profile name)']);
  });
});
