import { CredentialUnavailableError } from '@azure/identity';
import type { TokenCredential } from '@azure/core-auth';
import { afterEach, describe, expect, it } from 'vitest';
import { AcsMediaClient } from '../../lab/acs/media-client.js';
import { startCallControlLab, until, type CallControlLab } from './harness.js';

let lab: CallControlLab | undefined;
afterEach(async () => {
  await lab?.close();
  lab = undefined;
});

const IDENTITY_MESSAGE =
  'ManagedIdentityCredential: no managed identity endpoint found for client id 00000000-1111-2222-3333-444444444444; ' +
  'assign the user-assigned identity to the container app and grant it Cognitive Services User on the resource.';

/** Opens a call's media socket and sends AudioMetadata; the call then tries to reach Voice Live. */
async function openCall(callId: string): Promise<AcsMediaClient> {
  const media = await AcsMediaClient.connect({ url: `${lab!.worker.url}/ws/${callId}`, correlationId: callId });
  media.sendMetadata(16000);
  return media;
}

async function metricValue(name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = (await lab!.worker.server.metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
  const rows = (metric?.values ?? []) as { labels: Record<string, string | number>; value: number }[];
  return rows.filter((row) => Object.entries(labels).every(([k, v]) => row.labels[k] === v)).reduce((sum, row) => sum + row.value, 0);
}

describe('a Voice Live credential that does not work fails the call at once', () => {
  it('a credential that cannot give a token: asked once, no retries, the call ends with the whole reason in the log and the record, and is counted for the alerts', async () => {
    let tokenRequests = 0;
    const credential: TokenCredential = {
      getToken: async () => {
        tokenRequests++;
        throw new CredentialUnavailableError(IDENTITY_MESSAGE);
      },
    };
    lab = await startCallControlLab({ voiceLive: { apiKey: undefined }, credential });
    const media = await openCall('call-no-token');
    expect((await media.closed).code).toBe(1011);
    expect(tokenRequests).toBe(1);
    expect(lab.voiceLive.upgrades).toEqual([]);
    await until(() => lab!.records().length === 1, 5000, 'record');
    const record = lab.records()[0]!;
    expect(record.outcome.kind).toBe('failed');
    expect(record.outcome.reason).toContain('Voice Live authentication failed');
    expect(record.outcome.reason).toContain('CredentialUnavailableError');
    expect(record.outcome.reason).toContain(IDENTITY_MESSAGE);
    const ended = lab.logs.find((l) => l.msg === 'call ended' && l.callId === 'call-no-token')!;
    expect(ended.reason).toBe(record.outcome.reason);
    expect(await metricValue('worker_voice_live_auth_failures_total')).toBe(1);
    // The calls-failing alert rule counts worker_calls_total{outcome="failed"}.
    expect(await metricValue('worker_calls_total', { outcome: 'failed' })).toBe(1);
  });

  it('a token Voice Live refuses (401): one upgrade, no retries, the call ends failed and is counted as an authentication failure', async () => {
    const credential: TokenCredential = { getToken: async () => ({ token: 'token-of-an-identity-without-the-role', expiresOnTimestamp: Date.now() + 3_600_000 }) };
    lab = await startCallControlLab({ voiceLive: { apiKey: undefined }, credential });
    const media = await openCall('call-refused-token');
    expect((await media.closed).code).toBe(1011);
    expect(lab.voiceLive.upgrades.map((u) => u.status)).toEqual([401]);
    await until(() => lab!.records().length === 1, 5000, 'record');
    expect(lab.records()[0]!.outcome).toEqual({ kind: 'failed', reason: expect.stringMatching(/Voice Live authentication failed.*401/) });
    expect(await metricValue('worker_voice_live_auth_failures_total')).toBe(1);
  });
});
