import { buildCallRecord, type CallRecord } from '../../shared/call-record.js';
import type { FunctionsConfig } from '../../shared/config/functions.js';
import type { OutboundCallStatus } from '../../shared/outbound-call.js';
import { maskPhoneNumber } from '../../shared/privacy.js';

/**
 * The `call-records` message of an outbound call none of whose attempts was answered: the worker never had it, so
 * without this a consumer of call records would see answered calls only. Same schema as the worker's records:
 * `outcome.kind` `not_connected`, `outbound.outcome` the last attempt's (`busy`, `no_answer`, `failed`), nothing
 * spoken, nothing used, nothing connected. `startedAt` is when the call was requested, `endedAt` when its last
 * attempt failed, or when it was cancelled while waiting to retry (`cancelled`: the attempt that failed last).
 */
export function unansweredCallRecord(
  config: Pick<FunctionsConfig, 'PRICE_CURRENCY'>,
  status: OutboundCallStatus,
  endedAt: Date,
  cancelled?: { lastAttempt: number },
): CallRecord {
  const outcome = status.outcome === 'busy' || status.outcome === 'no_answer' ? status.outcome : 'failed';
  const code = status.resultInformation?.code;
  const attempt = cancelled?.lastAttempt ?? status.attempt;
  const result = code !== undefined ? ` (ACS result ${code})` : '';
  const reason = cancelled ? `cancelled while waiting to retry; attempt ${attempt}: ${outcome}${result}` : `${outcome} on attempt ${attempt}, the last${result}`;
  const requestedAt = status.request?.requestedAt ?? status.updatedAt;
  const startedAt = Date.parse(requestedAt) <= endedAt.getTime() ? new Date(requestedAt) : endedAt;
  return buildCallRecord({
    callId: status.callId,
    ...(status.profile ? { profile: status.profile } : {}),
    ...(status.callConnectionId ? { callConnectionId: status.callConnectionId } : {}),
    ...(status.request?.from ? { from: maskPhoneNumber(status.request.from) } : {}),
    to: status.to,
    startedAt: startedAt.toISOString(),
    endedAt: endedAt.toISOString(),
    durationMs: 0,
    outcome: { kind: 'not_connected', reason },
    transcript: [],
    turns: [],
    tools: [],
    bargeIns: 0,
    voiceLiveReconnects: 0,
    framesIn: 0,
    framesOut: 0,
    framesDropped: 0,
    usage: { responses: 0, audioTokensIn: 0, textTokensIn: 0, cachedTokensIn: 0, audioTokensOut: 0, textTokensOut: 0, totalTokens: 0 },
    cost: {
      currency: config.PRICE_CURRENCY,
      tokens: 0,
      callMinutes: 0,
      minutes: 0,
      total: 0,
      rates: { audioInputPer1M: 0, audioOutputPer1M: 0, textInputPer1M: 0, textOutputPer1M: 0, cachedInputPer1M: 0, callPerMinute: 0 },
    },
    outbound: { attempt, outcome },
  });
}
