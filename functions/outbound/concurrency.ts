import type { FunctionsConfig } from '../../shared/config/functions.js';
import { StatusStoreError, type OutboundStatusStore } from '../../shared/outbound-status-store.js';

/**
 * OUTBOUND_MAX_CONCURRENT across instances: one slot set in the status store (session `concurrency` on
 * outbound-call-status), a slot per call in progress, taken under that session's lock where the call is placed and
 * given back at CreateCallFailed / CallDisconnected. A slot whose release is lost lapses after
 * OUTBOUND_CONCURRENCY_SLOT_MAX_MS, so a lost callback holds a slot for that long at most.
 */
export const CONCURRENCY_SLOTS_KEY = 'concurrency';

type SlotConfig = Pick<FunctionsConfig, 'OUTBOUND_MAX_CONCURRENT' | 'OUTBOUND_CONCURRENCY_SLOT_MAX_MS'>;

export function takeCallSlot(store: OutboundStatusStore, config: SlotConfig, callId: string, attempt: number, nowMs: number): Promise<boolean> {
  return store.takeSlot(CONCURRENCY_SLOTS_KEY, { holder: callId, attempt, expiresAtMs: nowMs + config.OUTBOUND_CONCURRENCY_SLOT_MAX_MS }, config.OUTBOUND_MAX_CONCURRENT, nowMs);
}

/**
 * The slot session is hot (every placing takes its lock), so a release that finds it locked for long tries again a
 * few times: a release given up holds the slot until it lapses.
 */
export async function releaseCallSlot(store: OutboundStatusStore, callId: string, attempt?: number): Promise<boolean> {
  for (let tries = 1; ; tries++) {
    try {
      return await store.releaseSlot(CONCURRENCY_SLOTS_KEY, callId, attempt);
    } catch (error) {
      if (!(error instanceof StatusStoreError && error.code === 'busy') || tries >= RELEASE_TRIES) throw error;
    }
  }
}

const RELEASE_TRIES = 3;
