import type { CallAutomationClient } from '@azure/communication-call-automation';
import type { InvocationContext } from '@azure/functions';
import type { AcsTokenVerifier } from '../shared/acs-auth.js';
import type { CallEventMessage, toBusMessage } from '../shared/call-metadata.js';
import type { CallRecord } from '../shared/call-record.js';
import type { FunctionsConfig } from '../shared/config/functions.js';
import type { Logger } from '../shared/log.js';
import { RecentMap } from './dedup.js';
import type { OutboundCallMessage } from '../shared/outbound-call.js';
import type { OutboundStatusStore } from '../shared/outbound-status-store.js';
import type { CleanupMessage } from './outbound/cleanup.js';
import type { StatusChangeMessage } from './outbound/status-change-message.js';

/** Outbound calling's bus access: the per-call status store, the `outbound-calls` queue and `call-records`. */
export interface OutboundDependencies {
  status: OutboundStatusStore;
  /** Puts one attempt on the queue; scheduled (Service Bus scheduled message) when `notBefore` is ahead. */
  enqueue(message: OutboundCallMessage, options?: { messageIdSuffix?: string }): Promise<void>;
  /** Puts a cleanup of the status store on the same queue, scheduled for `at` (functions/outbound/cleanup.ts). */
  scheduleCleanup(message: CleanupMessage, at: Date): Promise<void>;
  /** Puts a callback's status change that could not be written at once on the same queue (functions/outbound/status-change.ts). */
  sendStatusChange(message: StatusChangeMessage): Promise<void>;
  /** Sends the record of a call none of whose attempts was answered to `call-records` (functions/outbound/unanswered-record.ts). */
  sendRecord(record: CallRecord): Promise<void>;
}

/** The part of `BusPublisher` (shared/bus.ts) the handlers use: retries until the deadline, then rejects. */
export interface CallEventPublisher {
  publish(messages: ReturnType<typeof toBusMessage>[], options?: { abortSignal?: AbortSignal; deadlineMs?: number }): Promise<void>;
}

/** What an IncomingCall delivery left behind on this instance. */
export interface IncomingCallState {
  answered?: { callConnectionId: string; serverCallId?: string | undefined };
  /** ACS refused the answer (already answered by an earlier delivery, or the call is gone). */
  answerRefused?: { status: number; code?: string | undefined };
  declined?: 'reject' | 'redirect';
  published: boolean;
}

/** What a callback event left behind on this instance. */
export interface CallbackEventState {
  /** Side effects (media restart, hang-up, starting the recording) are done; only the publish may be outstanding. */
  actionsDone: boolean;
  published: boolean;
  /** The messages this event yields (its own and any derived from its side effects), kept for republishing. */
  messages: CallEventMessage[];
}

/** Per-instance memory, shared by all handlers of one app instance. */
export interface FunctionsState {
  incomingCalls: RecentMap<IncomingCallState>;
  callbackEvents: RecentMap<CallbackEventState>;
  /** Media restarts asked for, per callId, and when the first was. */
  mediaRestarts: RecentMap<{ attempts: number; firstAttemptAtMs?: number | undefined }>;
  /** Calls whose CallDisconnected has been seen: nothing is restarted after it. */
  disconnectedCalls: RecentMap<true>;
  /** Calls this instance has started recording (or found recording already), per callId: one recording per call. */
  recordings: RecentMap<{ recordingId?: string | undefined }>;
  /** Handling in progress (`incomingCall:<callId>`, `callback:<eventId>`, `recording:<callId>`): a concurrent duplicate waits for it instead of acting again. */
  inFlight: Map<string, Promise<unknown>>;
}

export function createFunctionsState(now: () => number = Date.now): FunctionsState {
  return {
    incomingCalls: new RecentMap({ now }),
    callbackEvents: new RecentMap({ now }),
    mediaRestarts: new RecentMap({ now, ttlMs: 6 * 60 * 60_000 }),
    disconnectedCalls: new RecentMap({ now, ttlMs: 6 * 60 * 60_000 }),
    recordings: new RecentMap({ now, ttlMs: 6 * 60 * 60_000 }),
    inFlight: new Map(),
  };
}

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** Everything the handlers need, built once per app instance (see dependencies.ts) or by tests. */
export interface FunctionsDependencies {
  config: FunctionsConfig;
  callAutomation: CallAutomationClient;
  publisher: CallEventPublisher;
  tokenVerifier: Pick<AcsTokenVerifier, 'verifyAuthorizationHeader'>;
  logger: Logger;
  clock?: Clock;
  state?: FunctionsState;
  /**
   * Attaches a sender to the call-events queue with the app's identity and closes it (the health route reports it,
   * at most once a minute); absent where nothing can check it.
   */
  checkServiceBus?: () => Promise<void>;
  /** Absent: POST/GET /api/calls answer 503 and the queue trigger refuses its messages. */
  outbound?: OutboundDependencies;
}

export interface CallLog {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/**
 * Logs to our structured logger (with the call id bound) and mirrors warnings and errors to the invocation
 * log the Functions host shows. Callers mask phone numbers before passing them in fields.
 */
export function callLog(logger: Logger, context: InvocationContext, bindings: { callId?: string; eventId?: string }): CallLog {
  const child = logger.child({ ...bindings, invocationId: context.invocationId, function: context.functionName });
  const prefix = bindings.callId ? `[callId=${bindings.callId}] ` : '';
  return {
    info: (message, fields) => child.info(fields ?? {}, message),
    warn: (message, fields) => {
      child.warn(fields ?? {}, message);
      context.warn(`${prefix}${message}`);
    },
    error: (message, fields) => {
      child.error(fields ?? {}, message);
      context.error(`${prefix}${message}`);
    },
  };
}

/** A RestError from an Azure SDK client, read without depending on its class identity. */
export function restErrorOf(error: unknown): { status?: number | undefined; code?: string | undefined; message: string } {
  if (typeof error === 'object' && error !== null) {
    const e = error as { statusCode?: unknown; code?: unknown; message?: unknown };
    return {
      status: typeof e.statusCode === 'number' ? e.statusCode : undefined,
      code: typeof e.code === 'string' ? e.code : undefined,
      message: typeof e.message === 'string' ? e.message : String(error),
    };
  }
  return { message: String(error) };
}

/** 4xx other than 408/429: ACS has judged the request and will judge it the same way again. */
export const isFinalRefusal = (status: number | undefined): boolean =>
  status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429;
