import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEntraTokenIssuer, type EntraTokenIssuer } from '../lab/entra-token-issuer.js';
import { freePort } from '../lab/free-port.js';
import { EntraAuthError, EntraTokenVerifier } from './entra-auth.js';

let entra: EntraTokenIssuer;
let verifier: EntraTokenVerifier;

beforeAll(async () => {
  entra = await startEntraTokenIssuer();
  verifier = new EntraTokenVerifier({
    tenantId: entra.tenantId,
    audiences: [entra.apiClientId, entra.appIdUri],
    authorityHost: entra.authorityHost,
    v1IssuerHost: entra.v1IssuerHost,
    clockToleranceSeconds: 0,
  });
});
afterAll(() => entra.close());

const codeOf = async (promise: Promise<unknown>) => {
  try {
    await promise;
    return 'accepted';
  } catch (error) {
    return error instanceof EntraAuthError ? error.code : `unexpected: ${String(error)}`;
  }
};

describe('EntraTokenVerifier', () => {
  it('reads the caller of a v2.0 token from azp and oid, and of a v1.0 token from appid and oid', async () => {
    const v2 = await verifier.verifyAuthorizationHeader(`Bearer ${await entra.issue({ roles: ['Calls.Place'] })}`);
    expect(v2).toEqual({ appId: entra.caller.appId, objectId: entra.caller.objectId, tenantId: entra.tenantId, roles: ['Calls.Place'], tokenVersion: '2.0' });
    const v1 = await verifier.verifyToken(await entra.issue({ version: '1.0', appId: '11111111-2222-4333-8444-555555555555' }));
    expect(v1).toMatchObject({ appId: '11111111-2222-4333-8444-555555555555', roles: [], tokenVersion: '1.0' });
  });

  it('takes only a Bearer header', async () => {
    expect(await codeOf(verifier.verifyAuthorizationHeader(undefined))).toBe('missing_token');
    expect(await codeOf(verifier.verifyAuthorizationHeader(`Basic ${await entra.issue()}`))).toBe('missing_token');
  });

  it('refuses a v2.0 token carrying the app id URI as audience only when that URI is not configured', async () => {
    const token = await entra.issue({ audience: entra.appIdUri });
    expect(await codeOf(verifier.verifyToken(token))).toBe('accepted');
    const strict = new EntraTokenVerifier({ tenantId: entra.tenantId, audiences: [entra.apiClientId], authorityHost: entra.authorityHost, v1IssuerHost: entra.v1IssuerHost });
    expect(await codeOf(strict.verifyToken(token))).toBe('invalid_token');
  });

  it('says keys_unavailable, not invalid_token, when the key set cannot be fetched (the token was not judged)', async () => {
    const unreachable = `http://127.0.0.1:${await freePort('127.0.0.1')}`;
    const offline = new EntraTokenVerifier({ tenantId: entra.tenantId, audiences: [entra.apiClientId], authorityHost: unreachable, v1IssuerHost: entra.v1IssuerHost });
    expect(await codeOf(offline.verifyToken(await entra.issue({ issuer: `${unreachable}/${entra.tenantId}/v2.0` })))).toBe('keys_unavailable');
  });

  it('refuses to be built without a tenant or an audience', () => {
    expect(() => new EntraTokenVerifier({ tenantId: '', audiences: ['x'] })).toThrow(/tenantId/);
    expect(() => new EntraTokenVerifier({ tenantId: entra.tenantId, audiences: [] })).toThrow(/audiences/);
  });
});
