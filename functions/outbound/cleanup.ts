import { z } from 'zod';
import type { FunctionsConfig } from '../../shared/config/functions.js';
import { isOutboundCallId, outboundCallStatusSchema } from '../../shared/outbound-call.js';
import type { OutboundStatusStore } from '../../shared/outbound-status-store.js';
import type { CallLog } from '../context.js';

/**
 * Service Bus keeps session state until it is cleared, and lists no sessions through the SDK, so what the status
 * store writes is cleared by a scheduled message on the `outbound-calls` queue, sent when the state is created: a
 * call's status OUTBOUND_STATUS_RETENTION_DAYS after its last change, a day's cap counter once the day is over. The
 * trigger clears only what is past its time: a cleanup message put on the queue early (or by someone else) changes
 * nothing, so it cannot reset a cap.
 */
export const cleanupMessageSchema = z
  .object({
    schemaVersion: z.literal(1),
    cleanup: z.enum(['status', 'counter']),
    session: z.string().min(1).max(128),
  })
  .strict();
export type CleanupMessage = z.infer<typeof cleanupMessageSchema>;

const DAY_MS = 86_400_000;
const COUNTER = /^cap-(?:day|destination):(\d{4}-\d{2}-\d{2})(?::[0-9a-f]{32})?$/;

/** A day's counter is last used on that UTC day: it goes at the start of the day after. */
export function counterCleanupAt(day: string): Date {
  return new Date(Date.parse(`${day}T00:00:00Z`) + DAY_MS);
}

export function statusCleanupAt(config: Pick<FunctionsConfig, 'OUTBOUND_STATUS_RETENTION_DAYS'>, updatedAtMs: number): Date {
  return new Date(updatedAtMs + config.OUTBOUND_STATUS_RETENTION_DAYS * DAY_MS);
}

export interface CleanupDependencies {
  config: Pick<FunctionsConfig, 'OUTBOUND_STATUS_RETENTION_DAYS'>;
  status: OutboundStatusStore;
  schedule(message: CleanupMessage, at: Date): Promise<void>;
}

/** Handles one cleanup message at `nowMs`: clears the session if its time has come, else schedules itself again. */
export async function runCleanup(deps: CleanupDependencies, message: CleanupMessage, nowMs: number, log: CallLog): Promise<void> {
  if (message.cleanup === 'counter') {
    const day = COUNTER.exec(message.session)?.[1];
    if (!day) return log.warn('cleanup message refused: not a cap counter', { session: message.session.slice(0, 64) });
    const due = counterCleanupAt(day);
    if (due.getTime() > nowMs) return deps.schedule(message, due);
    const { cleared } = await deps.status.clearIf(message.session, () => true);
    log.info('outbound cap counter of a past day cleared', { session: message.session.slice(0, 24), cleared });
    return;
  }
  if (!isOutboundCallId(message.session)) return log.warn('cleanup message refused: not an outbound callId', { session: message.session.slice(0, 64) });
  let dueMs: number | undefined;
  const { cleared, state } = await deps.status.clearIf(message.session, (held) => {
    const parsed = outboundCallStatusSchema.safeParse(held);
    // A state this app did not write is left alone (and reported).
    if (!parsed.success) return false;
    dueMs = statusCleanupAt(deps.config, Date.parse(parsed.data.updatedAt)).getTime();
    return dueMs <= nowMs;
  });
  if (cleared) return log.info('outbound call status past its retention cleared', { callId: message.session });
  if (dueMs !== undefined) return deps.schedule(message, new Date(dueMs));
  if (state !== undefined) log.warn('outbound status not cleared: it does not match the schema', { callId: message.session });
}
