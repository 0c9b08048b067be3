import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceBusClient, type ServiceBusSessionReceiver } from '@azure/service-bus';
import { startLab, type Lab } from '../../lab/lab.js';
import { CONCURRENCY_SLOTS_KEY } from '../../functions/outbound/concurrency.js';

/**
 * A callback's status change that cannot be written when it comes (the call's status locked, here by the test as
 * the trigger would hold it while placing) goes through the outbound-calls queue and is applied there once the lock
 * is free; a status change put on the queue by anyone else is applied only when ACS agrees the call is over.
 */
describe('outbound status changes that cannot be written at once', () => {
  let lab: Lab;
  let client: ServiceBusClient;
  beforeAll(async () => {
    lab = await startLab({ logLevel: 'silent', greeting: false, functionsEnv: { OUTBOUND_MAX_ATTEMPTS: '2', OUTBOUND_RETRY_DELAY_MS: '300' } });
    client = new ServiceBusClient(lab.serviceBus.connectionString);
  }, 30_000);
  afterAll(async () => {
    await client?.close();
    await lab?.close();
  });

  const post = async (body: unknown) => ((await (await fetch(lab.functions.urlOf('placeCall'), { method: 'POST', body: JSON.stringify(body) })).json()) as { callId: string });
  const status = async (callId: string) => (await (await fetch(lab.functions.urlOf('callStatus', { callId }))).json()) as Record<string, unknown>;
  const statusChanges = (callId: string) =>
    lab.serviceBus.messages('outbound-calls').filter((m) => typeof m.body === 'object' && m.body !== null && (m.body as { statusChange?: string; callId?: string }).callId === callId && 'statusChange' in m.body);
  const slotHolders = () => lab.serviceBus.sessionState('outbound-call-status', CONCURRENCY_SLOTS_KEY)?.toString('utf8') ?? '';

  it('a CreateCallFailed that finds the status locked is queued, applied once the lock is free, and the retry follows', async () => {
    lab.acs.outbound.script('+15550130001', [{ kind: 'busy', afterMs: 600 }, { kind: 'busy', afterMs: 10 }]);
    const { callId } = await post({ to: '+15550130001' });
    await expect.poll(async () => (await status(callId)).state, { timeout: 10_000 }).toBe('ringing');
    let held: ServiceBusSessionReceiver | undefined = await client.acceptSession('outbound-call-status', callId);
    try {
      // The callback gives up on the lock and hands the change to the queue; the trigger cannot apply it either yet.
      await expect.poll(() => statusChanges(callId).map((m) => (m.body as { statusChange: string }).statusChange), { timeout: 30_000 }).toEqual(['createCallFailed']);
      expect(slotHolders()).toContain(callId);
    } finally {
      await held.close();
      held = undefined;
    }
    // Applied: attempt 1 ended busy, attempt 2 placed and busy too; each attempt's slot given back.
    await expect.poll(async () => status(callId), { timeout: 30_000 }).toMatchObject({ state: 'failed', outcome: 'busy', attempt: 2 });
    const creates = lab.acs.requests.filter((r) => r.operation === 'createCall' && (r.body as { callbackUri: string }).callbackUri.endsWith(callId));
    expect(creates).toHaveLength(2);
    await expect.poll(slotHolders, { timeout: 5000 }).not.toContain(callId);
  }, 90_000);

  it('a status change put on the queue for a call still up changes nothing and keeps its slot', async () => {
    lab.acs.outbound.script('+15550130002', { kind: 'human', answerAfterMs: 100 });
    const { callId } = await post({ to: '+15550130002' });
    await expect.poll(async () => (await status(callId)).state, { timeout: 10_000 }).toBe('answered');
    const sender = client.createSender('outbound-calls');
    await sender.sendMessages({ body: { schemaVersion: 1, statusChange: 'disconnected', callId, operationContext: 'outbound:1' }, messageId: `forged:${callId}` });
    await sender.close();
    await expect.poll(() => lab.serviceBus.messages('outbound-calls').find((m) => m.messageId === `forged:${callId}`)?.state, { timeout: 10_000 }).toBe('completed');
    expect(await status(callId)).toMatchObject({ state: 'answered' });
    expect(slotHolders()).toContain(callId);
    // The real end is still applied from the callback.
    const callConnectionId = (await status(callId)).callConnectionId as string;
    const call = [...lab.acs.calls.values()].find((c) => c.callConnectionId === callConnectionId)!;
    await call.hangUp();
    await expect.poll(async () => status(callId), { timeout: 10_000 }).toMatchObject({ state: 'ended', outcome: 'human' });
    await expect.poll(slotHolders, { timeout: 5000 }).not.toContain(callId);
  }, 30_000);
});
