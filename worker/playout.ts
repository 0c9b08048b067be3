/**
 * The playout clock: agent audio leaves in exact frames (20 ms), at real-time pace, at most `maxLeadMs`
 * ahead of what the caller hears. ACS queues whatever it is sent and never acknowledges playback, so this
 * clock is our only record of what the caller heard, per model item (for `conversation.item.truncate`).
 */

export interface PlayoutTimers {
  /** Monotonic milliseconds. */
  now(): number;
  setTimer(callback: () => void, delayMs: number): unknown;
  clearTimer(handle: unknown): void;
}

export const systemTimers: PlayoutTimers = {
  now: () => performance.now(),
  setTimer: (callback, delayMs) => setTimeout(callback, delayMs),
  clearTimer: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface PlayoutOptions {
  frameBytes: number;
  frameMs?: number;
  /** Most audio ACS may hold unplayed. */
  maxLeadMs: number;
  /** The clock refills when the lead has dropped by this much (fewer timer wake-ups than one per frame). */
  refillMs?: number;
  timers?: PlayoutTimers;
  /** Hands one exact frame to the transport; `queuedAt` is when its first byte arrived. */
  send(frame: Buffer, itemId: string, queuedAt: number): void;
}

interface QueuedItem {
  itemId: string;
  chunks: { bytes: Buffer; at: number }[];
  headOffset: number;
  queuedBytes: number;
  finished: boolean;
}

interface ItemRecord {
  receivedBytes: number;
  sentFrameMs: number;
  sentAudioMs: number;
  /** When the last frame sent for this item finishes playing. */
  endAt: number;
}

const KEPT_ITEM_RECORDS = 8;

export class Playout {
  private readonly frameBytes: number;
  private readonly frameMs: number;
  private readonly maxLeadMs: number;
  private readonly refillMs: number;
  private readonly timers: PlayoutTimers;
  private readonly sendFrame: PlayoutOptions['send'];
  private queue: QueuedItem[] = [];
  private readonly records = new Map<string, ItemRecord>();
  private playEndAt = 0;
  private timer: unknown = undefined;
  private disposed = false;

  constructor(options: PlayoutOptions) {
    if (options.frameBytes <= 0 || options.frameBytes % 2 !== 0) throw new RangeError('Playout: frameBytes must be a positive even number');
    this.frameBytes = options.frameBytes;
    this.frameMs = options.frameMs ?? 20;
    if (options.maxLeadMs < this.frameMs) throw new RangeError('Playout: maxLeadMs must be at least one frame');
    this.maxLeadMs = options.maxLeadMs;
    this.refillMs = Math.min(options.refillMs ?? 2 * this.frameMs, this.maxLeadMs - this.frameMs) || this.frameMs;
    this.timers = options.timers ?? systemTimers;
    this.sendFrame = options.send;
    this.playEndAt = this.timers.now();
  }

  /** Queues agent audio (PCM16 at the call's rate) for an item and sends what the lead allows now. */
  enqueue(itemId: string, bytes: Buffer): void {
    if (this.disposed || bytes.length === 0) return;
    const now = this.timers.now();
    let tail = this.queue[this.queue.length - 1];
    if (!tail || tail.itemId !== itemId) {
      if (tail) tail.finished = true;
      tail = { itemId, chunks: [], headOffset: 0, queuedBytes: 0, finished: false };
      this.queue.push(tail);
    }
    tail.chunks.push({ bytes, at: now });
    tail.queuedBytes += bytes.length;
    this.record(itemId).receivedBytes += bytes.length;
    this.pump();
  }

  /** No more audio for this item: its last partial frame leaves padded with silence. */
  finishItem(itemId: string): void {
    const item = this.queue.find((q) => q.itemId === itemId);
    if (!item) return;
    item.finished = true;
    this.pump();
  }

  /** Milliseconds of this item's audio the caller has heard by now. */
  heardMs(itemId: string): number {
    const record = this.records.get(itemId);
    if (!record) return 0;
    const unplayed = Math.max(0, record.endAt - this.timers.now());
    return Math.max(0, Math.min(record.sentAudioMs, record.sentFrameMs - unplayed));
  }

  /** Milliseconds of audio received for this item (sent or not). */
  receivedMs(itemId: string): number {
    const record = this.records.get(itemId);
    return record ? (record.receivedBytes / this.frameBytes) * this.frameMs : 0;
  }

  /**
   * Items the caller has not heard in full (queued here, or not yet played at ACS), oldest first, with what
   * was heard of each: what a barge-in must truncate. Read it before `clear()`.
   */
  unheardItems(): { itemId: string; heardMs: number; receivedMs: number }[] {
    const out: { itemId: string; heardMs: number; receivedMs: number }[] = [];
    for (const itemId of this.records.keys()) {
      const heardMs = this.heardMs(itemId);
      const receivedMs = this.receivedMs(itemId);
      if (heardMs < receivedMs) out.push({ itemId, heardMs, receivedMs });
    }
    return out;
  }

  /** Audio handed to ACS and not yet played, in ms. */
  leadMs(): number {
    return Math.max(0, this.playEndAt - this.timers.now());
  }

  /** Anything queued here or still playing at ACS. */
  isAudible(): boolean {
    return this.queue.length > 0 || this.leadMs() > 0;
  }

  /** Barge-in: drops everything queued and restarts the clock (ACS was told to drop its queue too). */
  clear(): void {
    this.queue = [];
    const now = this.timers.now();
    this.playEndAt = now;
    // What ACS had not yet played is gone: the records keep only what was heard.
    for (const record of this.records.values()) {
      const unplayed = Math.max(0, record.endAt - now);
      record.sentFrameMs -= unplayed;
      record.sentAudioMs = Math.max(0, Math.min(record.sentAudioMs, record.sentFrameMs));
      record.endAt = Math.min(record.endAt, now);
    }
    this.cancelTimer();
  }

  /** Forgets per-item records (a new Voice Live session knows none of these items); queued audio still plays. */
  forgetItems(): void {
    this.records.clear();
  }

  dispose(): void {
    this.disposed = true;
    this.queue = [];
    this.records.clear();
    this.cancelTimer();
  }

  private pump(): void {
    if (this.disposed) return;
    const now = this.timers.now();
    if (this.playEndAt < now) this.playEndAt = now;
    while (this.playEndAt + this.frameMs - now <= this.maxLeadMs) {
      if (!this.sendNextFrame()) break;
    }
    this.schedule(now);
  }

  private schedule(now: number): void {
    // Only when a frame is waiting for the lead: an unfinished item with no whole frame waits for its next delta.
    if (this.timer !== undefined || !this.hasReadyFrame()) return;
    const wakeAt = this.playEndAt - this.maxLeadMs + this.refillMs;
    this.timer = this.timers.setTimer(() => {
      this.timer = undefined;
      this.pump();
    }, Math.max(1, wakeAt - now));
  }

  private cancelTimer(): void {
    if (this.timer !== undefined) this.timers.clearTimer(this.timer);
    this.timer = undefined;
  }

  private hasReadyFrame(): boolean {
    for (const item of this.queue) {
      if (item.queuedBytes >= this.frameBytes || (item.finished && item.queuedBytes > 0)) return true;
      if (!item.finished) return false;
    }
    return false;
  }

  /** Takes one frame from the head item; false when none is ready. */
  private sendNextFrame(): boolean {
    for (;;) {
      const head = this.queue[0];
      if (!head) return false;
      if (head.queuedBytes >= this.frameBytes || (head.finished && head.queuedBytes > 0)) {
        const audioBytes = Math.min(this.frameBytes, head.queuedBytes);
        const queuedAt = head.chunks[0]!.at;
        const frame = this.take(head, audioBytes);
        const record = this.record(head.itemId);
        this.playEndAt += this.frameMs;
        record.sentFrameMs += this.frameMs;
        record.sentAudioMs += (audioBytes / this.frameBytes) * this.frameMs;
        record.endAt = this.playEndAt;
        if (head.finished && head.queuedBytes === 0) this.queue.shift();
        this.sendFrame(frame, head.itemId, queuedAt);
        return true;
      }
      if (head.finished && head.queuedBytes === 0) {
        this.queue.shift();
        continue;
      }
      return false;
    }
  }

  /** One frame of bytes: a view when a chunk holds it whole, else one copy (silence-padded at an item's end). */
  private take(item: QueuedItem, audioBytes: number): Buffer {
    const first = item.chunks[0]!;
    if (audioBytes === this.frameBytes && first.bytes.length - item.headOffset >= audioBytes) {
      const frame = first.bytes.subarray(item.headOffset, item.headOffset + audioBytes);
      this.advance(item, audioBytes);
      return frame;
    }
    const frame = Buffer.alloc(this.frameBytes);
    let filled = 0;
    while (filled < audioBytes) {
      const chunk = item.chunks[0]!;
      const n = Math.min(audioBytes - filled, chunk.bytes.length - item.headOffset);
      chunk.bytes.copy(frame, filled, item.headOffset, item.headOffset + n);
      filled += n;
      this.advance(item, n);
    }
    return frame;
  }

  private advance(item: QueuedItem, n: number): void {
    item.headOffset += n;
    item.queuedBytes -= n;
    if (item.headOffset >= item.chunks[0]!.bytes.length) {
      item.chunks.shift();
      item.headOffset = 0;
    }
  }

  private record(itemId: string): ItemRecord {
    let record = this.records.get(itemId);
    if (!record) {
      record = { receivedBytes: 0, sentFrameMs: 0, sentAudioMs: 0, endAt: this.timers.now() };
      this.records.set(itemId, record);
      if (this.records.size > KEPT_ITEM_RECORDS) this.records.delete(this.records.keys().next().value!);
    }
    return record;
  }
}
