import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair, type JWK } from 'jose';

export interface AcsTokenIssuer {
  /** Issuer URL to configure verifiers with (`http://127.0.0.1:<port>`). */
  readonly issuer: string;
  /** JWKS URL serving the public key. */
  readonly jwksUrl: string;
  /** The audience tokens carry unless told otherwise. */
  readonly audience: string;
  /** A signed token as ACS would send it; override claims to forge bad ones in tests. */
  issue(overrides?: { audience?: string; issuer?: string; expiresInSeconds?: number; claims?: Record<string, unknown> }): Promise<string>;
  /** A token signed by a key the JWKS does not publish. */
  issueWithUnknownKey(): Promise<string>;
  close(): Promise<void>;
}

/**
 * A local stand-in for ACS's token service: an RS256 key pair, its JWKS served over HTTP on 127.0.0.1,
 * and tokens with the claims ACS puts on callbacks and media WebSocket upgrades.
 */
export async function startAcsTokenIssuer(options: { audience?: string; port?: number } = {}): Promise<AcsTokenIssuer> {
  const audience = options.audience ?? '00000000-0000-4000-8000-00000000acs1';
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  const stranger = await generateKeyPair('RS256');
  const kid = 'lab-key-1';
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };

  let issuer = '';
  const server: Server = createServer((req, res) => {
    if (req.url === '/calling/keys') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
    } else if (req.url === '/calling/.well-known/acsopenidconfiguration') {
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ issuer, jwks_uri: `${issuer}/calling/keys`, id_token_signing_alg_values_supported: ['RS256'] }));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  type SigningKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
  const sign = (key: SigningKey, keyId: string, o: Parameters<AcsTokenIssuer['issue']>[0] = {}) =>
    new SignJWT({ ...(o.claims ?? {}) })
      .setProtectedHeader({ alg: 'RS256', kid: keyId, typ: 'JWT' })
      .setIssuer(o.issuer ?? issuer)
      .setAudience(o.audience ?? audience)
      .setIssuedAt()
      .setNotBefore('0s')
      .setExpirationTime(Math.floor(Date.now() / 1000) + (o.expiresInSeconds ?? 300))
      .sign(key);

  return {
    issuer,
    jwksUrl: `${issuer}/calling/keys`,
    audience,
    issue: (o) => sign(privateKey, kid, o),
    issueWithUnknownKey: () => sign(stranger.privateKey, 'unknown-key'),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
