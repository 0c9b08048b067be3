import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceBusClient } from '@azure/service-bus';
import { startLab, type Lab } from '../../lab/lab.js';
import { OUTBOUND_REQUEST_SCHEMA_VERSION, callIdFor } from '../../shared/outbound-call.js';

/**
 * Outbound safety limits through the whole lab (real SDK clients against the emulators): calling hours in the
 * callee's time zone, at the API and at the queue trigger; OUTBOUND_MAX_CONCURRENT across the app's slots.
 */
const creates = (lab: Lab, callId: string) => lab.acs.requests.filter((r) => r.operation === 'createCall' && (r.body as { callbackUri: string }).callbackUri.endsWith(callId));

describe('calling hours through the local lab', () => {
  let lab: Lab;
  // The Functions handlers' clock runs at real speed from a chosen instant.
  let offsetMs = 0;
  const setNow = (iso: string) => {
    offsetMs = Date.parse(iso) - Date.now();
  };
  beforeAll(async () => {
    lab = await startLab({
      logLevel: 'silent',
      greeting: false,
      functionsClock: { now: () => new Date(Date.now() + offsetMs) },
      functionsEnv: { OUTBOUND_CALLING_HOURS: '09:00-20:00', OUTBOUND_ALLOWED_PREFIXES: '+1555,+1212,+1800,8:acs:' },
    });
  }, 30_000);
  afterAll(async () => lab?.close());

  const post = (body: unknown) => fetch(lab.functions.urlOf('placeCall'), { method: 'POST', body: JSON.stringify(body) });
  const status = async (callId: string) => (await (await fetch(lab.functions.urlOf('callStatus', { callId }))).json()) as Record<string, unknown>;

  it('accepts a request before 09:00 in New York, keeps it queued with the time it waits for, and places it at 09:00 New York time', async () => {
    lab.acs.outbound.script('+12125550123', { kind: 'busy', afterMs: 10 });
    // 08:59:57 in New York (EST).
    setNow('2026-12-07T13:59:57Z');
    const opensAtRealMs = Date.parse('2026-12-07T14:00:00Z') - offsetMs;
    const response = await post({ to: '+12125550123' });
    expect(response.status).toBe(202);
    const { callId } = (await response.json()) as { callId: string };
    expect(await status(callId)).toMatchObject({
      state: 'queued',
      deferredUntil: '2026-12-07T14:00:00.000Z',
      deferredBecause: expect.stringMatching(/OUTBOUND_CALLING_HOURS \(09:00-20:00\).*America\/New_York/),
    });
    expect(creates(lab, callId)).toHaveLength(0);
    await expect.poll(async () => (await status(callId)).state, { timeout: 30_000 }).toBe('failed');
    expect(creates(lab, callId)).toHaveLength(1);
    expect(creates(lab, callId)[0]!.receivedAt.getTime()).toBeGreaterThanOrEqual(opensAtRealMs);
  }, 60_000);

  it('defers a message put on the queue directly, past the API, at 08:59:58 in New York (the trigger checks the hours itself), then places it at 09:00', async () => {
    lab.acs.outbound.script('+12125550124', { kind: 'busy', afterMs: 10 });
    setNow('2026-12-07T13:59:58Z');
    const opensAtRealMs = Date.parse('2026-12-07T14:00:00Z') - offsetMs;
    const callId = callIdFor('calling-hours-direct');
    const client = new ServiceBusClient(lab.serviceBus.connectionString);
    const sender = client.createSender('outbound-calls');
    await sender.sendMessages({
      body: { schemaVersion: OUTBOUND_REQUEST_SCHEMA_VERSION, callId, to: '+12125550124', from: '+15550100100', attempt: 1, requestedAt: new Date().toISOString() },
      messageId: `${callId}:1`,
    });
    await sender.close();
    await client.close();
    await expect.poll(() => status(callId), { timeout: 5000 }).toMatchObject({ state: 'queued', deferredUntil: '2026-12-07T14:00:00.000Z' });
    await expect.poll(async () => (await status(callId)).state, { timeout: 30_000 }).toBe('failed');
    expect(creates(lab, callId)).toHaveLength(1);
    expect(creates(lab, callId)[0]!.receivedAt.getTime()).toBeGreaterThanOrEqual(opensAtRealMs);
  }, 60_000);

  it('places at once inside the hours, and refuses (403) a toll-free number in July, when no hour is inside 09:00-20:00 in every North American zone', async () => {
    lab.acs.outbound.script('+12125550125', { kind: 'busy', afterMs: 10 });
    setNow('2026-12-07T15:00:00Z');
    const { callId } = (await (await post({ to: '+12125550125' })).json()) as { callId: string };
    await expect.poll(async () => (await status(callId)).state, { timeout: 30_000 }).toBe('failed');
    expect(await status(callId)).not.toHaveProperty('deferredUntil');

    setNow('2026-07-07T15:00:00Z');
    const refused = await post({ to: '+18005550100' });
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ field: 'to', error: expect.stringContaining('every time zone the number may be in') });
  }, 60_000);
});

describe('OUTBOUND_MAX_CONCURRENT through the local lab', () => {
  const post = async (lab: Lab, body: unknown) => ((await (await fetch(lab.functions.urlOf('placeCall'), { method: 'POST', body: JSON.stringify(body) })).json()) as { callId: string });
  const status = async (lab: Lab, callId: string) => (await (await fetch(lab.functions.urlOf('callStatus', { callId }))).json()) as Record<string, unknown>;
  /** When the emulator ended the call that createCall of `callId` made (real time). */
  const endOf = async (lab: Lab, callId: string) => {
    const callOf = () => [...lab.acs.calls.values()].find((c) => c.callbackUri?.endsWith(`/${callId}`));
    await expect.poll(callOf, { timeout: 10_000 }).toBeDefined();
    await callOf()!.ended();
    return Date.now();
  };

  it('with OUTBOUND_MAX_CONCURRENT=2, a third request waits (queued, saying why) until one of the two calls ends, then is placed', async () => {
    const lab = await startLab({ logLevel: 'silent', greeting: false, functionsEnv: { OUTBOUND_MAX_CONCURRENT: '2', OUTBOUND_CONCURRENCY_WAIT_MS: '500' } });
    try {
      for (const [number, hangUpAfterMs] of [['+15550110001', 5000], ['+15550110002', 7000], ['+15550110003', 500]] as const) {
        lab.acs.outbound.script(number, { kind: 'human', answerAfterMs: 100, hangUpAfterMs });
      }
      const first = await post(lab, { to: '+15550110001' });
      const second = await post(lab, { to: '+15550110002' });
      await expect.poll(() => creates(lab, first.callId).length + creates(lab, second.callId).length, { timeout: 10_000 }).toBe(2);
      const firstEnded = endOf(lab, first.callId);
      const third = await post(lab, { to: '+15550110003' });
      await expect.poll(() => status(lab, third.callId), { timeout: 10_000 }).toMatchObject({ state: 'queued', deferredBecause: expect.stringContaining('OUTBOUND_MAX_CONCURRENT (2)') });
      expect(creates(lab, third.callId)).toHaveLength(0);
      const firstEndedAt = await firstEnded;
      await expect.poll(() => creates(lab, third.callId).length, { timeout: 30_000 }).toBe(1);
      expect(creates(lab, third.callId)[0]!.receivedAt.getTime()).toBeGreaterThanOrEqual(firstEndedAt - 50);
      await expect.poll(() => status(lab, third.callId), { timeout: 30_000 }).toMatchObject({ state: 'ended', outcome: 'human' });
      expect(await status(lab, third.callId)).not.toHaveProperty('deferredUntil');
    } finally {
      await lab.close();
    }
  }, 60_000);

  it('a slot whose release never came lapses after OUTBOUND_CONCURRENCY_SLOT_MAX_MS: the next call is placed while the first is still up', async () => {
    const lab = await startLab({ logLevel: 'silent', greeting: false, functionsEnv: { OUTBOUND_MAX_CONCURRENT: '1', OUTBOUND_CONCURRENCY_WAIT_MS: '500', OUTBOUND_CONCURRENCY_SLOT_MAX_MS: '3000' } });
    try {
      // The first callee stays on the line far longer than the slot's bound: to the store, its release is lost.
      lab.acs.outbound.script('+15550110011', { kind: 'human', answerAfterMs: 100, hangUpAfterMs: 15_000 });
      lab.acs.outbound.script('+15550110012', { kind: 'busy', afterMs: 10 });
      // The slot is taken (and its lapse counted from) before createCall goes out, so the bound is from the request.
      const firstRequestedAt = Date.now();
      const first = await post(lab, { to: '+15550110011' });
      await expect.poll(() => creates(lab, first.callId).length, { timeout: 10_000 }).toBe(1);
      const firstEnded = endOf(lab, first.callId);
      let firstEndedAt: number | undefined;
      void firstEnded.then((at) => (firstEndedAt = at));
      const second = await post(lab, { to: '+15550110012' });
      await expect.poll(() => status(lab, second.callId), { timeout: 10_000 }).toMatchObject({ state: 'queued', deferredBecause: expect.stringContaining('OUTBOUND_MAX_CONCURRENT (1)') });
      await expect.poll(() => creates(lab, second.callId).length, { timeout: 10_000 }).toBe(1);
      const secondPlacedAt = creates(lab, second.callId)[0]!.receivedAt.getTime();
      expect(secondPlacedAt - firstRequestedAt).toBeGreaterThanOrEqual(3000);
      expect(firstEndedAt).toBeUndefined();
      expect((await status(lab, first.callId)).state).toBe('answered');
      await firstEnded;
    } finally {
      await lab.close();
    }
  }, 60_000);
});

describe('cleanup of statuses and cap counters through the local lab', () => {
  it('schedules a cleanup with each new status and day counter; the trigger clears a status past OUTBOUND_STATUS_RETENTION_DAYS and a counter of a past day, and nothing before its time', async () => {
    let offsetMs = 0;
    const lab = await startLab({
      logLevel: 'silent',
      greeting: false,
      functionsClock: { now: () => new Date(Date.now() + offsetMs) },
      functionsEnv: { OUTBOUND_STATUS_RETENTION_DAYS: '2', OUTBOUND_MAX_CALLS_PER_DAY: '1' },
    });
    const client = new ServiceBusClient(lab.serviceBus.connectionString);
    try {
      const post = async (body: unknown) => ((await (await fetch(lab.functions.urlOf('placeCall'), { method: 'POST', body: JSON.stringify(body) })).json()) as { callId: string });
      const status = async (callId: string) => {
        const response = await fetch(lab.functions.urlOf('callStatus', { callId }));
        return { code: response.status, body: (await response.json()) as Record<string, unknown> };
      };
      const sessionState = async (session: string) => {
        const receiver = await client.acceptSession('outbound-call-status', session);
        try {
          const raw: unknown = await receiver.getSessionState();
          return raw === null || raw === undefined || (Buffer.isBuffer(raw) && raw.length === 0) ? undefined : Buffer.from(raw as Buffer).toString('utf8');
        } finally {
          await receiver.close();
        }
      };
      const cleanups = () => lab.serviceBus.messages('outbound-calls').filter((m) => typeof m.body === 'object' && m.body !== null && 'cleanup' in m.body);
      const sendCleanup = async (cleanup: 'status' | 'counter', session: string) => {
        const sender = client.createSender('outbound-calls');
        await sender.sendMessages({ body: { schemaVersion: 1, cleanup, session }, messageId: `test-cleanup:${session}:${Date.now()}` });
        await sender.close();
      };
      lab.acs.outbound.script('+15550110021', { kind: 'busy', afterMs: 10 });
      lab.acs.outbound.script('+15550110022', { kind: 'busy', afterMs: 10 });
      const day = new Date().toISOString().slice(0, 10);

      const { callId } = await post({ to: '+15550110021' });
      await expect.poll(async () => (await status(callId)).body.state, { timeout: 10_000 }).toBe('failed');
      // Scheduled when written: the status 2 days on, the day's counter at the start of the next UTC day.
      const scheduled = cleanups().map((m) => m.messageId!);
      const statusCleanup = scheduled.find((id) => id.startsWith(`cleanup:${callId}:`))!;
      expect(Number(statusCleanup.split(':').pop()) - Date.now()).toBeGreaterThan(2 * 86_400_000 - 60_000);
      expect(scheduled).toContain(`cleanup:cap-day:${day}:${Date.parse(`${day}T00:00:00Z`) + 86_400_000}`);
      expect(scheduled.some((id) => id.startsWith(`cleanup:cap-destination:${day}:`))).toBe(true);

      // Before its time (sent early, or by someone with Send rights), a cleanup changes nothing: the cap still holds.
      await sendCleanup('status', callId);
      await sendCleanup('counter', `cap-day:${day}`);
      await expect.poll(() => cleanups().filter((m) => m.state === 'completed').length, { timeout: 10_000 }).toBeGreaterThanOrEqual(2);
      expect((await status(callId)).code).toBe(200);
      expect(await sessionState(`cap-day:${day}`)).toBe('{"count":1}');
      const capped = await post({ to: '+15550110022' });
      await expect.poll(async () => (await status(capped.callId)).body, { timeout: 10_000 }).toMatchObject({ state: 'refused', reason: expect.stringContaining('OUTBOUND_MAX_CALLS_PER_DAY') });

      // Three days on, the same messages clear both.
      offsetMs = 3 * 86_400_000;
      await sendCleanup('status', callId);
      await sendCleanup('counter', `cap-day:${day}`);
      await expect.poll(async () => (await status(callId)).code, { timeout: 10_000 }).toBe(404);
      await expect.poll(() => sessionState(`cap-day:${day}`), { timeout: 10_000 }).toBeUndefined();
      // A session id that is neither a callId nor a counter is left alone.
      await sendCleanup('counter', 'concurrency');
      await expect.poll(() => cleanups().filter((m) => m.state === 'completed').length, { timeout: 10_000 }).toBeGreaterThanOrEqual(5);
    } finally {
      await client.close();
      await lab.close();
    }
  }, 60_000);
});
