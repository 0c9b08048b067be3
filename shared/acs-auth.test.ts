import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAcsTokenIssuer, type AcsTokenIssuer } from '../lab/acs-token-issuer.js';
import { AcsAuthError, AcsTokenVerifier } from './acs-auth.js';

let issuer: AcsTokenIssuer;
let verifier: AcsTokenVerifier;

beforeAll(async () => {
  issuer = await startAcsTokenIssuer();
  verifier = new AcsTokenVerifier({ audience: issuer.audience, issuer: issuer.issuer, jwksUrl: issuer.jwksUrl, clockToleranceSeconds: 0 });
});
afterAll(() => issuer.close());

const codeOf = async (promise: Promise<unknown>) => {
  try {
    await promise;
    return 'accepted';
  } catch (error) {
    return error instanceof AcsAuthError ? error.code : `unexpected: ${String(error)}`;
  }
};

describe('AcsTokenVerifier', () => {
  it('accepts a token signed by the published key for our resource', async () => {
    const claims = await verifier.verifyAuthorizationHeader(`Bearer ${await issuer.issue()}`);
    expect(claims.aud).toBe(issuer.audience);
  });
  it('refuses a request without a bearer token', async () => {
    expect(await codeOf(verifier.verifyAuthorizationHeader(undefined))).toBe('missing_token');
    expect(await codeOf(verifier.verifyAuthorizationHeader('Basic abc'))).toBe('missing_token');
  });
  it('refuses a token for another ACS resource', async () => {
    expect(await codeOf(verifier.verifyToken(await issuer.issue({ audience: 'someone-else' })))).toBe('invalid_token');
  });
  it('refuses a token from another issuer', async () => {
    expect(await codeOf(verifier.verifyToken(await issuer.issue({ issuer: 'https://evil.example' })))).toBe('invalid_token');
  });
  it('refuses an expired token', async () => {
    expect(await codeOf(verifier.verifyToken(await issuer.issue({ expiresInSeconds: -60 })))).toBe('expired_token');
  });
  it('refuses a token signed with a key ACS does not publish', async () => {
    expect(await codeOf(verifier.verifyToken(await issuer.issueWithUnknownKey()))).toBe('invalid_token');
  });
  it('refuses garbage', async () => {
    expect(await codeOf(verifier.verifyToken('not.a.jwt'))).toBe('invalid_token');
  });
  it('says the keys were unavailable when the key set cannot be fetched', async () => {
    const offline = new AcsTokenVerifier({ audience: issuer.audience, issuer: issuer.issuer, jwksUrl: 'http://127.0.0.1:9/calling/keys' });
    expect(await codeOf(offline.verifyToken(await issuer.issue()))).toBe('keys_unavailable');
  });
  it('says the keys were unavailable (not that the token is bad) when the key set endpoint answers an error or garbage', async () => {
    const server = createServer((req, res) => {
      if (req.url === '/down') res.writeHead(503).end('busy');
      else res.writeHead(200, { 'content-type': 'application/json' }).end('<html>not json</html>');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      for (const path of ['/down', '/garbage']) {
        const broken = new AcsTokenVerifier({ audience: issuer.audience, issuer: issuer.issuer, jwksUrl: base + path });
        expect(await codeOf(broken.verifyToken(await issuer.issue()))).toBe('keys_unavailable');
      }
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
