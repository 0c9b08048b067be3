import type { ServiceBusClient, ServiceBusSessionReceiver } from '@azure/service-bus';
import { z } from 'zod';
import { outboundCallStatusSchema, type OutboundCallStatus } from './outbound-call.js';

/**
 * Where an outbound call's state lives between stateless Functions invocations: the session state of the call's
 * session (session id = callId) on a session-enabled queue that carries no messages. Service Bus keeps session state
 * until it is cleared, and a session lock makes each read-change-write exclusive across instances. Limits: each
 * access attaches a link (tens of ms); a session locked by another writer is waited for, briefly.
 */
export interface OutboundStatusStore {
  get(callId: string): Promise<OutboundCallStatus | undefined>;
  /**
   * Reads the status under the call's lock and writes what `change` returns (undefined: leaves it). `change` may do
   * work (send the request, place the call) that must happen at most once per status.
   */
  update(callId: string, change: (current: OutboundCallStatus | undefined) => Promise<OutboundCallStatus | undefined>): Promise<OutboundCallStatus | undefined>;
  /**
   * A counter kept the same way (session `key`): adds one and resolves the new count while it is below `limit`, else
   * leaves it and resolves false. For the caps: exclusive across instances.
   */
  take(key: string, limit: number): Promise<number | false>;
  /**
   * Clears session `key`'s state (Service Bus keeps it otherwise forever) when `expired` says so of what it holds
   * (parsed JSON, undefined when empty), under the lock; resolves whether it was cleared and what it held.
   */
  clearIf(key: string, expired: (state: unknown) => boolean): Promise<{ cleared: boolean; state: unknown }>;
  /**
   * A slot of a bounded set kept the same way (session `key`, for OUTBOUND_MAX_CONCURRENT): under the lock, drops the
   * slots past their expiry, then gives `holder` one (or renews its own) while fewer than `limit` are held; resolves
   * whether it holds one.
   */
  takeSlot(key: string, slot: { holder: string; attempt: number; expiresAtMs: number }, limit: number, nowMs: number): Promise<boolean>;
  /** Gives `holder`'s slot back (only the slot of `attempt` when given); resolves whether one was held. */
  releaseSlot(key: string, holder: string, attempt?: number): Promise<boolean>;
}

/** The session state of a slot set: holder → the attempt holding it and when it lapses (ISO). */
const slotsSchema = z.object({ slots: z.record(z.string(), z.object({ attempt: z.number().int(), expiresAt: z.string() })) });
type Slots = z.infer<typeof slotsSchema>['slots'];

/**
 * How long a locked session is waited for. Every reader takes the lock (a client polling GET /api/calls/{callId}
 * included), so a writer that gave up after a few tries could lose to a busy poller; the pauses are jittered so two
 * waiters do not retry in step. Within the trigger's functionTimeout (host.json, 30 s).
 */
const LOCKED_WAIT_TOTAL_MS = 10_000;
const LOCKED_PAUSE_MS = { min: 50, max: 250 };

export class StatusStoreError extends Error {
  constructor(message: string, readonly code: 'busy' | 'corrupt') {
    super(message);
    this.name = 'StatusStoreError';
  }
}

function decode(raw: unknown): OutboundCallStatus | undefined {
  if (raw === null || raw === undefined) return undefined;
  let value: unknown = raw;
  if (Buffer.isBuffer(raw) || raw instanceof Uint8Array) value = Buffer.from(raw).toString('utf8');
  if (typeof value === 'string') {
    if (value.length === 0) return undefined;
    try {
      value = JSON.parse(value);
    } catch {
      throw new StatusStoreError('stored status is not JSON', 'corrupt');
    }
  }
  const parsed = outboundCallStatusSchema.safeParse(value);
  if (!parsed.success) throw new StatusStoreError('stored status does not match the schema', 'corrupt');
  return parsed.data;
}

export class ServiceBusStatusStore implements OutboundStatusStore {
  constructor(
    private readonly client: ServiceBusClient,
    private readonly queueName: string,
  ) {}

  get(callId: string): Promise<OutboundCallStatus | undefined> {
    return this.withSession(callId, async (receiver) => decode(await receiver.getSessionState()));
  }

  update(callId: string, change: (current: OutboundCallStatus | undefined) => Promise<OutboundCallStatus | undefined>): Promise<OutboundCallStatus | undefined> {
    return this.withSession(callId, async (receiver) => {
      const current = decode(await receiver.getSessionState());
      const next = await change(current);
      if (next === undefined) return current;
      await receiver.setSessionState(JSON.stringify(outboundCallStatusSchema.parse(next)));
      return next;
    });
  }

  take(key: string, limit: number): Promise<number | false> {
    return this.withSession(key, async (receiver) => {
      const raw: unknown = await receiver.getSessionState();
      const text = Buffer.isBuffer(raw) || raw instanceof Uint8Array ? Buffer.from(raw).toString('utf8') : typeof raw === 'string' ? raw : '';
      let count = 0;
      try {
        count = text ? Number((JSON.parse(text) as { count?: unknown }).count ?? 0) : 0;
      } catch {
        throw new StatusStoreError(`counter ${key} is not JSON`, 'corrupt');
      }
      if (!Number.isFinite(count)) throw new StatusStoreError(`counter ${key} is not a number`, 'corrupt');
      if (count >= limit) return false;
      await receiver.setSessionState(JSON.stringify({ count: count + 1 }));
      return count + 1;
    });
  }

  clearIf(key: string, expired: (state: unknown) => boolean): Promise<{ cleared: boolean; state: unknown }> {
    return this.withSession(key, async (receiver) => {
      const raw: unknown = await receiver.getSessionState();
      const text = Buffer.isBuffer(raw) || raw instanceof Uint8Array ? Buffer.from(raw).toString('utf8') : typeof raw === 'string' ? raw : '';
      let state: unknown;
      try {
        state = text ? JSON.parse(text) : undefined;
      } catch {
        throw new StatusStoreError(`session ${key} is not JSON`, 'corrupt');
      }
      if (state === undefined || !expired(state)) return { cleared: false, state };
      await receiver.setSessionState(null);
      return { cleared: true, state };
    });
  }

  takeSlot(key: string, slot: { holder: string; attempt: number; expiresAtMs: number }, limit: number, nowMs: number): Promise<boolean> {
    return this.withSession(key, async (receiver) => {
      const slots = readSlots(key, await receiver.getSessionState());
      for (const [holder, held] of Object.entries(slots)) if (Date.parse(held.expiresAt) <= nowMs) delete slots[holder];
      if (!slots[slot.holder] && Object.keys(slots).length >= limit) {
        await receiver.setSessionState(JSON.stringify({ slots }));
        return false;
      }
      slots[slot.holder] = { attempt: slot.attempt, expiresAt: new Date(slot.expiresAtMs).toISOString() };
      await receiver.setSessionState(JSON.stringify({ slots }));
      return true;
    });
  }

  releaseSlot(key: string, holder: string, attempt?: number): Promise<boolean> {
    return this.withSession(key, async (receiver) => {
      const slots = readSlots(key, await receiver.getSessionState());
      const held = slots[holder];
      if (!held || (attempt !== undefined && held.attempt !== attempt)) return false;
      delete slots[holder];
      await receiver.setSessionState(JSON.stringify({ slots }));
      return true;
    });
  }

  private async withSession<T>(callId: string, work: (receiver: ServiceBusSessionReceiver) => Promise<T>): Promise<T> {
    let receiver: ServiceBusSessionReceiver | undefined;
    const giveUpAt = Date.now() + LOCKED_WAIT_TOTAL_MS;
    while (!receiver) {
      try {
        receiver = await this.client.acceptSession(this.queueName, callId, { maxAutoLockRenewalDurationInMs: 0 });
      } catch (error) {
        const code = (error as { code?: string }).code;
        if (code !== 'SessionCannotBeLocked' || Date.now() >= giveUpAt) {
          throw code === 'SessionCannotBeLocked' ? new StatusStoreError(`the status of ${callId} stayed locked by another writer`, 'busy') : error;
        }
        const pauseMs = LOCKED_PAUSE_MS.min + Math.random() * (LOCKED_PAUSE_MS.max - LOCKED_PAUSE_MS.min);
        await new Promise((resolve) => setTimeout(resolve, pauseMs));
      }
    }
    try {
      return await work(receiver);
    } finally {
      await receiver.close().catch(() => undefined);
    }
  }
}

function readSlots(key: string, raw: unknown): Slots {
  const text = Buffer.isBuffer(raw) || raw instanceof Uint8Array ? Buffer.from(raw).toString('utf8') : typeof raw === 'string' ? raw : '';
  if (!text) return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new StatusStoreError(`slots ${key} are not JSON`, 'corrupt');
  }
  const parsed = slotsSchema.safeParse(value);
  if (!parsed.success) throw new StatusStoreError(`slots ${key} do not match the schema`, 'corrupt');
  return parsed.data.slots;
}
