import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startAcsRestPeer, type AcsRestPeer } from '../../lab/acs/rest-peer.js';
import { startServiceBusPeer, type ServiceBusPeer } from '../../lab/servicebus/peer.js';
import { loadFunctionsConfig } from '../../shared/config/functions.js';
import { createLogger } from '../../shared/log.js';
import type { OutboundCallStatus } from '../../shared/outbound-call.js';
import { parseCallRecord, type CallRecord } from '../../shared/call-record.js';
import { callIdFor, outboundOperationContext } from '../../shared/outbound-call.js';
import { createFunctionsDependencies, type BuiltDependencies } from '../dependencies.js';
import { applyOutboundStatus, type OutboundCallbackKind, type OutboundCallbackData } from './callbacks.js';
import { CONCURRENCY_SLOTS_KEY, takeCallSlot } from './concurrency.js';

/**
 * ACS posts CallConnected before CallDisconnected, but either can reach the status store late (a callback that found
 * the status locked goes through the outbound-calls queue), so the status must come out the same in either order.
 * The real status store over the lab's Service Bus peer; the changes applied in a chosen order.
 */
describe('outbound status: callbacks applied in any order', () => {
  let bus: ServiceBusPeer;
  let acs: AcsRestPeer;
  let deps: BuiltDependencies;
  const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

  beforeAll(async () => {
    [bus, acs] = await Promise.all([startServiceBusPeer(), startAcsRestPeer()]);
    const config = loadFunctionsConfig({
      ACS_CONNECTION_STRING: acs.connectionString,
      ACS_RESOURCE_ID: '6f1b3d2a-9c4e-4b7a-8e21-5d0c7a9f4b13',
      CALLBACK_BASE_URL: 'https://func.example.net',
      WORKER_MEDIA_URL: 'wss://worker.example.net/ws',
      SERVICEBUS_CONNECTION_STRING: bus.connectionString,
      OUTBOUND_MAX_ATTEMPTS: '2',
    });
    deps = createFunctionsDependencies(config, { logger: createLogger({ component: 'functions', level: 'silent' }) });
  });
  afterAll(async () => {
    await deps?.close();
    await Promise.all([bus?.close(), acs?.close()]);
  });

  let callId: string;
  const connection = 'conn-attempt-1';
  beforeEach(async () => {
    callId = callIdFor(undefined);
    const ringing: OutboundCallStatus = {
      callId,
      state: 'ringing',
      attempt: 1,
      to: '+1555***0001',
      callConnectionId: connection,
      request: { schemaVersion: 1, callId, to: '+15550130001', attempt: 1, requestedAt: new Date().toISOString() },
      updatedAt: new Date().toISOString(),
    };
    await deps.outbound!.status.update(callId, async () => ringing);
    expect(await takeCallSlot(deps.outbound!.status, deps.config, callId, 1, Date.now())).toBe(true);
  });

  const apply = (kind: OutboundCallbackKind, data: OutboundCallbackData = {}) => applyOutboundStatus(deps, callId, kind, data, silent);
  const disconnected = (callConnectionId = connection) => apply('disconnected', { callConnectionId, resultInformation: { code: 200, subCode: 0 } });
  const connected = () => apply('connected', { callConnectionId: connection, operationContext: outboundOperationContext(1) });
  const slotHeld = async () => {
    const holders = await deps.outbound!.status.clearIf(CONCURRENCY_SLOTS_KEY, () => false);
    return JSON.stringify(holders.state ?? {}).includes(callId);
  };

  it('connected then disconnected: ended, a person, slot given back', async () => {
    await connected();
    expect(await deps.outbound!.status.get(callId)).toMatchObject({ state: 'answered' });
    await disconnected();
    expect(await deps.outbound!.status.get(callId)).toMatchObject({ state: 'ended', outcome: 'human' });
    expect(await slotHeld()).toBe(false);
  });

  it('disconnected before its connected: still ringing until the connect, then ended, a person', async () => {
    await disconnected();
    expect(await deps.outbound!.status.get(callId)).toMatchObject({ state: 'ringing', disconnectedAt: expect.any(String) });
    expect(await slotHeld()).toBe(false);
    await connected();
    expect(await deps.outbound!.status.get(callId)).toMatchObject({ state: 'ended', outcome: 'human' });
    // Applied again (Service Bus redelivers), nothing moves.
    await connected();
    await disconnected();
    expect(await deps.outbound!.status.get(callId)).toMatchObject({ state: 'ended', outcome: 'human' });
  });

  it('a disconnect seen while ringing does not stop a CreateCallFailed of the same attempt from scheduling the retry', async () => {
    await disconnected();
    await apply('createCallFailed', { operationContext: outboundOperationContext(1), resultInformation: { code: 486, subCode: 0 } });
    const status = await deps.outbound!.status.get(callId);
    expect(status).toMatchObject({ state: 'queued', attempt: 2, outcome: 'busy' });
    expect(status).not.toHaveProperty('disconnectedAt');
    const retries = bus.messages('outbound-calls').filter((m) => (m.body as { callId?: string; attempt?: number }).callId === callId);
    expect(retries.map((m) => (m.body as { attempt: number }).attempt)).toEqual([2]);
  });

  it('the last attempt busy: failed, and the call record says so (not connected, busy, attempt 2), sent once however often the change is applied', async () => {
    await deps.outbound!.status.update(callId, async (current) => ({ ...current!, attempt: 2, request: { ...current!.request!, attempt: 2, from: '+15550100100' }, profile: 'reminders' }));
    const failed = { operationContext: outboundOperationContext(2), resultInformation: { code: 486, subCode: 0, message: 'busy' } };
    await apply('createCallFailed', failed);
    await apply('createCallFailed', failed);
    expect(await deps.outbound!.status.get(callId)).toMatchObject({ state: 'failed', outcome: 'busy', attempt: 2 });
    const records = bus.messages('call-records').filter((m) => (m.body as { callId?: string }).callId === callId);
    expect(records).toHaveLength(1);
    const parsed = parseCallRecord(records[0]!.body);
    expect(parsed.ok).toBe(true);
    const record = (parsed as { record: CallRecord }).record;
    expect(record).toMatchObject({
      callId,
      profile: 'reminders',
      callConnectionId: connection,
      to: '+1555***0001',
      durationMs: 0,
      outcome: { kind: 'not_connected', reason: 'busy on attempt 2, the last (ACS result 486)' },
      transcript: [],
      outbound: { attempt: 2, outcome: 'busy' },
      cost: { total: 0, currency: 'USD' },
    });
    expect(record.from).not.toContain('0100100');
    expect(records[0]!.messageId).toBe(`${callId}:record`);
    expect(records[0]!.applicationProperties).toMatchObject({ outcome: 'not_connected', outboundOutcome: 'busy', profile: 'reminders' });
  });

  it("another attempt's disconnect changes nothing", async () => {
    await disconnected('conn-of-another-attempt');
    expect(await deps.outbound!.status.get(callId)).not.toHaveProperty('disconnectedAt');
    await connected();
    expect(await deps.outbound!.status.get(callId)).toMatchObject({ state: 'answered' });
  });
});
