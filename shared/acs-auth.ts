import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import { jwtFailure } from './jwt-failure.js';

/** ACS Call Automation signs callbacks and media WebSocket upgrades with tokens from this issuer. */
export const ACS_TOKEN_ISSUER = 'https://acscallautomation.communication.azure.com';
export const ACS_JWKS_URL = 'https://acscallautomation.communication.azure.com/calling/keys';

export interface AcsTokenVerifierOptions {
  /** The ACS resource's immutable resource id (a GUID): the `aud` of every token ACS signs for it. */
  audience: string;
  /** Defaults to ACS's issuer; the local lab passes its own. */
  issuer?: string;
  /** Defaults to ACS's published keys; the local lab passes its own. */
  jwksUrl?: string;
  /** Clock skew allowed on `exp`/`nbf`, in seconds. */
  clockToleranceSeconds?: number;
}

export type AcsAuthErrorCode = 'missing_token' | 'invalid_token' | 'expired_token' | 'keys_unavailable';

export class AcsAuthError extends Error {
  constructor(
    readonly code: AcsAuthErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'AcsAuthError';
  }
}

/** Verifies the `Authorization: Bearer <jwt>` that ACS sends on callbacks and on the media WebSocket upgrade. */
export class AcsTokenVerifier {
  private readonly keys: ReturnType<typeof createRemoteJWKSet>;
  private readonly issuer: string;
  private readonly audience: string;
  private readonly clockToleranceSeconds: number;

  constructor(options: AcsTokenVerifierOptions) {
    if (!options.audience) throw new TypeError('AcsTokenVerifier: options.audience is required');
    this.audience = options.audience;
    this.issuer = options.issuer ?? ACS_TOKEN_ISSUER;
    this.clockToleranceSeconds = options.clockToleranceSeconds ?? 30;
    this.keys = createRemoteJWKSet(new URL(options.jwksUrl ?? ACS_JWKS_URL), {
      cooldownDuration: 30_000,
      cacheMaxAge: 10 * 60_000,
      timeoutDuration: 5_000,
    });
  }

  /** Resolves with the token's claims, or rejects with an `AcsAuthError` saying why it was refused. */
  async verifyAuthorizationHeader(header: string | string[] | undefined | null): Promise<JWTPayload> {
    const value = Array.isArray(header) ? header[0] : header;
    const match = value?.match(/^Bearer\s+(\S+)$/i);
    if (!match?.[1]) throw new AcsAuthError('missing_token', 'no Bearer token in the Authorization header');
    return this.verifyToken(match[1]);
  }

  async verifyToken(token: string): Promise<JWTPayload> {
    try {
      const { payload } = await jwtVerify(token, this.keys, {
        issuer: this.issuer,
        audience: this.audience,
        algorithms: ['RS256'],
        clockTolerance: this.clockToleranceSeconds,
        requiredClaims: ['exp'],
      });
      return payload;
    } catch (error) {
      const failure = jwtFailure(error);
      throw new AcsAuthError(failure.code, failure.message);
    }
  }
}
