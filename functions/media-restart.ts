import type { CallAutomationClient } from '@azure/communication-call-automation';
import { isFinalRefusal, restErrorOf, type CallLog } from './context.js';

/**
 * Media streaming stopped or failed while the call is still connected (a worker crashed or was redeployed):
 * ask ACS to stream again, so the call lands on another worker. The attempt number travels in the
 * operationContext, so whichever instance receives the resulting event continues the count.
 */
export const MEDIA_RESTART_CONTEXT_PREFIX = 'media-restart:';

export const mediaRestartContext = (attempt: number) => `${MEDIA_RESTART_CONTEXT_PREFIX}${attempt}`;

export function attemptFromOperationContext(operationContext: string | undefined): number {
  if (!operationContext?.startsWith(MEDIA_RESTART_CONTEXT_PREFIX)) return 0;
  const attempt = Number(operationContext.slice(MEDIA_RESTART_CONTEXT_PREFIX.length));
  return Number.isInteger(attempt) && attempt > 0 && attempt < 1000 ? attempt : 0;
}

export type MediaRestartPlan = { action: 'restart'; attempt: number } | { action: 'hangUp'; attempts: number };

/** The next step after the `attemptsSoFar`-th restart has also ended; at most `maxAttempts` restarts per call. */
export function planMediaRestart(attemptsSoFar: number, maxAttempts: number): MediaRestartPlan {
  return attemptsSoFar < maxAttempts ? { action: 'restart', attempt: attemptsSoFar + 1 } : { action: 'hangUp', attempts: attemptsSoFar };
}

export type MediaRestartResult =
  | { kind: 'restarted'; attempt: number }
  | { kind: 'hungUp'; attempts: number }
  | { kind: 'callGone'; reason: string }
  | { kind: 'retry'; reason: string };

/**
 * Carries out the plan, after checking with ACS that the call is still connected (the stop may be the
 * first sign of a hang-up whose CallDisconnected has not arrived yet).
 */
export async function executeMediaRestart(
  client: CallAutomationClient,
  callConnectionId: string,
  plan: MediaRestartPlan,
  log: CallLog,
): Promise<MediaRestartResult> {
  const connection = client.getCallConnection(callConnectionId);
  try {
    const properties = await connection.getCallConnectionProperties();
    if (properties.callConnectionState !== 'connected') {
      return { kind: 'callGone', reason: `call is ${properties.callConnectionState ?? 'in an unknown state'}` };
    }
    if (plan.action === 'restart') {
      await connection.getCallMedia().startMediaStreaming({ operationContext: mediaRestartContext(plan.attempt) });
      log.warn('media streaming ended while the call is connected: started it again', { attempt: plan.attempt });
      return { kind: 'restarted', attempt: plan.attempt };
    }
    await connection.hangUp(true, { requestOptions: {} });
    log.warn('media streaming keeps failing: hung up the call', { attempts: plan.attempts });
    return { kind: 'hungUp', attempts: plan.attempts };
  } catch (error) {
    const rest = restErrorOf(error);
    if (isFinalRefusal(rest.status)) {
      // 404/8522 once the call has ended; 400/8501 while it is being torn down.
      return { kind: 'callGone', reason: `ACS answered ${rest.status}${rest.code ? ` ${rest.code}` : ''}` };
    }
    log.error('media restart request failed', { action: plan.action, status: rest.status ?? null, error: rest.message });
    return { kind: 'retry', reason: `${plan.action} failed: ${rest.status ?? rest.message}` };
  }
}
