import type { CallAutomationClient } from '@azure/communication-call-automation';
import { isFinalRefusal, restErrorOf, type CallLog } from './context.js';

/**
 * Media streaming stopped or failed while the call is still connected (a worker crashed or was redeployed):
 * ask ACS to stream again, so the call lands on a worker again. The attempt number, and when the first
 * attempt was made, travel in the operationContext (`media-restart:<attempt>@<first attempt, epoch ms>`), so
 * whichever Functions instance receives the resulting event continues the count and the window.
 *
 * The attempts are spread over a window long enough for a Container Apps replica to come back (see
 * docs/resilience.md): the first at once (another replica is usually healthy), then after 0.5, 1, 2 and 4 s,
 * then every 4 s. With the default 8 attempts the last is made 19.5 s after the first. The delay is
 * waited within the callback request (at most MAX_RESTART_DELAY_MS), because it must not depend on one
 * instance's memory; while it runs the caller hears silence.
 */
export const MEDIA_RESTART_CONTEXT_PREFIX = 'media-restart:';
export const FIRST_RESTART_BACKOFF_MS = 500;
export const MAX_RESTART_DELAY_MS = 4_000;

export const mediaRestartContext = (attempt: number, firstAttemptAtMs?: number) =>
  `${MEDIA_RESTART_CONTEXT_PREFIX}${attempt}${firstAttemptAtMs !== undefined ? `@${firstAttemptAtMs}` : ''}`;

export interface RestartCount {
  attempts: number;
  /** When the first restart of this run was asked for (epoch ms), if known. */
  firstAttemptAtMs?: number | undefined;
}

export function attemptFromOperationContext(operationContext: string | undefined): RestartCount {
  if (!operationContext?.startsWith(MEDIA_RESTART_CONTEXT_PREFIX)) return { attempts: 0 };
  const [attemptText, firstText] = operationContext.slice(MEDIA_RESTART_CONTEXT_PREFIX.length).split('@');
  const attempt = Number(attemptText);
  if (!(Number.isInteger(attempt) && attempt > 0 && attempt < 1000)) return { attempts: 0 };
  const first = Number(firstText);
  return { attempts: attempt, ...(firstText && Number.isSafeInteger(first) && first > 0 ? { firstAttemptAtMs: first } : {}) };
}

/** How long to wait before restart attempt `attempt` (1-based): 0, then 0.5 s doubling up to 4 s. */
export function restartDelayMs(attempt: number): number {
  if (attempt <= 1) return 0;
  return Math.min(FIRST_RESTART_BACKOFF_MS * 2 ** (attempt - 2), MAX_RESTART_DELAY_MS);
}

/** The time from the first attempt to the last, for `maxAttempts` attempts (the schedule's window). */
export function restartWindowMs(maxAttempts: number): number {
  let total = 0;
  for (let attempt = 2; attempt <= maxAttempts; attempt++) total += restartDelayMs(attempt);
  return total;
}

export type MediaRestartPlan =
  | { action: 'restart'; attempt: number; delayMs: number; firstAttemptAtMs: number }
  | { action: 'hangUp'; attempts: number; windowMs?: number | undefined };

/** The next step after the `attemptsSoFar`-th restart has also ended; at most `maxAttempts` restarts per call. */
export function planMediaRestart(count: RestartCount, maxAttempts: number, nowMs: number): MediaRestartPlan {
  if (count.attempts < maxAttempts) {
    const attempt = count.attempts + 1;
    const delayMs = restartDelayMs(attempt);
    return { action: 'restart', attempt, delayMs, firstAttemptAtMs: count.firstAttemptAtMs ?? nowMs + delayMs };
  }
  return { action: 'hangUp', attempts: count.attempts, ...(count.firstAttemptAtMs !== undefined ? { windowMs: Math.max(0, nowMs - count.firstAttemptAtMs) } : {}) };
}

export type MediaRestartResult =
  | { kind: 'restarted'; attempt: number; delayMs: number; firstAttemptAtMs: number }
  | { kind: 'hungUp'; attempts: number; windowMs?: number | undefined }
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
  sleep: (ms: number) => Promise<void> = defaultSleep,
): Promise<MediaRestartResult> {
  const connection = client.getCallConnection(callConnectionId);
  // Waited before the state check: a caller who hangs up meanwhile is seen, and nothing is restarted.
  if (plan.action === 'restart' && plan.delayMs > 0) await sleep(Math.min(plan.delayMs, MAX_RESTART_DELAY_MS));
  try {
    const properties = await connection.getCallConnectionProperties();
    if (properties.callConnectionState !== 'connected') {
      return { kind: 'callGone', reason: `call is ${properties.callConnectionState ?? 'in an unknown state'}` };
    }
    if (plan.action === 'restart') {
      await connection.getCallMedia().startMediaStreaming({ operationContext: mediaRestartContext(plan.attempt, plan.firstAttemptAtMs) });
      log.warn('media streaming ended while the call is connected: started it again', { attempt: plan.attempt, delayMs: plan.delayMs });
      return { kind: 'restarted', attempt: plan.attempt, delayMs: plan.delayMs, firstAttemptAtMs: plan.firstAttemptAtMs };
    }
    // Nothing can be said to the caller first: without media the agent is mute, and an ACS play needs a
    // Cognitive Services link (TextSource) or a hosted audio file (FileSource), neither of which this app has.
    await connection.hangUp(true, { requestOptions: {} });
    log.warn('media streaming keeps failing: hung up the call', { attempts: plan.attempts, windowMs: plan.windowMs ?? null });
    return { kind: 'hungUp', attempts: plan.attempts, ...(plan.windowMs !== undefined ? { windowMs: plan.windowMs } : {}) };
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

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
