import type { TokenCredential } from '@azure/core-auth';
import {
  isServiceBusError,
  ServiceBusClient,
  type RetryOptions,
  type ServiceBusMessage,
  type ServiceBusReceivedMessage,
  type ServiceBusSender,
  type ServiceBusSessionReceiver,
} from '@azure/service-bus';
import { silentLogger, type Logger } from './log.js';

export type BusErrorCode = 'BUS_UNAVAILABLE' | 'BUS_REJECTED' | 'BUS_CONFIG' | 'BUS_INVALID_MESSAGE' | 'BUS_CLOSED' | 'ABORTED';

/** Every failure of our bus helpers: `code` says what the caller can do about it; `cause` is the SDK error. */
export class BusError extends Error {
  override readonly name = 'BusError';
  constructor(
    readonly code: BusErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface BusConnectionSettings {
  connectionString?: string;
  fullyQualifiedNamespace?: string;
  credential?: TokenCredential;
}

/**
 * Proves this client's identity may send to `queue`, sending nothing: opening a batch attaches the sender link, which
 * is where Service Bus checks the Send right. Rejects with the service's error; the link is closed either way.
 */
export async function checkSendLink(client: ServiceBusClient, queue: string, timeoutMs = 10_000): Promise<void> {
  const sender = client.createSender(queue);
  try {
    await sender.createMessageBatch({ abortSignal: AbortSignal.timeout(timeoutMs) });
  } finally {
    await sender.close().catch(() => undefined);
  }
}

/**
 * Managed identity (credential + namespace) in Azure; a connection string as the local fallback
 * (the lab's test peer gives one). Neither is a configuration error, reported at once.
 */
export function createServiceBusClient(settings: BusConnectionSettings, options: { retryOptions?: RetryOptions } = {}): ServiceBusClient {
  const clientOptions = options.retryOptions ? { retryOptions: options.retryOptions } : {};
  if (settings.credential) {
    if (!settings.fullyQualifiedNamespace) {
      throw new BusError('BUS_CONFIG', 'A Service Bus credential was given without fullyQualifiedNamespace (e.g. "myns.servicebus.windows.net").');
    }
    return new ServiceBusClient(settings.fullyQualifiedNamespace, settings.credential, clientOptions);
  }
  if (settings.connectionString) return new ServiceBusClient(settings.connectionString, clientOptions);
  throw new BusError(
    'BUS_CONFIG',
    'Service Bus is not configured: give fullyQualifiedNamespace with a credential (managed identity) or a connection string.',
  );
}

export interface OutgoingMessage {
  body: unknown;
  /** The source event's id: Service Bus duplicate detection drops a redelivered event by this id. */
  messageId: string;
  /** The call id on `call-events`, so one call's events stay in order. */
  sessionId?: string;
  subject?: string;
  applicationProperties?: Record<string, string | number | boolean>;
  timeToLiveMs?: number;
  correlationId?: string;
}

export interface BusPublisherOptions {
  /** How long `publish` keeps retrying while Service Bus is unreachable. Default 30 s. */
  deadlineMs?: number;
  logger?: Logger;
  /** First pause between attempts; doubles up to `maxRetryDelayMs`. Defaults 100 ms and 2 s. */
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
  /**
   * Longest wait for one attempt before trying again (default 10 s). After a dropped connection the SDK
   * can wait its whole per-try timeout (60 s by default) on a dead link; retrying sooner is safe because a
   * retried message keeps its messageId.
   */
  attemptTimeoutMs?: number;
}

const maxIdLength = 128;

/** Failures that no retry can fix: fail at once instead of waiting for the deadline. */
function isPermanent(error: unknown): boolean {
  const last = error instanceof AggregateError ? error.errors.at(-1) : error;
  if (!isServiceBusError(last)) return false;
  if (['MessagingEntityNotFound', 'MessageSizeExceeded', 'MessagingEntityDisabled'].includes(last.code)) return true;
  return last.code === 'GeneralError' && !last.retryable && /^InvalidOperationError/.test(last.message);
}

function describe(error: unknown): string {
  if (error instanceof AggregateError) return error.errors.map(describe).join('; ');
  if (isServiceBusError(error)) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

function validated(message: OutgoingMessage): ServiceBusMessage {
  if (typeof message.messageId !== 'string' || message.messageId.length === 0 || message.messageId.length > maxIdLength) {
    throw new BusError('BUS_INVALID_MESSAGE', `messageId must be a string of 1 to ${maxIdLength} characters`);
  }
  if (message.sessionId !== undefined && (message.sessionId.length === 0 || message.sessionId.length > maxIdLength)) {
    throw new BusError('BUS_INVALID_MESSAGE', `sessionId must be a string of 1 to ${maxIdLength} characters`);
  }
  if (message.timeToLiveMs !== undefined && !(Number.isInteger(message.timeToLiveMs) && message.timeToLiveMs > 0)) {
    throw new BusError('BUS_INVALID_MESSAGE', 'timeToLiveMs must be a positive integer');
  }
  const out: ServiceBusMessage = { body: message.body, messageId: message.messageId, contentType: 'application/json' };
  if (message.sessionId !== undefined) out.sessionId = message.sessionId;
  if (message.subject !== undefined) out.subject = message.subject;
  if (message.applicationProperties !== undefined) out.applicationProperties = message.applicationProperties;
  if (message.timeToLiveMs !== undefined) out.timeToLive = message.timeToLiveMs;
  if (message.correlationId !== undefined) out.correlationId = message.correlationId;
  return out;
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Publishes to one queue through one reused sender. While Service Bus is unreachable it retries with
 * backoff until the deadline, then rejects with `BUS_UNAVAILABLE`; a retried message keeps its
 * `messageId`, so duplicate detection makes the retry safe.
 */
export class BusPublisher {
  private readonly deadlineMs: number;
  private readonly retryDelayMs: number;
  private readonly maxRetryDelayMs: number;
  private readonly attemptTimeoutMs: number;
  private readonly logger: Logger;
  private sender: ServiceBusSender | undefined;
  private closed = false;

  constructor(
    private readonly client: ServiceBusClient,
    private readonly queueName: string,
    options: BusPublisherOptions = {},
  ) {
    this.deadlineMs = options.deadlineMs ?? 30_000;
    this.retryDelayMs = options.retryDelayMs ?? 100;
    this.maxRetryDelayMs = options.maxRetryDelayMs ?? 2_000;
    this.attemptTimeoutMs = options.attemptTimeoutMs ?? 10_000;
    const numbers = {
      deadlineMs: this.deadlineMs,
      retryDelayMs: this.retryDelayMs,
      maxRetryDelayMs: this.maxRetryDelayMs,
      attemptTimeoutMs: this.attemptTimeoutMs,
    };
    for (const [name, value] of Object.entries(numbers)) {
      if (!(Number.isFinite(value) && value > 0)) throw new BusError('BUS_CONFIG', `BusPublisher option ${name} must be a positive number`);
    }
    if (!queueName) throw new BusError('BUS_CONFIG', 'BusPublisher needs a queue name');
    this.logger = (options.logger ?? silentLogger).child({ queue: queueName });
  }

  async publish(message: OutgoingMessage | OutgoingMessage[], options: { abortSignal?: AbortSignal; deadlineMs?: number } = {}): Promise<void> {
    if (this.closed) throw new BusError('BUS_CLOSED', 'BusPublisher is closed');
    const messages = (Array.isArray(message) ? message : [message]).map(validated);
    if (messages.length === 0) return;
    const deadlineMs = options.deadlineMs ?? this.deadlineMs;
    const deadline = AbortSignal.timeout(deadlineMs);
    const signal = options.abortSignal ? AbortSignal.any([options.abortSignal, deadline]) : deadline;
    let delayMs = this.retryDelayMs;
    let lastError: unknown;
    for (let attempt = 1; ; attempt++) {
      if (options.abortSignal?.aborted) throw new BusError('ABORTED', 'publish was aborted', { cause: options.abortSignal.reason });
      if (deadline.aborted) break;
      try {
        const attemptSignal = AbortSignal.any([signal, AbortSignal.timeout(this.attemptTimeoutMs)]);
        await this.currentSender().sendMessages(messages.length === 1 ? messages[0]! : messages, { abortSignal: attemptSignal });
        if (attempt > 1) this.logger.info({ attempt }, 'published after retrying');
        return;
      } catch (error) {
        lastError = error;
        if (isPermanent(error)) {
          throw new BusError('BUS_REJECTED', `Service Bus refused the message for '${this.queueName}': ${describe(error)}`, { cause: error });
        }
        this.logger.warn({ attempt, error: describe(error) }, 'publish failed; retrying until the deadline');
        await this.renewSenderIfClosed();
      }
      await pause(delayMs, signal);
      delayMs = Math.min(delayMs * 2, this.maxRetryDelayMs);
    }
    if (options.abortSignal?.aborted) throw new BusError('ABORTED', 'publish was aborted', { cause: options.abortSignal.reason });
    throw new BusError(
      'BUS_UNAVAILABLE',
      `Service Bus queue '${this.queueName}' was unavailable for ${deadlineMs} ms: ${lastError === undefined ? 'no attempt finished' : describe(lastError)}`,
      { cause: lastError },
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    const sender = this.sender;
    this.sender = undefined;
    await sender?.close().catch((error: unknown) => this.logger.debug({ error: describe(error) }, 'closing the sender failed'));
  }

  private currentSender(): ServiceBusSender {
    this.sender ??= this.client.createSender(this.queueName);
    return this.sender;
  }

  private async renewSenderIfClosed(): Promise<void> {
    if (this.sender?.isClosed) {
      const stale = this.sender;
      this.sender = undefined;
      await stale.close().catch(() => undefined);
    }
  }
}

export interface ReceivedBusMessage {
  messageId?: string;
  body: unknown;
  subject?: string;
  applicationProperties: Record<string, unknown>;
  enqueuedAt?: Date;
}

export interface CallSessionSubscription {
  close(): Promise<void>;
  /** Settles once the subscription has stopped and released the session. */
  readonly closed: Promise<void>;
  /**
   * Writes the session's state (Service Bus session state: any replica that accepts the session can read it),
   * as JSON. Resolves false, without throwing, when no session is held at the moment or the write failed.
   */
  setSessionState(state: unknown): Promise<boolean>;
}

/** The accepted session, before its first message is handed over. */
export interface AcceptedCallSession {
  /** The session's state as last written (parsed JSON), or null. */
  getSessionState(): Promise<unknown>;
}

export interface CallSessionOptions {
  logger?: Logger;
  abortSignal?: AbortSignal;
  /** Told about every failure (handler errors, lost sessions, bus down); the subscription carries on. */
  onError?: (error: Error) => void;
  /** Pause before accepting the session again after it was held elsewhere or lost. Default 1 s. */
  retryDelayMs?: number;
  /** How long the session lock is renewed for the holder. Default 24 h: the worker holds a call's session for the whole call. */
  maxAutoLockRenewalDurationInMs?: number;
  /**
   * Called each time the session is accepted, before any of its messages reaches `handler` (e.g. to read the
   * session state first). A failure is reported and the messages still flow.
   */
  onAccepted?: (session: AcceptedCallSession) => Promise<void> | void;
}

function toReceived(message: ServiceBusReceivedMessage): ReceivedBusMessage {
  const received: ReceivedBusMessage = {
    body: message.body,
    applicationProperties: { ...(message.applicationProperties ?? {}) },
  };
  if (message.messageId !== undefined) received.messageId = String(message.messageId);
  if (message.subject !== undefined) received.subject = message.subject;
  if (message.enqueuedTimeUtc !== undefined) received.enqueuedAt = message.enqueuedTimeUtc;
  return received;
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/**
 * Holds the Service Bus session `callId` of `queueName` and hands its messages to `handler` one at a time,
 * in order. A message is completed after the handler resolves and abandoned if it throws (Service Bus then
 * redelivers it, and dead-letters it after the queue's max delivery count). While the session is held by
 * someone else or the bus is down, it keeps trying to accept the session until `close()`.
 */
export function subscribeToCallSession(
  client: ServiceBusClient,
  queueName: string,
  callId: string,
  handler: (message: ReceivedBusMessage) => Promise<void> | void,
  options: CallSessionOptions = {},
): CallSessionSubscription {
  const logger = (options.logger ?? silentLogger).child({ callId, queue: queueName });
  const retryDelayMs = options.retryDelayMs ?? 1_000;
  const renewForMs = options.maxAutoLockRenewalDurationInMs ?? 24 * 60 * 60_000;
  const stopping = new AbortController();
  const report = (error: unknown, what: string) => {
    const err = asError(error);
    logger.warn({ error: describe(error) }, what);
    try {
      options.onError?.(err);
    } catch (callbackError) {
      logger.error({ error: describe(callbackError) }, 'onError threw');
    }
  };

  let current: ServiceBusSessionReceiver | undefined;

  // One accepted session at a time: returns when it is lost or the subscription stops.
  const holdSession = async (receiver: ServiceBusSessionReceiver): Promise<void> => {
    current = receiver;
    if (options.onAccepted) {
      try {
        await options.onAccepted({ getSessionState: () => receiver.getSessionState({ abortSignal: stopping.signal }) });
      } catch (error) {
        report(error, 'reading the accepted session failed; its messages still flow');
      }
    }
    let inFlight: Promise<void> = Promise.resolve();
    let markLost!: () => void;
    // Once the session is lost, a settlement in flight would wait the SDK's 60 s for a dead link.
    const lost = new Promise<void>((resolve) => (markLost = resolve));
    let ended!: () => void;
    const done = new Promise<void>((resolve) => (ended = resolve));
    lost.then(ended, ended);
    stopping.signal.addEventListener('abort', ended, { once: true });
    const settle = async (message: ServiceBusReceivedMessage, handled: boolean): Promise<void> => {
      const settling = handled ? receiver.completeMessage(message) : receiver.abandonMessage(message);
      await Promise.race([settling.catch((error: unknown) => report(error, handled ? 'complete failed' : 'abandon failed')), lost]);
    };
    const subscription = receiver.subscribe(
      {
        processMessage: async (message) => {
          const work = (async () => {
            let handled = true;
            try {
              await handler(toReceived(message));
            } catch (error) {
              handled = false;
              report(error, 'call event handler failed; abandoning the message for redelivery');
            }
            await settle(message, handled);
          })();
          inFlight = work;
          await work;
        },
        processError: async (args) => {
          if (stopping.signal.aborted) return;
          report(args.error, 'session receiver failed; accepting the session again');
          markLost();
        },
      },
      { autoCompleteMessages: false, maxConcurrentCalls: 1 },
    );
    await done;
    stopping.signal.removeEventListener('abort', ended);
    await inFlight;
    await subscription.close().catch(() => undefined);
    if (current === receiver) current = undefined;
    await receiver.close().catch((error: unknown) => logger.debug({ error: describe(error) }, 'closing the session receiver failed'));
  };

  const run = async (): Promise<void> => {
    while (!stopping.signal.aborted) {
      let receiver: ServiceBusSessionReceiver;
      try {
        receiver = await client.acceptSession(queueName, callId, {
          maxAutoLockRenewalDurationInMs: renewForMs,
          abortSignal: stopping.signal,
        });
      } catch (error) {
        if (stopping.signal.aborted) break;
        const held = isServiceBusError(error) && error.code === 'SessionCannotBeLocked';
        if (held) logger.debug('session is held by another receiver; waiting');
        else report(error, 'accepting the session failed; retrying');
        await pause(retryDelayMs, stopping.signal);
        continue;
      }
      if (stopping.signal.aborted) {
        await receiver.close().catch(() => undefined);
        break;
      }
      logger.debug('session accepted');
      await holdSession(receiver);
      if (!stopping.signal.aborted) await pause(retryDelayMs, stopping.signal);
    }
  };

  const stop = () => stopping.abort();
  options.abortSignal?.addEventListener('abort', stop, { once: true });
  if (options.abortSignal?.aborted) stop();
  const closed = run()
    .catch((error: unknown) => report(error, 'call session subscription stopped unexpectedly'))
    .finally(() => options.abortSignal?.removeEventListener('abort', stop));

  return {
    closed,
    close: async () => {
      stop();
      await closed;
    },
    setSessionState: async (state) => {
      const receiver = current;
      if (!receiver || receiver.isClosed) return false;
      try {
        await receiver.setSessionState(Buffer.from(JSON.stringify(state ?? null), 'utf8'));
        return true;
      } catch (error) {
        report(error, 'writing the session state failed');
        return false;
      }
    },
  };
}
