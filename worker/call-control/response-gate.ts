import { ACTIVE_RESPONSE_ERROR_CODE, type ServerEvent } from '../voice-live/events.js';

/** What call control sends to Voice Live (the `VoiceLiveClient` methods it uses). */
export interface VoiceLiveSender {
  /** False while no session can take events (connecting, reconnecting): what is sent then is dropped. */
  readonly isOpen?: boolean;
  /** Returns the event id it was sent with (to match the service's refusal), or nothing if not sent. */
  createResponse(response?: Record<string, unknown>): string | void;
  createConversationItem(item: Record<string, unknown>, previousItemId?: string): void;
}

/** A response.create we sent but whose response.created has not come back: after this long we stop waiting. */
const CREATED_WAIT_MS = 3_000;
/** While Voice Live is not open, queued requests are tried again this often (and at once on a new session). */
const NOT_OPEN_RETRY_MS = 50;
/** A refused request with no response in sight to wait for is tried again after this long. */
const REFUSED_RETRY_MS = 200;
const KEPT_SENT_REQUESTS = 8;

/**
 * One response at a time: `response.create` goes out only when no response is active (Realtime rejects a
 * second one), queued requests follow when the active one is done, and plain requests are coalesced.
 * Also tells who waits for a given response's `response.done`. A request is not lost to a Voice Live
 * reconnect: it waits in the queue while no session is open, and one sent whose `response.created` had not
 * come back when the session was replaced is sent again on the new session (a tool result is replayed with
 * the conversation, and this is what makes the model speak it). Nor to a response Voice Live started by itself
 * (server VAD) just before our request reached it: the refusal (`conversation_already_has_active_response`)
 * puts the request back at the head of the queue, sent again once that response is done.
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
  /** Recently sent requests by their event id, to put one back in the queue if the service refuses it. */
  private readonly sentByEventId = new Map<string, Record<string, unknown> | undefined>();
  private lastSentAtMs: number | undefined;

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
    } else if (event.type === 'error' && event.error.code === ACTIVE_RESPONSE_ERROR_CODE) {
      this.onRefused(event.error.event_id ?? undefined);
    }
  }

  /**
   * Our request met a response already in progress (whose response.created we took for ours): ask again after
   * it. The refusal names our event id (documented); one that names none is taken for our latest request if that
   * went out within the wait for its response.created.
   */
  private onRefused(eventId: string | undefined): void {
    let key = eventId !== undefined && this.sentByEventId.has(eventId) ? eventId : undefined;
    if (key === undefined && eventId === undefined && this.lastSentAtMs !== undefined && this.now() - this.lastSentAtMs <= CREATED_WAIT_MS) {
      key = [...this.sentByEventId.keys()].at(-1);
    }
    if (key === undefined) return;
    const response = this.sentByEventId.get(key);
    this.sentByEventId.delete(key);
    this.requestedAtMs = undefined;
    this.unacknowledged = undefined;
    if (!(response === undefined && this.queue.includes(undefined))) this.queue.unshift(response);
    // Normally the response in progress is known, and its response.done pumps the queue.
    if (this.active.size === 0) this.schedule(REFUSED_RETRY_MS);
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
    const eventId = sender.createResponse(response);
    if (typeof eventId === 'string') {
      this.lastSentAtMs = this.now();
      this.sentByEventId.set(eventId, response);
      if (this.sentByEventId.size > KEPT_SENT_REQUESTS) this.sentByEventId.delete(this.sentByEventId.keys().next().value!);
    }
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
    this.sentByEventId.clear();
  }
}
