import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAcsRestPeer, type AcsRestPeer } from '../lab/acs/rest-peer.js';
import { createCallAutomationClient } from './call-automation-client.js';

describe('createCallAutomationClient', () => {
  let peer: AcsRestPeer;
  beforeAll(async () => {
    peer = await startAcsRestPeer();
  });
  afterAll(async () => peer?.close());

  it('talks plain http to a loopback endpoint given by a connection string, with requests signed by its key', async () => {
    const client = createCallAutomationClient({ connectionString: peer.connectionString }, { retryOptions: { maxRetries: 0 } });
    const answered = await client.answerCall(peer.createIncomingCallContext({ correlationId: 'cac-1' }), 'https://app.example/cb');
    expect(answered.callConnectionProperties.correlationId).toBe('cac-1');
    expect(peer.requestsFor('answer').at(-1)).toMatchObject({ authenticated: true, status: 200 });
  });

  it('refuses a plain-http endpoint that is not loopback, in either form, without asking for a token', () => {
    let asked = 0;
    const credential = () => {
      asked++;
      return { getToken: async () => null } satisfies TokenCredential;
    };
    const key = Buffer.from('k').toString('base64');
    for (const target of [
      { connectionString: `endpoint=http://acs.example.com/;accesskey=${key}` },
      { connectionString: `endpoint=http://10.0.0.5:8080/;accesskey=${key}` },
      { endpoint: 'http://acs.example.com/', credential },
      { endpoint: 'http://127.0.0.1:1/', credential },
    ]) {
      expect(() => createCallAutomationClient(target)).toThrow(expect.objectContaining({ code: 'INSECURE_ENDPOINT' }));
    }
    expect(() => createCallAutomationClient({ connectionString: `accesskey=${key}` })).toThrow(expect.objectContaining({ code: 'INVALID_ENDPOINT' }));
    expect(asked).toBe(0);
  });

  it('uses the managed identity against an https endpoint: each request asks it for an ACS token', async () => {
    const scopes: string[] = [];
    const credential: TokenCredential = {
      async getToken(scope): Promise<AccessToken> {
        scopes.push(...(Array.isArray(scope) ? scope : [scope]));
        return { token: 'mi-token', expiresOnTimestamp: Date.now() + 3_600_000 };
      },
    };
    // Nothing listens on port 1: the request fails after the token was fetched, which is what is checked.
    const client = createCallAutomationClient({ endpoint: 'https://127.0.0.1:1/', credential: () => credential }, { retryOptions: { maxRetries: 0 } });
    await expect(client.getCallConnection('cc').getCallConnectionProperties()).rejects.toThrow();
    expect(scopes).toEqual(['https://communication.azure.com//.default']);
  });
});
