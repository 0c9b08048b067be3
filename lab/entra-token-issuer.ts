import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes, randomUUID } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair, type JWK } from 'jose';

export interface EntraTokenOptions {
  /** `2.0` (default) as for an API app whose manifest sets requestedAccessTokenVersion 2; `1.0` as for one that leaves it null. */
  version?: '1.0' | '2.0';
  /** App roles assigned to the caller on the API (the `roles` claim); default none. */
  roles?: string[];
  audience?: string;
  issuer?: string;
  expiresInSeconds?: number;
  /** The caller's client id (`azp` in 2.0, `appid` in 1.0); default the stand-in's managed identity. */
  appId?: string;
  /** The caller's object id (`oid`, `sub`); default the stand-in's managed identity's. */
  objectId?: string;
  tenantId?: string;
  /** Extra or replacing claims. */
  claims?: Record<string, unknown>;
}

export interface EntraTokenIssuer {
  readonly tenantId: string;
  /** Stands in for `https://login.microsoftonline.com` (v2.0 issuer and both key sets). */
  readonly authorityHost: string;
  /** Stands in for `https://sts.windows.net` (the v1.0 issuer). */
  readonly v1IssuerHost: string;
  /** The API app's client id: the `aud` of every 2.0 token. */
  readonly apiClientId: string;
  /** The API app's app id URI (`api://<client id>`): a 1.0 token's `aud` when the caller asked for it. */
  readonly appIdUri: string;
  /** The managed identity tokens are issued to unless told otherwise. */
  readonly caller: { appId: string; objectId: string };
  /** An app-only access token for the API, with the claims Entra gives a managed identity's token. */
  issue(options?: EntraTokenOptions): Promise<string>;
  /** The same, signed by a key the tenant does not publish. */
  issueWithUnknownKey(options?: EntraTokenOptions): Promise<string>;
  /**
   * The App Service managed identity endpoint (`IDENTITY_ENDPOINT`, with `IDENTITY_HEADER` as its secret): what
   * `DefaultAzureCredential` asks on a Functions app or Container App. Answers a 2.0 token with `roles` for
   * `resource` = our app id URI or client id; other resources get 400.
   */
  readonly managedIdentity: { endpoint: string; header: string; roles: string[] };
  close(): Promise<void>;
}

/**
 * A local stand-in for Microsoft Entra ID for one tenant and one API app: an RS256 key pair published on
 * 127.0.0.1 as `/<tenant>/discovery/v2.0/keys` and `/<tenant>/discovery/keys` (Entra's paths), and app-only access
 * tokens as a managed identity gets them for an API with app roles (docs/fidelity/entra.md says what is confirmed).
 */
export async function startEntraTokenIssuer(options: { port?: number; tenantId?: string; apiClientId?: string; managedIdentityRoles?: string[] } = {}): Promise<EntraTokenIssuer> {
  const tenantId = options.tenantId ?? '72f988bf-0000-4000-8000-00000000e17a';
  const apiClientId = options.apiClientId ?? '6e74172b-0000-4000-8000-0000000ca115';
  const appIdUri = `api://${apiClientId}`;
  const caller = { appId: '0c5e11e7-0000-4000-8000-00000000ca11', objectId: '3b1d7a52-0000-4000-8000-00000000051d' };
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  const stranger = await generateKeyPair('RS256');
  const kid = randomBytes(20).toString('base64url');
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid, use: 'sig', kty: 'RSA' };
  const identityHeader = randomBytes(16).toString('hex');
  const managedIdentityRoles = options.managedIdentityRoles ?? ['Calls.Place'];

  let base = '';
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const json = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (url.pathname === `/${tenantId}/discovery/v2.0/keys`) return json(200, { keys: [{ ...jwk, issuer: `${base}/${tenantId}/v2.0` }] });
    if (url.pathname === `/${tenantId}/discovery/keys`) return json(200, { keys: [jwk] });
    if (url.pathname === `/${tenantId}/v2.0/.well-known/openid-configuration`) {
      return json(200, { issuer: `${base}/${tenantId}/v2.0`, jwks_uri: `${base}/${tenantId}/discovery/v2.0/keys`, id_token_signing_alg_values_supported: ['RS256'] });
    }
    if (url.pathname === '/msi/token') {
      if (req.headers['x-identity-header'] !== identityHeader) return json(401, { error: 'invalid_request', error_description: 'X-IDENTITY-HEADER missing or wrong' });
      const resource = (url.searchParams.get('resource') ?? '').replace(/\/\.default$/, '');
      if (resource !== appIdUri && resource !== apiClientId) return json(400, { error: 'invalid_resource', error_description: `AADSTS500011: resource ${resource} not found in the tenant` });
      void sign(privateKey, kid, { roles: managedIdentityRoles }).then(
        (token) => json(200, { access_token: token, expires_on: String(Math.floor(Date.now() / 1000) + 3600), resource, token_type: 'Bearer', client_id: caller.appId }),
        (error: Error) => json(500, { error: 'server_error', error_description: error.message }),
      );
      return;
    }
    json(404, { error: 'not_found' });
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const v1IssuerHost = `${base}/sts`;

  type SigningKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
  const sign = (key: SigningKey, keyId: string, o: EntraTokenOptions = {}) => {
    const version = o.version ?? '2.0';
    const tid = o.tenantId ?? tenantId;
    const appId = o.appId ?? caller.appId;
    const oid = o.objectId ?? caller.objectId;
    const now = Math.floor(Date.now() / 1000);
    const issuer = o.issuer ?? (version === '2.0' ? `${base}/${tid}/v2.0` : `${v1IssuerHost}/${tid}/`);
    // App-only tokens (client credentials, managed identity): no scp, no names; sub = oid; idtyp app.
    const common = { aio: randomBytes(12).toString('base64url'), idtyp: 'app', oid, rh: '0.lab.', ...(o.roles ? { roles: o.roles } : {}), sub: oid, tid, uti: randomUUID().replace(/-/g, '').slice(0, 22), ver: version };
    const claims = version === '2.0' ? { ...common, azp: appId, azpacr: '2' } : { ...common, appid: appId, appidacr: '2', idp: issuer };
    return new SignJWT({ ...claims, ...(o.claims ?? {}) })
      .setProtectedHeader({ typ: 'JWT', alg: 'RS256', kid: keyId, ...(version === '1.0' ? { x5t: keyId } : {}) })
      .setIssuer(issuer)
      .setAudience(o.audience ?? (version === '2.0' ? apiClientId : appIdUri))
      .setIssuedAt(now - 5)
      .setNotBefore(now - 5)
      .setExpirationTime(now + (o.expiresInSeconds ?? 3600))
      .sign(key);
  };

  return {
    tenantId,
    authorityHost: base,
    v1IssuerHost,
    apiClientId,
    appIdUri,
    caller,
    issue: (o) => sign(privateKey, kid, o),
    issueWithUnknownKey: (o) => sign(stranger.privateKey, 'unknown-key', o),
    managedIdentity: { endpoint: `${base}/msi/token`, header: identityHeader, roles: managedIdentityRoles },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
