import type { FunctionsConfig } from '../../shared/config/functions.js';

/**
 * The safety checks every outbound call passes, where the request enters (POST /api/calls) and again where the
 * queue hands it over (a message put on the queue directly meets the same checks).
 */
export type PolicyVerdict = { ok: true } | { ok: false; status: 403 | 503; field?: string; reason: string };

type PolicyConfig = Pick<FunctionsConfig, 'OUTBOUND_KILL_SWITCH' | 'OUTBOUND_ALLOWED_PREFIXES'>;

export function checkOutboundPolicy(config: PolicyConfig, to: string): PolicyVerdict {
  if (config.OUTBOUND_KILL_SWITCH === 'on') return { ok: false, status: 503, reason: 'outbound calling is switched off (OUTBOUND_KILL_SWITCH=on)' };
  if (config.OUTBOUND_ALLOWED_PREFIXES.length === 0) {
    return { ok: false, status: 403, field: 'to', reason: 'no destination is allowed: OUTBOUND_ALLOWED_PREFIXES is empty' };
  }
  if (!config.OUTBOUND_ALLOWED_PREFIXES.some((prefix) => to.startsWith(prefix))) {
    return { ok: false, status: 403, field: 'to', reason: 'destination not in OUTBOUND_ALLOWED_PREFIXES' };
  }
  return { ok: true };
}
