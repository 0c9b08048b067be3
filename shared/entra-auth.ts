import { createRemoteJWKSet, decodeJwt, jwtVerify, type JWTPayload } from 'jose';
import { jwtFailure } from './jwt-failure.js';

/** Where Entra publishes v2.0 tokens' issuer and keys (`<host>/<tenant>/v2.0`, `<host>/<tenant>/discovery/v2.0/keys`). */
export const ENTRA_AUTHORITY_HOST = 'https://login.microsoftonline.com';
/** The issuer host of v1.0 access tokens (`https://sts.windows.net/<tenant>/`). */
export const ENTRA_V1_ISSUER_HOST = 'https://sts.windows.net';

export interface EntraTokenVerifierOptions {
  /** The tenant (directory) id whose tokens are accepted: a GUID. */
  tenantId: string;
  /** Accepted `aud` values: the API app's client id (v2.0 tokens always carry it) and its app id URI (v1.0 tokens may carry either). */
  audiences: readonly string[];
  /** Defaults to Entra's; the local lab passes its stand-in. */
  authorityHost?: string;
  /** Defaults to Entra's v1.0 issuer host; the local lab passes its stand-in. */
  v1IssuerHost?: string;
  /** Clock skew allowed on `exp`/`nbf`, in seconds. */
  clockToleranceSeconds?: number;
}

/** Who called, as Entra vouches for it: ids only, never a name. */
export interface EntraCaller {
  /** The client application's id: `azp` in v2.0 tokens, `appid` in v1.0 ones (a managed identity's client id). */
  appId?: string;
  /** The caller's object id (for a managed identity, its service principal). */
  objectId?: string;
  tenantId: string;
  /** App roles granted to the caller on our API (`roles`). */
  roles: string[];
  tokenVersion: '1.0' | '2.0';
}

export type EntraAuthErrorCode = 'missing_token' | 'invalid_token' | 'expired_token' | 'keys_unavailable';

export class EntraAuthError extends Error {
  constructor(
    readonly code: EntraAuthErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'EntraAuthError';
  }
}

interface AcceptedIssuer {
  issuer: string;
  version: '1.0' | '2.0';
  keys: ReturnType<typeof createRemoteJWKSet>;
}

const stripSlash = (value: string) => value.replace(/\/+$/, '');
const claimString = (payload: JWTPayload, name: string) => (typeof payload[name] === 'string' ? (payload[name] as string) : undefined);

/**
 * Verifies Entra access tokens for one API in one tenant: signature against the tenant's published keys, issuer,
 * audience, expiry. Both token versions are accepted (the API app's manifest, not the caller, picks which one Entra
 * issues); each is checked against its own issuer and key set, and `ver` must agree with the issuer.
 */
export class EntraTokenVerifier {
  private readonly accepted: AcceptedIssuer[];
  private readonly audiences: string[];
  private readonly tenantId: string;
  private readonly clockToleranceSeconds: number;

  constructor(options: EntraTokenVerifierOptions) {
    if (!options.tenantId) throw new TypeError('EntraTokenVerifier: options.tenantId is required');
    if (options.audiences.length === 0) throw new TypeError('EntraTokenVerifier: options.audiences must name at least one audience');
    this.tenantId = options.tenantId;
    this.audiences = [...options.audiences];
    this.clockToleranceSeconds = options.clockToleranceSeconds ?? 30;
    const authority = stripSlash(options.authorityHost ?? ENTRA_AUTHORITY_HOST);
    const v1Host = stripSlash(options.v1IssuerHost ?? ENTRA_V1_ISSUER_HOST);
    const keySet = (url: string) => createRemoteJWKSet(new URL(url), { cooldownDuration: 30_000, cacheMaxAge: 10 * 60_000, timeoutDuration: 5_000 });
    this.accepted = [
      { issuer: `${authority}/${this.tenantId}/v2.0`, version: '2.0', keys: keySet(`${authority}/${this.tenantId}/discovery/v2.0/keys`) },
      { issuer: `${v1Host}/${this.tenantId}/`, version: '1.0', keys: keySet(`${authority}/${this.tenantId}/discovery/keys`) },
    ];
  }

  /** The issuers tokens may come from (v2.0 first). */
  get issuers(): string[] {
    return this.accepted.map((a) => a.issuer);
  }

  /** Resolves with the caller, or rejects with an `EntraAuthError` saying why the token was refused. */
  async verifyAuthorizationHeader(header: string | null | undefined): Promise<EntraCaller> {
    const match = header?.match(/^Bearer\s+(\S+)\s*$/i);
    if (!match?.[1]) throw new EntraAuthError('missing_token', 'no Bearer token in the Authorization header');
    return this.verifyToken(match[1]);
  }

  async verifyToken(token: string): Promise<EntraCaller> {
    let unverified: JWTPayload;
    try {
      unverified = decodeJwt(token);
    } catch {
      throw new EntraAuthError('invalid_token', 'not a JWT');
    }
    // The issuer picks the key set; the signature check below then binds the token to it.
    const issuer = this.accepted.find((a) => a.issuer === unverified.iss);
    if (!issuer) throw new EntraAuthError('invalid_token', `issuer not accepted (expected ${this.issuers.join(' or ')})`);
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, issuer.keys, {
        issuer: issuer.issuer,
        audience: this.audiences,
        algorithms: ['RS256'],
        clockTolerance: this.clockToleranceSeconds,
        requiredClaims: ['exp'],
      }));
    } catch (error) {
      const failure = jwtFailure(error);
      throw new EntraAuthError(failure.code, failure.message);
    }
    if (payload.ver !== issuer.version) throw new EntraAuthError('invalid_token', `ver ${String(payload.ver)} does not match the issuer (a ${issuer.version} token)`);
    const tid = claimString(payload, 'tid');
    if (tid !== undefined && tid !== this.tenantId) throw new EntraAuthError('invalid_token', 'tid is not the accepted tenant');
    const roles = Array.isArray(payload.roles) ? payload.roles.filter((r): r is string => typeof r === 'string') : [];
    const appId = claimString(payload, issuer.version === '2.0' ? 'azp' : 'appid');
    const objectId = claimString(payload, 'oid');
    return { ...(appId ? { appId } : {}), ...(objectId ? { objectId } : {}), tenantId: this.tenantId, roles, tokenVersion: issuer.version };
  }
}
