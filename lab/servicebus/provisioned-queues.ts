import provisioned from '../../infra/modules/servicebus-queues.json';
import type { QueueOptions } from './queue.js';

/**
 * The queues as infra provisions them: `infra/modules/servicebus-queues.json` is the one source of truth that
 * `servicebus.bicep` loads with loadJsonContent() and the lab's Service Bus peer reads here, so the lab runs with
 * the provisioned maxDeliveryCount, lock duration, TTL, dead-lettering on expiry, sessions and duplicate detection.
 */
export interface ProvisionedQueueProperties {
  requiresSession: boolean;
  requiresDuplicateDetection: boolean;
  /** ISO 8601 duration, e.g. PT10M. */
  duplicateDetectionHistoryTimeWindow: string;
  defaultMessageTimeToLive: string;
  deadLetteringOnMessageExpiration: boolean;
  lockDuration: string;
  maxDeliveryCount: number;
}

const UNIT_MS = { D: 86_400_000, H: 3_600_000, M: 60_000, S: 1000 } as const;

/** An ISO 8601 duration of days, hours, minutes and seconds (`P14D`, `PT1H`, `PT10M`, `PT1M30S`) in ms. */
export function isoDurationMs(duration: string): number {
  const match = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(duration);
  if (!match || duration === 'P' || duration.endsWith('T')) throw new Error(`not an ISO 8601 duration of days/hours/minutes/seconds: ${duration}`);
  const [, d, h, m, s] = match;
  return Number(d ?? 0) * UNIT_MS.D + Number(h ?? 0) * UNIT_MS.H + Number(m ?? 0) * UNIT_MS.M + Number(s ?? 0) * UNIT_MS.S;
}

export function queueOptionsOf(name: string, p: ProvisionedQueueProperties): QueueOptions {
  return {
    name,
    requiresSession: p.requiresSession,
    ...(p.requiresDuplicateDetection ? { duplicateDetectionWindowMs: isoDurationMs(p.duplicateDetectionHistoryTimeWindow) } : {}),
    defaultTimeToLiveMs: isoDurationMs(p.defaultMessageTimeToLive),
    deadLetteringOnMessageExpiration: p.deadLetteringOnMessageExpiration,
    lockDurationMs: isoDurationMs(p.lockDuration),
    maxDeliveryCount: p.maxDeliveryCount,
  };
}

export const provisionedQueueProperties: Readonly<Record<string, ProvisionedQueueProperties>> = provisioned;

/** Every provisioned queue, as the peer's queue options. */
export const provisionedQueues: QueueOptions[] = Object.entries(provisionedQueueProperties).map(([name, p]) => queueOptionsOf(name, p));
