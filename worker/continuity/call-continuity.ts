import type { AcceptedCallSession, CallSessionSubscription } from '../../shared/bus.js';
import type { Logger } from '../../shared/log.js';
import { CARRIED_STATE_VERSION, fitCarriedState, parseCarriedState, type CarriedState } from './carried-state.js';

/** What the call's controller puts in the state (the rest is added here). */
export type CarriedStateContent = Omit<CarriedState, 'v' | 'callId' | 'handovers' | 'savedAt'>;

export interface CallContinuityOptions {
  callId: string;
  logger: Logger;
  /** The state as of now; called only when a write is due, never per frame. */
  snapshot: () => CarriedStateContent;
  /** The call continues one that another worker (or socket) held: restore it. Called at most once, before Voice Live connects. */
  resume: (state: CarriedState) => void;
  /** Changes within this time are written together (one write). Default 1 s. */
  debounceMs?: number;
}

/** Per-call figures for the cost of carrying state. */
export interface ContinuityStats {
  writes: number;
  bytesWritten: number;
  largestStateBytes: number;
  failedWrites: number;
}

/**
 * Keeps one call's carried state in its Service Bus session state: read once when the worker first accepts the
 * session (before Voice Live connects, so a continuation neither greets nor starts a blank conversation), and
 * written after changes (a completed turn, the caller's context), debounced, off the audio path.
 */
export class CallContinuity {
  readonly stats: ContinuityStats = { writes: 0, bytesWritten: 0, largestStateBytes: 0, failedWrites: 0 };
  /** Settles once the first accepted session's state was read (or there is no session to read). */
  readonly ready: Promise<void>;
  private markReady!: () => void;
  private readFirst = false;
  private store: Pick<CallSessionSubscription, 'setSessionState'> | undefined;
  private handovers = 0;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<unknown> = Promise.resolve();
  private closed = false;
  private readonly debounceMs: number;

  constructor(private readonly options: CallContinuityOptions) {
    this.debounceMs = options.debounceMs ?? 1_000;
    this.ready = new Promise((resolve) => (this.markReady = resolve));
  }

  /** The call has no session store (no Service Bus): nothing to wait for, nothing kept. */
  withoutStore(): void {
    this.markReady();
  }

  attach(store: Pick<CallSessionSubscription, 'setSessionState'>): void {
    this.store = store;
  }

  /** For `subscribeToCallSession`'s onAccepted: reads the state the first time the session is accepted. */
  readonly onAccepted = async (session: AcceptedCallSession): Promise<void> => {
    if (this.readFirst) return;
    this.readFirst = true;
    try {
      const parsed = parseCarriedState(await session.getSessionState(), this.options.callId);
      if (parsed.kind === 'unreadable') this.options.logger.warn({ reason: parsed.reason }, 'carried call state unreadable: the call starts afresh');
      if (parsed.kind === 'state' && !this.closed) {
        this.handovers = parsed.state.handovers + 1;
        this.options.logger.info(
          { handovers: this.handovers, conversationEntries: parsed.state.conversation.length, savedAt: parsed.state.savedAt },
          'call continues from another worker: conversation and record carried over',
        );
        this.options.resume(parsed.state);
      }
    } finally {
      this.markReady();
    }
  };

  /** The state as of now, for a successor on this same worker (no bus round trip). */
  current(): CarriedState {
    return { v: CARRIED_STATE_VERSION, callId: this.options.callId, ...this.options.snapshot(), handovers: this.handovers, savedAt: new Date().toISOString() };
  }

  /** A successor on this worker was handed the state directly: it is restored now and the bus copy is not read. */
  resumeWith(state: CarriedState): void {
    if (this.readFirst) return;
    this.readFirst = true;
    this.handovers = state.handovers + 1;
    this.options.logger.info({ handovers: this.handovers, conversationEntries: state.conversation.length }, 'call continues from the socket it replaced: conversation and record carried over');
    this.options.resume(state);
    this.markReady();
  }

  /** Something worth carrying changed: written within `debounceMs`, together with anything else that changes meanwhile. */
  changed(): void {
    if (this.closed || !this.store || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.write();
    }, this.debounceMs);
    this.timer.unref();
  }

  /** Writes now (after any write in flight): the call is about to move. */
  async flush(): Promise<boolean> {
    // After clear(): writing now would put a finished call's state back.
    if (this.closed) return false;
    clearTimeout(this.timer);
    this.timer = undefined;
    return this.write();
  }

  /** The call is over: nothing is carried any more (the session state is left as JSON null). */
  async clear(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.closed = true;
    const store = this.store;
    if (!store) return;
    await this.writing;
    if (await store.setSessionState(null)) this.stats.writes++;
  }

  /** Stops writing (the call ended); a write in flight completes. */
  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.closed = true;
  }

  get isStored(): boolean {
    return this.store !== undefined;
  }

  private write(): Promise<boolean> {
    const store = this.store;
    if (!store) return Promise.resolve(false);
    const next = this.writing.then(async () => {
      const { state, bytes } = fitCarriedState(this.current());
      const ok = await store.setSessionState(state);
      if (ok) {
        this.stats.writes++;
        this.stats.bytesWritten += bytes;
        this.stats.largestStateBytes = Math.max(this.stats.largestStateBytes, bytes);
      } else {
        this.stats.failedWrites++;
      }
      return ok;
    });
    this.writing = next.catch(() => false);
    return next.catch(() => false);
  }
}
