import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type { FunctionsConfig } from '../../shared/config/functions.js';
import { EntraAuthError, EntraTokenVerifier, type EntraCaller } from '../../shared/entra-auth.js';
import type { Logger } from '../../shared/log.js';
import { callLog } from '../context.js';

/** The two outbound routes: placing a call, and reading its status. */
export type OutboundOperation = 'place' | 'read';

export type OutboundAuthResult = { ok: true; caller: EntraCaller } | { ok: false; response: HttpResponseInit };

/** Authenticates a request to an outbound route; the route's handler runs only after `ok`. */
export interface OutboundAuth {
  authenticate(request: HttpRequest, context: InvocationContext, operation: OutboundOperation): Promise<OutboundAuthResult>;
}

/** Whether the deployment turned Entra on for the outbound routes (then they are anonymous to the host, and need a token). */
export const outboundEntraEnabled = (config: Pick<FunctionsConfig, 'OUTBOUND_AUTH_ENTRA_TENANT_ID'>): boolean => Boolean(config.OUTBOUND_AUTH_ENTRA_TENANT_ID);

/** The caller's ids, as logged and carried on `call.outbound.requested`: never a name, never the token. */
export const callerFields = (caller: EntraCaller) => ({
  ...(caller.appId ? { appId: caller.appId } : {}),
  ...(caller.objectId ? { objectId: caller.objectId } : {}),
  tenantId: caller.tenantId,
});

const quoted = (value: string) => value.replace(/["\\]/g, "'");

const refuse = (status: number, headers: Record<string, string>, jsonBody: Record<string, string>): OutboundAuthResult => ({
  ok: false,
  response: { status, headers: { ...headers, 'Cache-Control': 'no-store' }, jsonBody },
});

/**
 * Entra app-role authentication of POST/GET /api/calls, or undefined when the deployment leaves it off (the
 * function key then guards both routes at the Functions host). Placing needs OUTBOUND_AUTH_ENTRA_PLACE_ROLE;
 * reading needs OUTBOUND_AUTH_ENTRA_READ_ROLE or the place role (whoever may place a call may follow it).
 */
export function createOutboundAuth(config: FunctionsConfig, logger: Logger): OutboundAuth | undefined {
  const tenantId = config.OUTBOUND_AUTH_ENTRA_TENANT_ID;
  if (!tenantId) return undefined;
  const verifier = new EntraTokenVerifier({
    tenantId,
    audiences: config.OUTBOUND_AUTH_ENTRA_AUDIENCE,
    ...(config.OUTBOUND_AUTH_ENTRA_AUTHORITY_HOST ? { authorityHost: config.OUTBOUND_AUTH_ENTRA_AUTHORITY_HOST } : {}),
    ...(config.OUTBOUND_AUTH_ENTRA_V1_ISSUER_HOST ? { v1IssuerHost: config.OUTBOUND_AUTH_ENTRA_V1_ISSUER_HOST } : {}),
  });
  const placeRole = config.OUTBOUND_AUTH_ENTRA_PLACE_ROLE;
  const readRole = config.OUTBOUND_AUTH_ENTRA_READ_ROLE;
  const rolesFor = (operation: OutboundOperation) => (operation === 'place' ? [placeRole] : [readRole, placeRole]);

  return {
    async authenticate(request, context, operation) {
      const log = callLog(logger, context, {});
      let caller: EntraCaller;
      try {
        caller = await verifier.verifyAuthorizationHeader(request.headers.get('authorization'));
      } catch (error) {
        const refusal = error instanceof EntraAuthError ? error : new EntraAuthError('invalid_token', 'token could not be checked');
        log.warn('outbound API request refused: no valid Entra token', { code: refusal.code, reason: refusal.message });
        if (refusal.code === 'keys_unavailable') {
          // The token was not judged: a retry may succeed once Entra's key set is reachable again.
          return refuse(503, { 'Retry-After': '5' }, { error: 'keys_unavailable', message: 'the token signing keys could not be fetched; try again' });
        }
        // RFC 6750 §3.1: a request without credentials gets the bare challenge; a bad token gets invalid_token.
        const challenge = refusal.code === 'missing_token' ? 'Bearer' : `Bearer error="invalid_token", error_description="${quoted(refusal.message)}"`;
        return refuse(401, { 'WWW-Authenticate': challenge }, { error: refusal.code, message: refusal.message });
      }
      const accepted = rolesFor(operation);
      if (!accepted.some((role) => caller.roles.includes(role))) {
        const needed = accepted.join(' or ');
        log.warn('outbound API request refused: the caller lacks the app role', { ...callerFields(caller), needed, roles: caller.roles });
        return refuse(
          403,
          { 'WWW-Authenticate': `Bearer error="insufficient_scope", error_description="needs the app role ${quoted(needed)}"` },
          { error: 'forbidden', message: `the token has no app role ${needed} for this API`, role: accepted[0]! },
        );
      }
      return { ok: true, caller };
    },
  };
}
