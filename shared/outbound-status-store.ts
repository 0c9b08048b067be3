import type { ServiceBusClient, ServiceBusSessionReceiver } from '@azure/service-bus';
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
   * A counter kept the same way (session `key`): adds one and resolves true while it is below `limit`, else leaves it
   * and resolves false. For the caps: exclusive across instances.
   */
  take(key: string, limit: number): Promise<boolean>;
}

const LOCKED_RETRIES = 20;
const LOCKED_WAIT_MS = 150;

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

  take(key: string, limit: number): Promise<boolean> {
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
      return true;
    });
  }

  private async withSession<T>(callId: string, work: (receiver: ServiceBusSessionReceiver) => Promise<T>): Promise<T> {
    let receiver: ServiceBusSessionReceiver | undefined;
    for (let attempt = 0; !receiver; attempt++) {
      try {
        receiver = await this.client.acceptSession(this.queueName, callId, { maxAutoLockRenewalDurationInMs: 0 });
      } catch (error) {
        const code = (error as { code?: string }).code;
        if (code !== 'SessionCannotBeLocked' || attempt >= LOCKED_RETRIES) {
          throw code === 'SessionCannotBeLocked' ? new StatusStoreError(`the status of ${callId} stayed locked by another writer`, 'busy') : error;
        }
        await new Promise((resolve) => setTimeout(resolve, LOCKED_WAIT_MS));
      }
    }
    try {
      return await work(receiver);
    } finally {
      await receiver.close().catch(() => undefined);
    }
  }
}
