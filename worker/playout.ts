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
  send?(frame: Buffer, itemId: string, queuedAt: number): void;
  /**
   * The same as base64 text, used instead of `send` when given. Where a frame lies whole in audio queued as
   * base64 and its edges fall on 3-byte groups (every frame when frames are a multiple of 3 bytes, as at
   * 24 kHz; a delta that is exactly one frame at 16 kHz), its text is cut from the queued text: the audio is
   * neither decoded nor re-encoded.
   */
  sendBase64?(frameBase64: string, itemId: string, queuedAt: number): void;
  /** Called around a run of two or more frames sent at once (e.g. to cork the socket: one write for all). */
  batch?: { begin(): void; end(): void };
}

/** Queued audio: bytes, or base64 text decoded only if a frame must be assembled from it. */
interface Chunk {
  bytes: Buffer | undefined;
  base64: string | undefined;
  length: number;
  at: number;
}

interface QueuedItem {
  itemId: string;
  chunks: Chunk[];
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
  /** A barge-in cleared it: what was not heard is gone, and the item was truncated then (not again). */
  cut: boolean;
}

const KEPT_ITEM_RECORDS = 8;

export class Playout {
  private readonly frameBytes: number;
  private readonly frameMs: number;
  private readonly maxLeadMs: number;
  private readonly refillMs: number;
  private readonly timers: PlayoutTimers;
  private readonly sendFrame: PlayoutOptions['send'];
  private readonly sendFrameBase64: PlayoutOptions['sendBase64'];
  private readonly batch: PlayoutOptions['batch'];
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
    if (!options.send && !options.sendBase64) throw new TypeError('Playout: send or sendBase64 is required');
    this.sendFrame = options.send;
    this.sendFrameBase64 = options.sendBase64;
    this.batch = options.batch;
    this.playEndAt = this.timers.now();
  }

  /** Queues agent audio (PCM16 at the call's rate) for an item and sends what the lead allows now. */
  enqueue(itemId: string, bytes: Buffer): void {
    if (bytes.length === 0) return;
    this.enqueueChunk(itemId, { bytes, base64: undefined, length: bytes.length, at: 0 });
  }

  /** The same for audio as canonical base64 text of `byteLength` bytes (the caller has checked it). */
  enqueueBase64(itemId: string, base64: string, byteLength: number): void {
    if (byteLength === 0) return;
    this.enqueueChunk(itemId, { bytes: undefined, base64, length: byteLength, at: 0 });
  }

  private enqueueChunk(itemId: string, chunk: Chunk): void {
    if (this.disposed) return;
    const now = this.timers.now();
    chunk.at = now;
    let tail = this.queue[this.queue.length - 1];
    if (!tail || tail.itemId !== itemId) {
      if (tail) tail.finished = true;
      tail = { itemId, chunks: [], headOffset: 0, queuedBytes: 0, finished: false };
      this.queue.push(tail);
    }
    tail.chunks.push(chunk);
    tail.queuedBytes += chunk.length;
    const record = this.record(itemId);
    record.receivedBytes += chunk.length;
    record.cut = false;
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
   * Items the caller has not heard in full (queued here, not yet played at ACS, or still streaming from the
   * model: heard to the end of what arrived, but more is coming), oldest first, with what was heard of each:
   * what a barge-in must truncate. Read it before `clear()`.
   */
  unheardItems(): { itemId: string; heardMs: number; receivedMs: number }[] {
    const out: { itemId: string; heardMs: number; receivedMs: number }[] = [];
    for (const [itemId, record] of this.records) {
      if (record.cut) continue;
      const heardMs = this.heardMs(itemId);
      const receivedMs = this.receivedMs(itemId);
      if (heardMs < receivedMs || this.isStreaming(itemId)) out.push({ itemId, heardMs, receivedMs });
    }
    return out;
  }

  private isStreaming(itemId: string): boolean {
    return this.queue.some((q) => q.itemId === itemId && !q.finished);
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
      record.cut = true;
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
    // Several frames going out at once (a delta longer than a frame, a timer refill) leave in one socket write.
    const batch = this.batch !== undefined && this.playEndAt + 2 * this.frameMs - now <= this.maxLeadMs && (this.queue[0]?.queuedBytes ?? 0) >= 2 * this.frameBytes;
    if (batch) this.batch!.begin();
    try {
      while (this.playEndAt + this.frameMs - now <= this.maxLeadMs) {
        if (!this.sendNextFrame()) break;
      }
    } finally {
      if (batch) this.batch!.end();
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
        const frame = this.sendFrameBase64 ? this.takeBase64(head, audioBytes) : this.take(head, audioBytes);
        const record = this.record(head.itemId);
        this.playEndAt += this.frameMs;
        record.sentFrameMs += this.frameMs;
        record.sentAudioMs += (audioBytes / this.frameBytes) * this.frameMs;
        record.endAt = this.playEndAt;
        if (head.finished && head.queuedBytes === 0) this.queue.shift();
        if (typeof frame === 'string') this.sendFrameBase64!(frame, head.itemId, queuedAt);
        else this.sendFrame!(frame, head.itemId, queuedAt);
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
    if (audioBytes === this.frameBytes && first.length - item.headOffset >= audioBytes) {
      const frame = bytesOf(first).subarray(item.headOffset, item.headOffset + audioBytes);
      this.advance(item, audioBytes);
      return frame;
    }
    const frame = Buffer.alloc(this.frameBytes);
    let filled = 0;
    while (filled < audioBytes) {
      const chunk = item.chunks[0]!;
      const n = Math.min(audioBytes - filled, chunk.length - item.headOffset);
      bytesOf(chunk).copy(frame, filled, item.headOffset, item.headOffset + n);
      filled += n;
      this.advance(item, n);
    }
    return frame;
  }

  /** One frame as base64: cut from the queued text where its edges fall on 3-byte groups, else encoded. */
  private takeBase64(item: QueuedItem, audioBytes: number): string {
    const first = item.chunks[0]!;
    const start = item.headOffset;
    const end = start + audioBytes;
    if (first.base64 !== undefined && audioBytes === this.frameBytes && end <= first.length && start % 3 === 0 && (end % 3 === 0 || end === first.length)) {
      const text = first.base64.slice((start / 3) * 4, end === first.length ? first.base64.length : (end / 3) * 4);
      this.advance(item, audioBytes);
      return text;
    }
    return this.take(item, audioBytes).toString('base64');
  }

  private advance(item: QueuedItem, n: number): void {
    item.headOffset += n;
    item.queuedBytes -= n;
    if (item.headOffset >= item.chunks[0]!.length) {
      item.chunks.shift();
      item.headOffset = 0;
    }
  }

  private record(itemId: string): ItemRecord {
    let record = this.records.get(itemId);
    if (!record) {
      record = { receivedBytes: 0, sentFrameMs: 0, sentAudioMs: 0, endAt: this.timers.now(), cut: false };
      this.records.set(itemId, record);
      if (this.records.size > KEPT_ITEM_RECORDS) this.records.delete(this.records.keys().next().value!);
    }
    return record;
  }
}

function bytesOf(chunk: Chunk): Buffer {
  return (chunk.bytes ??= Buffer.from(chunk.base64!, 'base64'));
}
