import { BusError, type OutgoingMessage } from '../../shared/bus.js';
import { toCallRecordBusMessage, type CallRecord } from '../../shared/call-record.js';
import { silentLogger, type Logger } from '../../shared/log.js';

/** What the outbox needs of `BusPublisher`. */
export interface RecordSender {
  publish(message: OutgoingMessage, options?: { abortSignal?: AbortSignal; deadlineMs?: number }): Promise<void>;
}

export interface RecordOutboxOptions {
  logger?: Logger;
  /** How long one publish keeps retrying before the outbox pauses and tries again. Default 30 s. */
  attemptDeadlineMs?: number;
  /** Pause after a failed publish; doubles up to `maxRetryDelayMs`. Defaults 1 s and 30 s. */
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
  /** Most records held while the bus is down; the oldest is dropped (and logged) beyond it. Default 10,000. */
  maxPending?: number;
}

/**
 * Call records waiting for Service Bus. A record is kept until it is published: while the bus is down it is
 * retried in the background with backoff, and the same messageId (`<callId>:record`) makes retries safe.
 * `flush` lets the process's drain wait for them.
 */
export class RecordOutbox {
  private readonly pending = new Map<string, CallRecord>();
  private readonly stopping = new AbortController();
  private readonly idleWaiters = new Set<() => void>();
  private readonly log: Logger;
  private readonly attemptDeadlineMs: number;
  private readonly retryDelayMs: number;
  private readonly maxRetryDelayMs: number;
  private readonly maxPending: number;
  private running: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  published = 0;

  constructor(private readonly sender: RecordSender, options: RecordOutboxOptions = {}) {
    this.log = (options.logger ?? silentLogger).child({ component: 'record-outbox' });
    this.attemptDeadlineMs = options.attemptDeadlineMs ?? 30_000;
    this.retryDelayMs = options.retryDelayMs ?? 1_000;
    this.maxRetryDelayMs = options.maxRetryDelayMs ?? 30_000;
    this.maxPending = options.maxPending ?? 10_000;
  }

  get size(): number {
    return this.pending.size;
  }

  add(record: CallRecord): void {
    if (this.stopping.signal.aborted) {
      this.log.error({ callId: record.callId }, 'call record not published: the outbox is closed');
      return;
    }
    if (this.pending.size >= this.maxPending) {
      const oldest = this.pending.keys().next().value!;
      this.pending.delete(oldest);
      this.log.error({ callId: oldest, maxPending: this.maxPending }, 'call record dropped: too many records waiting for Service Bus');
    }
    this.pending.set(record.callId, record);
    this.wake?.();
    this.running ??= this.run().finally(() => {
      this.running = undefined;
      if (this.pending.size > 0 && !this.stopping.signal.aborted) this.running = this.run();
    });
  }

  /** Resolves when every record is published or `timeoutMs` passed; returns how many are still waiting. */
  async flush(timeoutMs: number): Promise<number> {
    if (this.pending.size === 0) return 0;
    let timer: NodeJS.Timeout | undefined;
    let done!: () => void;
    const idle = new Promise<void>((resolve) => (done = resolve));
    this.idleWaiters.add(done);
    await Promise.race([idle, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
    this.idleWaiters.delete(done);
    return this.pending.size;
  }

  /** Stops retrying; records still waiting are logged as lost. */
  close(): void {
    this.stopping.abort();
    this.wake?.();
    for (const callId of this.pending.keys()) this.log.error({ callId }, 'call record not published before shutdown');
  }

  private async run(): Promise<void> {
    let delayMs = this.retryDelayMs;
    while (this.pending.size > 0 && !this.stopping.signal.aborted) {
      const [callId, record] = this.pending.entries().next().value!;
      const call = record.profile ? { callId, profile: record.profile } : { callId };
      try {
        await this.sender.publish(toCallRecordBusMessage(record), { deadlineMs: this.attemptDeadlineMs, abortSignal: this.stopping.signal });
        if (this.pending.get(callId) === record) this.pending.delete(callId);
        this.published++;
        delayMs = this.retryDelayMs;
        this.log.info({ ...call, outcome: record.outcome.kind }, 'call record published');
      } catch (error) {
        if (this.stopping.signal.aborted) break;
        const code = error instanceof BusError ? error.code : undefined;
        if (code === 'BUS_REJECTED' || code === 'BUS_INVALID_MESSAGE') {
          this.pending.delete(callId);
          this.log.error({ ...call, code, error: (error as Error).message }, 'call record refused by Service Bus; not retrying');
          continue;
        }
        this.log.warn({ ...call, code, waiting: this.pending.size, retryInMs: delayMs }, 'call record not published yet; will retry');
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delayMs);
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.wake = undefined;
        delayMs = Math.min(delayMs * 2, this.maxRetryDelayMs);
      }
    }
    if (this.pending.size === 0) for (const done of this.idleWaiters) done();
  }
}
