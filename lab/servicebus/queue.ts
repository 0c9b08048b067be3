import type { Message } from 'rhea';
import { Condition, readableBody, stringOrUndefined } from './amqp.js';

export interface QueueOptions {
  name: string;
  requiresSession?: boolean;
  duplicateDetectionWindowMs?: number;
  defaultTimeToLiveMs?: number;
  maxDeliveryCount?: number;
  lockDurationMs?: number;
  /** An expired message moves to the dead-letter sub-queue (reason TTLExpiredException) instead of being dropped. */
  deadLetteringOnMessageExpiration?: boolean;
}

export interface PeerMessage {
  messageId?: string;
  sessionId?: string;
  body: unknown;
  applicationProperties: Record<string, unknown>;
  enqueuedAt: Date;
  deliveryCount: number;
  state: 'active' | 'locked' | 'completed' | 'deadLettered' | 'expired';
}

/** Whoever holds locks: one receiver link. Compared by identity. */
export type LockHolder = object;

/** What a receiver link reads from: one session, the queue (no sessions), or the dead-letter sub-queue. */
export type Source = { kind: 'session'; sessionId: string } | { kind: 'queue' } | { kind: 'deadLetter' };

export interface StoredMessage extends PeerMessage {
  readonly sequenceNumber: number;
  /** The message as the client sent it; delivered again with fresh annotations. */
  readonly amqp: Message;
  readonly expiresAtMs: number;
  /** A scheduled message (annotation x-opt-scheduled-enqueue-time) is invisible to receivers until then. */
  readonly scheduledFromMs?: number;
  lock?: { token: string; holder: LockHolder; lockedUntilMs: number; sessionBound: boolean };
}

export type Refusal = { ok: false; condition: string; description: string };
export type EnqueueResult = { ok: true; duplicate: boolean } | Refusal;
export type SettleOutcome = { kind: 'complete' } | { kind: 'abandon' } | { kind: 'deadLetter'; reason?: string; description?: string };

const defaultLockDurationMs = 60_000;
const defaultMaxDeliveryCount = 10;

function refuse(condition: string, description: string): Refusal {
  return { ok: false, condition, description };
}

/** One sub-queue: messages in sequence order. */
class MessageLog {
  readonly all: StoredMessage[] = [];
  private nextSequenceNumber = 1;

  append(amqp: Message, nowMs: number, expiresAtMs: number, extra: Partial<PeerMessage> = {}): StoredMessage {
    const props = (amqp.application_properties ?? {}) as Record<string, unknown>;
    const stored: StoredMessage = {
      sequenceNumber: this.nextSequenceNumber++,
      amqp,
      messageId: stringOrUndefined(amqp.message_id),
      sessionId: stringOrUndefined(amqp.group_id),
      body: readableBody(amqp),
      applicationProperties: { ...props },
      enqueuedAt: new Date(nowMs),
      deliveryCount: 0,
      state: 'active',
      expiresAtMs,
      ...extra,
    };
    this.all.push(stored);
    return stored;
  }
}

/**
 * The state of one queue as Service Bus keeps it: duplicate detection by MessageId, TTL, peek-lock with
 * delivery counts and automatic dead-lettering, exclusive session locks, session state. No AMQP here:
 * the link layer asks and tells; time comes from `now`.
 */
export class QueueEntity {
  readonly name: string;
  readonly requiresSession: boolean;
  readonly lockDurationMs: number;
  readonly maxDeliveryCount: number;
  private readonly main = new MessageLog();
  private readonly deadLetter = new MessageLog();
  private readonly seenMessageIds = new Map<string, number>();
  private readonly sessionLocks = new Map<string, { holder: LockHolder; lockedUntilMs: number }>();
  /** Scheduled messages the broker has not yet seen become visible (nextLockDeadlineMs, showDue). */
  private readonly awaitingVisibility = new Set<StoredMessage>();
  private readonly sessionStates = new Map<string, Buffer | null>();
  private lostHolders: LockHolder[] = [];

  constructor(
    private readonly options: QueueOptions,
    private readonly now: () => number = Date.now,
  ) {
    this.name = options.name;
    this.requiresSession = options.requiresSession ?? false;
    this.lockDurationMs = options.lockDurationMs ?? defaultLockDurationMs;
    this.maxDeliveryCount = options.maxDeliveryCount ?? defaultMaxDeliveryCount;
  }

  /** Why this message cannot be enqueued, if it cannot (checked for a whole batch before any is stored). */
  validate(amqp: Message): Refusal | undefined {
    if (this.requiresSession && !stringOrUndefined(amqp.group_id)) {
      return refuse(
        Condition.notAllowed,
        `The SessionId was not set on a message, and it cannot be sent to the entity '${this.name}'. Entities that have session support enabled can only receive messages that have the SessionId set to a valid value.`,
      );
    }
    return undefined;
  }

  enqueue(amqp: Message): EnqueueResult {
    const refusal = this.validate(amqp);
    if (refusal) return refusal;
    const nowMs = this.now();
    const messageId = stringOrUndefined(amqp.message_id);
    const windowMs = this.options.duplicateDetectionWindowMs;
    if (windowMs !== undefined && messageId !== undefined) {
      const seenAt = this.seenMessageIds.get(messageId);
      if (seenAt !== undefined && nowMs - seenAt < windowMs) return { ok: true, duplicate: true };
      this.seenMessageIds.set(messageId, nowMs);
    }
    const ttlMs = Math.min(typeof amqp.ttl === 'number' ? amqp.ttl : Infinity, this.options.defaultTimeToLiveMs ?? Infinity);
    const scheduled = scheduledEnqueueTimeMs(amqp);
    if (scheduled !== undefined && scheduled > nowMs) {
      // As Service Bus: the time to live counts from when the message becomes visible.
      this.awaitingVisibility.add(this.main.append(amqp, nowMs, scheduled + ttlMs, { scheduledFromMs: scheduled } as Partial<PeerMessage>));
    } else {
      this.main.append(amqp, nowMs, nowMs + ttlMs);
    }
    return { ok: true, duplicate: false };
  }

  messages(): StoredMessage[] {
    this.expire();
    return [...this.main.all];
  }

  deadLetters(): StoredMessage[] {
    return this.main.all.filter((m) => m.state === 'deadLettered');
  }

  /** Locks a session for `holder`: a given id, or (null) the unlocked session with the oldest waiting message. */
  acceptSession(requested: string | null, holder: LockHolder): { ok: true; sessionId: string; lockedUntilMs: number } | Refusal {
    if (!this.requiresSession) {
      return refuse(Condition.notAllowed, `It is not possible for an entity that does not require sessions to create a session receiver: '${this.name}'.`);
    }
    this.expire();
    const nowMs = this.now();
    let sessionId = requested;
    if (sessionId === null) {
      const candidate = this.main.all.find(
        (m) => m.state === 'active' && m.sessionId !== undefined && !this.sessionLocks.has(m.sessionId) && (m.scheduledFromMs === undefined || m.scheduledFromMs <= nowMs),
      );
      if (!candidate?.sessionId) {
        return refuse(Condition.timeout, `No unlocked sessions were available on '${this.name}'.`);
      }
      sessionId = candidate.sessionId;
    } else if (this.sessionLocks.has(sessionId)) {
      return refuse(
        Condition.sessionCannotBeLocked,
        `The requested session '${sessionId}' cannot be accepted. It may be locked by another receiver.`,
      );
    }
    const lockedUntilMs = nowMs + this.lockDurationMs;
    this.sessionLocks.set(sessionId, { holder, lockedUntilMs });
    return { ok: true, sessionId, lockedUntilMs };
  }

  checkPlainReceiver(source: Source): Refusal | undefined {
    if (source.kind === 'queue' && this.requiresSession) {
      return refuse(
        Condition.notAllowed,
        `It is not possible for an entity that requires sessions to create a non-sessionful message receiver: '${this.name}'.`,
      );
    }
    return undefined;
  }

  renewSessionLock(sessionId: string, holder?: LockHolder): { ok: true; lockedUntilMs: number } | Refusal {
    const lock = this.sessionLocks.get(sessionId);
    if (!lock || (holder !== undefined && lock.holder !== holder) || lock.lockedUntilMs <= this.now()) {
      return refuse(Condition.sessionLockLost, `The session lock has expired on the session with id ${sessionId}.`);
    }
    lock.lockedUntilMs = this.now() + this.lockDurationMs;
    for (const m of this.main.all) {
      if (m.lock?.holder === lock.holder && m.sessionId === sessionId) m.lock.lockedUntilMs = lock.lockedUntilMs;
    }
    return { ok: true, lockedUntilMs: lock.lockedUntilMs };
  }

  sessionLockedUntil(sessionId: string): number | undefined {
    return this.sessionLocks.get(sessionId)?.lockedUntilMs;
  }

  getSessionState(sessionId: string): Buffer | null {
    return this.sessionStates.get(sessionId) ?? null;
  }

  setSessionState(sessionId: string, state: Buffer | null): void {
    this.sessionStates.set(sessionId, state);
    this.sessionStateWrites.push({ sessionId, bytes: state?.length ?? 0, atMs: this.now() });
  }

  /** Every set-session-state accepted, in order (for measuring what carrying a call's state costs). */
  readonly sessionStateWrites: { sessionId: string; bytes: number; atMs: number }[] = [];

  /** The next message `source` may deliver, or undefined. Does not lock it. */
  nextFor(source: Source): StoredMessage | undefined {
    this.expire();
    if (source.kind === 'deadLetter') return this.deadLetter.all.find((m) => m.state === 'active');
    const visible = (m: StoredMessage) => m.state === 'active' && (m.scheduledFromMs === undefined || m.scheduledFromMs <= this.now());
    if (source.kind === 'session') return this.main.all.find((m) => visible(m) && m.sessionId === source.sessionId);
    return this.main.all.find(visible);
  }

  /** Marks a message delivered under `token` to `holder` (peek-lock), or removes it (receive-and-delete). */
  lock(message: StoredMessage, holder: LockHolder, token: string, source: Source): number {
    const lockedUntilMs =
      source.kind === 'session' ? (this.sessionLocks.get(source.sessionId)?.lockedUntilMs ?? this.now()) : this.now() + this.lockDurationMs;
    message.state = 'locked';
    message.lock = { token, holder, lockedUntilMs, sessionBound: source.kind === 'session' };
    return lockedUntilMs;
  }

  settle(token: string, holder: LockHolder | undefined, outcome: SettleOutcome): { ok: true } | Refusal {
    const message = this.findLocked(token);
    if (!message || (holder !== undefined && message.lock?.holder !== holder)) {
      return refuse(Condition.messageLockLost, `The lock supplied is invalid. Either the lock expired, or the message has already been removed from the queue.`);
    }
    message.lock = undefined;
    switch (outcome.kind) {
      case 'complete':
        message.state = 'completed';
        break;
      case 'abandon':
        this.returnToQueue(message);
        break;
      case 'deadLetter':
        this.moveToDeadLetter(message, outcome.reason, outcome.description);
        break;
    }
    return { ok: true };
  }

  renewMessageLock(token: string): { ok: true; lockedUntilMs: number } | Refusal {
    const message = this.findLocked(token);
    if (!message?.lock) return refuse(Condition.messageLockLost, 'The lock supplied is invalid. Either the lock expired, or the message has already been removed from the queue.');
    message.lock.lockedUntilMs = this.now() + this.lockDurationMs;
    return { ok: true, lockedUntilMs: message.lock.lockedUntilMs };
  }

  /** A receiver went away: its session lock is released and its locked messages come back (lock lost counts as a delivery). */
  releaseHolder(holder: LockHolder): void {
    for (const [sessionId, lock] of this.sessionLocks) {
      if (lock.holder === holder) this.sessionLocks.delete(sessionId);
    }
    for (const m of [...this.main.all, ...this.deadLetter.all]) {
      if (m.lock?.holder === holder) {
        m.lock = undefined;
        this.returnToQueue(m);
      }
    }
  }

  /** Holders whose session lock expired since the last call: their links must be detached. */
  takeLostSessionHolders(): LockHolder[] {
    const lost = this.lostHolders;
    this.lostHolders = [];
    return lost;
  }

  holdsSession(sessionId: string, holder: LockHolder): boolean {
    return this.sessionLocks.get(sessionId)?.holder === holder;
  }

  /**
   * Applies every deadline that has passed: TTL expiry of waiting messages, message lock expiry,
   * session lock expiry. Returns the holders whose session lock expired just now.
   */
  expire(): LockHolder[] {
    const nowMs = this.now();
    const lostSessions: LockHolder[] = [];
    for (const [sessionId, lock] of this.sessionLocks) {
      if (lock.lockedUntilMs <= nowMs) {
        this.sessionLocks.delete(sessionId);
        lostSessions.push(lock.holder);
      }
    }
    for (const holder of lostSessions) this.releaseHolder(holder);
    this.lostHolders.push(...lostSessions);
    for (const m of [...this.main.all, ...this.deadLetter.all]) {
      if (m.state === 'locked' && m.lock && !m.lock.sessionBound && m.lock.lockedUntilMs <= nowMs) {
        m.lock = undefined;
        this.returnToQueue(m);
      }
    }
    for (const m of this.main.all) {
      if (m.state !== 'active' || m.expiresAtMs > nowMs) continue;
      // A locked message does not expire while locked; it does once it is back in the queue (as Service Bus).
      if (this.options.deadLetteringOnMessageExpiration) this.moveToDeadLetter(m, 'TTLExpiredException', 'The message expired and was dead lettered.');
      else m.state = 'expired';
    }
    return lostSessions;
  }

  /** When something next changes by itself (a lock expires), for the owner's timer. */
  nextLockDeadlineMs(): number | undefined {
    let next: number | undefined;
    const consider = (t: number) => {
      if (next === undefined || t < next) next = t;
    };
    if (this.lostHolders.length > 0) consider(this.now());
    for (const lock of this.sessionLocks.values()) consider(lock.lockedUntilMs);
    for (const m of [...this.main.all, ...this.deadLetter.all]) {
      if (m.lock && !m.lock.sessionBound) consider(m.lock.lockedUntilMs);
    }
    // A scheduled message is a deadline until the broker has seen it become visible (showDue), even once its time has
    // passed: a re-arm that came after its time but before the timer fired must not drop the wake-up.
    for (const m of this.awaitingVisibility) {
      if (m.state === 'active' && m.scheduledFromMs !== undefined) consider(m.scheduledFromMs);
      else this.awaitingVisibility.delete(m);
    }
    return next;
  }

  /** Scheduled messages whose time has come are now ordinary messages; the caller then offers them to receivers. */
  showDue(): void {
    const nowMs = this.now();
    for (const m of this.awaitingVisibility) if (m.scheduledFromMs === undefined || m.scheduledFromMs <= nowMs) this.awaitingVisibility.delete(m);
  }

  peek(fromSequenceNumber: number, count: number, sessionId?: string): StoredMessage[] {
    this.expire();
    return this.main.all
      .filter(
        (m) =>
          m.sequenceNumber >= fromSequenceNumber &&
          (m.state === 'active' || m.state === 'locked') &&
          (sessionId === undefined || m.sessionId === sessionId),
      )
      .slice(0, count);
  }

  private findLocked(token: string): StoredMessage | undefined {
    return this.main.all.find((m) => m.lock?.token === token) ?? this.deadLetter.all.find((m) => m.lock?.token === token);
  }

  private isDeadLetterCopy(message: StoredMessage): boolean {
    return this.deadLetter.all.includes(message);
  }

  private returnToQueue(message: StoredMessage): void {
    message.deliveryCount += 1;
    if (!this.isDeadLetterCopy(message) && message.deliveryCount >= this.maxDeliveryCount) {
      this.moveToDeadLetter(message, 'MaxDeliveryCountExceeded', `Message could not be consumed after ${this.maxDeliveryCount} delivery attempts.`);
    } else {
      message.state = 'active';
    }
  }

  private moveToDeadLetter(message: StoredMessage, reason?: string, description?: string): void {
    if (this.isDeadLetterCopy(message)) {
      message.state = 'active';
      return;
    }
    message.state = 'deadLettered';
    const applicationProperties: Record<string, unknown> = { ...(message.amqp.application_properties ?? {}) };
    if (reason !== undefined) applicationProperties.DeadLetterReason = reason;
    if (description !== undefined) applicationProperties.DeadLetterErrorDescription = description;
    message.applicationProperties = applicationProperties;
    const amqp: Message = {
      ...message.amqp,
      application_properties: applicationProperties,
      message_annotations: { ...(message.amqp.message_annotations ?? {}), 'x-opt-deadletter-source': this.name },
    };
    this.deadLetter.append(amqp, this.now(), Infinity, {
      enqueuedAt: message.enqueuedAt,
      deliveryCount: message.deliveryCount,
    });
  }
}

/** When a scheduled message becomes visible (`scheduledEnqueueTimeUtc` in the SDK), if the sender set it. */
function scheduledEnqueueTimeMs(amqp: Message): number | undefined {
  const value = (amqp.message_annotations as Record<string, unknown> | undefined)?.['x-opt-scheduled-enqueue-time'];
  if (value instanceof Date) return value.getTime();
  if (typeof value === 'number') return value;
  return undefined;
}
