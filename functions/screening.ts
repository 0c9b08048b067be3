import { createHash } from 'node:crypto';
import type { Party } from '../shared/call-metadata.js';
import type { FunctionsConfig } from '../shared/config/functions.js';

export type ScreeningDecision = { forUs: true } | { forUs: false; reason: string };

/** Whether the party is one of the entries: an E.164 number or raw id, or a prefix ending in `*`. */
export const matches = (entries: readonly string[], party: Party): boolean =>
  entries.some((entry) => {
    const candidates = [party.phoneNumber, party.rawId].filter((v): v is string => typeof v === 'string');
    if (entry.endsWith('*')) {
      const prefix = entry.slice(0, -1);
      return candidates.some((c) => c.startsWith(prefix));
    }
    return candidates.includes(entry);
  });

/** Decides whether a call is ours to answer. Deny lists win over allow lists; an empty allow list allows all. */
export function screenCall(
  config: Pick<FunctionsConfig, 'CALLED_NUMBERS_ALLOWED' | 'CALLED_NUMBERS_DENIED' | 'CALLER_NUMBERS_ALLOWED' | 'CALLER_NUMBERS_DENIED' | 'AGENT_CALL_PERCENT'>,
  call: { to: Party; from: Party; callId: string },
): ScreeningDecision {
  if (matches(config.CALLED_NUMBERS_DENIED, call.to)) return { forUs: false, reason: 'called number is denied' };
  if (config.CALLED_NUMBERS_ALLOWED.length > 0 && !matches(config.CALLED_NUMBERS_ALLOWED, call.to)) {
    return { forUs: false, reason: 'called number is not in CALLED_NUMBERS_ALLOWED' };
  }
  if (matches(config.CALLER_NUMBERS_DENIED, call.from)) return { forUs: false, reason: 'caller is denied' };
  if (config.CALLER_NUMBERS_ALLOWED.length > 0 && !matches(config.CALLER_NUMBERS_ALLOWED, call.from)) {
    return { forUs: false, reason: 'caller is not in CALLER_NUMBERS_ALLOWED' };
  }
  if (callBucket(call.callId) >= config.AGENT_CALL_PERCENT) {
    return { forUs: false, reason: `outside the agent's share of calls (AGENT_CALL_PERCENT=${config.AGENT_CALL_PERCENT})` };
  }
  return { forUs: true };
}

/**
 * The call's place, 0 to 99, in the agent's share: from a hash of its id, so every delivery of the same
 * IncomingCall, on any instance, gets the same decision, and the share holds over many calls.
 */
export function callBucket(callId: string): number {
  return createHash('sha256').update(callId).digest().readUInt32BE(0) % 100;
}

/**
 * The agent profile for a call to `called` (AGENT_PROFILE_BY_NUMBER, matched as the number lists are): the first
 * pair that matches; undefined = the worker's default agent.
 */
export function agentProfileFor(config: Pick<FunctionsConfig, 'AGENT_PROFILE_BY_NUMBER'>, called: Party): string | undefined {
  return config.AGENT_PROFILE_BY_NUMBER.find((pair) => matches([pair.number], called))?.profile;
}
