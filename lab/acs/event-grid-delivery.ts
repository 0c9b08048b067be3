import { randomUUID } from 'node:crypto';

/**
 * Event Grid's push delivery to a webhook, as the emulator plays it (learn.microsoft.com/azure/event-grid/delivery-and-retry):
 * one event per POST (an array of one), success on 200-204, no retry on 400, 401, 403 and 413 (the event is dropped:
 * the lab configures no dead-letter destination), every other answer, a timeout (30 s) or a connection failure
 * retried on the documented schedule (10 s, 30 s, 1 min, 5 min, 10 min, 30 min, 1 h, then hourly) with a small
 * random spread, until 30 attempts or the 24 h event time to live. `aeg-delivery-count` counts the earlier attempts.
 * `timeScale` shrinks the schedule and the time to live (0.01: the first retry after about 100 ms) so tests need not wait.
 */
export interface EventGridDeliveryOptions {
  /** The subscription's endpoint, read at each attempt. */
  webhookUrl: () => string;
  subscriptionName: string;
  /** Multiplies every retry delay and the time to live; default 1 (Event Grid's own timing). */
  timeScale?: number;
  /** Default 30, Event Grid's default for a subscription. */
  maxDeliveryAttempts?: number;
  /** Default 1440 minutes, Event Grid's default. */
  eventTimeToLiveMs?: number;
  /** How long an attempt may take before it counts as failed; Event Grid waits 30 s. Not scaled. */
  attemptTimeoutMs?: number;
  /** For the random spread of each retry delay; default Math.random. */
  random?: () => number;
  /** Sees each body before it is posted (the official-SDK judge). */
  inspect?: (body: string, eventType: string) => void;
}

export type AttemptOutcome = 'delivered' | 'retrying' | 'dropped' | 'expired' | 'abandoned';

export interface DeliveryAttempt {
  eventId: string;
  eventType: string;
  /** The value of `aeg-delivery-count` this attempt carried: 0 on the first. */
  deliveryCount: number;
  status?: number;
  error?: string;
  tookMs: number;
  outcome: AttemptOutcome;
  /** When the next attempt is due, for `retrying`. */
  nextInMs?: number;
}

/** Event Grid's retry delays after the 1st, 2nd, ... failed attempt; hourly after the last. */
export const RETRY_SCHEDULE_MS: readonly number[] = [10_000, 30_000, 60_000, 300_000, 600_000, 1_800_000, 3_600_000];
/** Webhook answers Event Grid never retries (dead-lettered when configured, else dropped). */
export const NOT_RETRIED_STATUSES: ReadonlySet<number> = new Set([400, 401, 403, 413]);
const isSuccess = (status: number) => status >= 200 && status <= 204;
/** The documented "small randomization" is unquantified: the lab spreads each delay by up to ±10 %. */
const SPREAD = 0.1;

export interface EventGridEventEnvelope {
  id: string;
  eventType: string;
  [key: string]: unknown;
}

export class EventGridDelivery {
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;
  private readonly timeScale: number;

  constructor(private readonly options: EventGridDeliveryOptions) {
    this.timeScale = options.timeScale ?? 1;
    if (!(this.timeScale > 0)) throw new RangeError('EventGridDelivery: options.timeScale must be positive');
  }

  /** The delay before attempt `n + 1` after `n` failed attempts (n >= 1), before the spread, at scale 1. */
  static retryDelayMs(failedAttempts: number): number {
    return RETRY_SCHEDULE_MS[Math.min(failedAttempts, RETRY_SCHEDULE_MS.length) - 1]!;
  }

  /**
   * Delivers one event; resolves with the first attempt's result. Retries go on in the background, each reported to
   * `onAttempt`, until the event is delivered, dropped, expired or the delivery is closed.
   */
  deliver(event: EventGridEventEnvelope, onAttempt: (attempt: DeliveryAttempt) => void = () => undefined): Promise<DeliveryAttempt> {
    const publishedAtMs = performance.now();
    const outputEventId = randomUUID();
    const maxAttempts = this.options.maxDeliveryAttempts ?? 30;
    const ttlMs = (this.options.eventTimeToLiveMs ?? 24 * 3600_000) * this.timeScale;
    const body = JSON.stringify([event]);

    const attempt = async (deliveryCount: number): Promise<DeliveryAttempt> => {
      const started = performance.now();
      const result: DeliveryAttempt = { eventId: event.id, eventType: event.eventType, deliveryCount, tookMs: 0, outcome: 'delivered' };
      this.options.inspect?.(body, event.eventType);
      try {
        const response = await fetch(this.options.webhookUrl(), {
          method: 'POST',
          headers: {
            'content-type': 'application/json; charset=utf-8',
            'aeg-event-type': 'Notification',
            'aeg-subscription-name': this.options.subscriptionName.toUpperCase(),
            'aeg-delivery-count': String(deliveryCount),
            'aeg-metadata-version': '1',
            'aeg-data-version': String(event.dataVersion ?? ''),
            'aeg-output-event-id': outputEventId,
          },
          body,
          signal: AbortSignal.timeout(this.options.attemptTimeoutMs ?? 30_000),
        });
        await response.arrayBuffer();
        result.status = response.status;
      } catch (error) {
        result.error = (error as Error).message;
      }
      result.tookMs = Math.round(performance.now() - started);
      const attemptsMade = deliveryCount + 1;
      if (result.status !== undefined && isSuccess(result.status)) result.outcome = 'delivered';
      else if (result.status !== undefined && NOT_RETRIED_STATUSES.has(result.status)) result.outcome = 'dropped';
      else if (this.closed) result.outcome = 'abandoned';
      else {
        const spread = 1 + (((this.options.random ?? Math.random)() * 2 - 1) * SPREAD);
        const delayMs = EventGridDelivery.retryDelayMs(attemptsMade) * this.timeScale * spread;
        const expired = attemptsMade >= maxAttempts || performance.now() + delayMs - publishedAtMs > ttlMs;
        if (expired) result.outcome = 'expired';
        else {
          result.outcome = 'retrying';
          result.nextInMs = Math.round(delayMs);
          const timer = setTimeout(() => {
            this.timers.delete(timer);
            if (this.closed) return;
            void attempt(deliveryCount + 1).then(onAttempt);
          }, delayMs);
          timer.unref();
          this.timers.add(timer);
        }
      }
      return result;
    };

    return attempt(0).then((first) => {
      onAttempt(first);
      return first;
    });
  }

  /** Pending retries are abandoned. */
  close(): void {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }
}
