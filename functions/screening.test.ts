import { describe, expect, it } from 'vitest';
import { agentProfileFor, callBucket, screenCall } from './screening.js';

const party = (phoneNumber: string) => ({ kind: 'phoneNumber' as const, rawId: `4:${phoneNumber}`, phoneNumber });
const lists = { CALLED_NUMBERS_ALLOWED: [], CALLED_NUMBERS_DENIED: [], CALLER_NUMBERS_ALLOWED: [], CALLER_NUMBERS_DENIED: [] };
const call = (callId: string) => ({ callId, from: party('+14155550101'), to: party('+18005550100') });
const ids = Array.from({ length: 4000 }, (_, i) => `${(i * 2654435761) % 4294967296}-corr-${i}`);

describe('screenCall: the agent\'s share of calls (AGENT_CALL_PERCENT)', () => {
  it('takes every call at 100 and none at 0', () => {
    expect(ids.every((id) => screenCall({ ...lists, AGENT_CALL_PERCENT: 100 }, call(id)).forUs)).toBe(true);
    expect(ids.some((id) => screenCall({ ...lists, AGENT_CALL_PERCENT: 0 }, call(id)).forUs)).toBe(false);
  });

  it('takes about the configured share of many calls, and always the same decision for the same call', () => {
    for (const percent of [10, 25, 50]) {
      const taken = ids.filter((id) => screenCall({ ...lists, AGENT_CALL_PERCENT: percent }, call(id)).forUs).length / ids.length;
      expect(Math.abs(taken - percent / 100), `${percent}%`).toBeLessThan(0.03);
    }
    for (const id of ids.slice(0, 50)) expect(callBucket(id)).toBe(callBucket(id));
    // A call in the 25 % share is in every larger share too: raising the share only adds calls.
    const in25 = ids.filter((id) => screenCall({ ...lists, AGENT_CALL_PERCENT: 25 }, call(id)).forUs);
    expect(in25.every((id) => screenCall({ ...lists, AGENT_CALL_PERCENT: 50 }, call(id)).forUs)).toBe(true);
  });

  it('says why a call outside the share is not ours, and the lists are applied first', () => {
    const outside = ids.find((id) => callBucket(id) >= 25)!;
    expect(screenCall({ ...lists, AGENT_CALL_PERCENT: 25 }, call(outside))).toEqual({ forUs: false, reason: "outside the agent's share of calls (AGENT_CALL_PERCENT=25)" });
    const denied = screenCall({ ...lists, CALLER_NUMBERS_DENIED: ['+1415*'], AGENT_CALL_PERCENT: 100 }, call(outside));
    expect(denied).toEqual({ forUs: false, reason: 'caller is denied' });
  });
});

describe('agentProfileFor: the agent profile of the called number (AGENT_PROFILE_BY_NUMBER)', () => {
  const byNumber = (...pairs: [string, string][]) => ({ AGENT_PROFILE_BY_NUMBER: pairs.map(([number, profile]) => ({ number, profile })) });

  it('matches numbers, prefixes and raw ids as the number lists do; the first pair that matches wins', () => {
    const config = byNumber(['+18005550100', 'sales'], ['+1800*', 'support'], ['8:acs:res_desk', 'desk']);
    expect(agentProfileFor(config, party('+18005550100'))).toBe('sales');
    expect(agentProfileFor(config, party('+18005550199'))).toBe('support');
    expect(agentProfileFor(config, { kind: 'communicationUser', rawId: '8:acs:res_desk' })).toBe('desk');
    expect(agentProfileFor(byNumber(['+1800*', 'support'], ['+18005550100', 'sales']), party('+18005550100'))).toBe('support');
  });

  it('gives no profile (the worker\'s default agent) to a number that matches no pair, or when none are set', () => {
    expect(agentProfileFor(byNumber(['+18005550100', 'sales']), party('+18005550101'))).toBeUndefined();
    expect(agentProfileFor(byNumber(), party('+18005550100'))).toBeUndefined();
  });
});
