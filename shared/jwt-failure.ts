import { errors as joseErrors } from 'jose';

export type JwtFailureCode = 'invalid_token' | 'expired_token' | 'keys_unavailable';

/**
 * Why `jwtVerify` refused a token, for a bearer-token answer: expired, invalid, or not judged at all because the
 * signing keys could not be fetched (a network failure surfaces as a plain error; jose throws its bare base class
 * only when the key set endpoint answers non-200 or non-JSON).
 */
export function jwtFailure(error: unknown): { code: JwtFailureCode; message: string } {
  if (error instanceof joseErrors.JWTExpired) return { code: 'expired_token', message: 'token has expired' };
  if (error instanceof joseErrors.JWKSTimeout || error instanceof joseErrors.JWKSInvalid || !(error instanceof joseErrors.JOSEError) || error.constructor === joseErrors.JOSEError) {
    return { code: 'keys_unavailable', message: `could not fetch signing keys: ${(error as Error).message}` };
  }
  return { code: 'invalid_token', message: `${error.code}: ${error.message}` };
}
