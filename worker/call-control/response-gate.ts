import type { ServerEvent } from '../voice-live/events.js';

/** What call control sends to Voice Live (the `VoiceLiveClient` methods it uses). */
export interface VoiceLiveSender {
  /** False while no session can take events (connecting, reconnecting): what is sent then is dropped. */
  readonly isOpen?: boolean;
  createResponse(response?: Record<string, unknown>): void;
  createConversationItem(item: Record<string, unknown>, previousItemId?: string): void;
}

/** A response.create we sent but whose response.created has not come back: after this long we stop waiting. */
const CREATED_WAIT_MS = 3_000;
/** While Voice Live is not open, queued requests are tried again this often (and at once on a new session). */
const NOT_OPEN_RETRY_MS = 50;

/**
 * One response at a time: `response.create` goes out only when no response is active (Realtime rejects a
 * second one), queued requests follow when the active one is done, and plain requests are coalesced.
 * Also tells who waits for a given response's `response.done`. A request is not lost to a Voice Live
 * reconnect: it waits in the queue while no session is open, and one sent whose `response.created` had not
 * come back when the session was replaced is sent again on the new session (a tool result is replayed with
 * the conversation, and this is what makes the model speak it).
 */
export class ResponseGate {
  private readonly active = new Set<string>();
  private readonly done = new Set<string>();
  private readonly doneWaiters = new Map<string, (() => void)[]>();
  private readonly queue: (Record<string, unknown> | undefined)[] = [];
  private requestedAtMs: number | undefined;
  /** The last request sent, until its `response.created`: sent again if the session is replaced first. */
  private unacknowledged: { response: Record<string, unknown> | undefined } | undefined;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly sender: () => VoiceLiveSender | undefined,
    private readonly now: () => number = () => performance.now(),
  ) {}

  get isIdle(): boolean {
    if (this.requestedAtMs !== undefined && this.now() - this.requestedAtMs > CREATED_WAIT_MS) this.requestedAtMs = undefined;
    return this.active.size === 0 && this.requestedAtMs === undefined;
  }

  get hasActiveResponse(): boolean {
    return this.active.size > 0;
  }

  /** Asks for a response; `undefined` = a plain `response.create` (several are merged into one). */
  request(response?: Record<string, unknown>): void {
    if (response === undefined && this.queue.includes(undefined)) return;
    this.queue.push(response);
    this.pump();
  }

  /** Resolves once `response.done` of `responseId` has been seen (at once if it already was). */
  whenDone(responseId: string): Promise<void> {
    if (this.done.has(responseId)) return Promise.resolve();
    return new Promise((resolve) => {
      const list = this.doneWaiters.get(responseId) ?? [];
      list.push(resolve);
      this.doneWaiters.set(responseId, list);
    });
  }

  onEvent(event: ServerEvent): void {
    if (event.type === 'response.created') {
      this.active.add(event.response.id);
      this.requestedAtMs = undefined;
      this.unacknowledged = undefined;
    } else if (event.type === 'response.done') {
      this.active.delete(event.response.id);
      this.markDone(event.response.id);
      this.pump();
    }
  }

  /** A new Voice Live session took over: nothing is active any more; everyone waiting is released. */
  reset(): void {
    this.active.clear();
    this.requestedAtMs = undefined;
    if (this.unacknowledged) {
      const { response } = this.unacknowledged;
      this.unacknowledged = undefined;
      if (!(response === undefined && this.queue.includes(undefined))) this.queue.unshift(response);
    }
    for (const id of [...this.doneWaiters.keys()]) this.markDone(id);
    this.pump();
  }

  private markDone(responseId: string): void {
    this.done.add(responseId);
    if (this.done.size > 256) this.done.delete(this.done.values().next().value!);
    const waiters = this.doneWaiters.get(responseId);
    this.doneWaiters.delete(responseId);
    for (const resolve of waiters ?? []) resolve();
  }

  private pump(): void {
    if (this.queue.length === 0 || !this.isIdle) return;
    const sender = this.sender();
    if (!sender) return;
    if (sender.isOpen === false) {
      // Sent now it would be dropped; the new session's reset() (or this retry) sends it.
      this.schedule(NOT_OPEN_RETRY_MS);
      return;
    }
    const response = this.queue.shift();
    this.requestedAtMs = this.now();
    this.unacknowledged = { response };
    sender.createResponse(response);
    if (this.queue.length > 0) this.schedule(CREATED_WAIT_MS + 10);
  }

  private schedule(delayMs: number): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.pump(), delayMs);
    this.retryTimer.unref();
  }

  dispose(): void {
    clearTimeout(this.retryTimer);
    this.queue.length = 0;
    this.unacknowledged = undefined;
  }
}
