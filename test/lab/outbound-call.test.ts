import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceBusClient } from '@azure/service-bus';
import { startLab, type Lab } from '../../lab/lab.js';
import type { EmulatedCall } from '../../lab/acs/emulator.js';
import { tone } from '../../lab/acs/outbound.js';
import { OUTBOUND_REQUEST_SCHEMA_VERSION, callIdFor } from '../../shared/outbound-call.js';
import { parseCallRecord } from '../../shared/call-record.js';

/** A call's records on call-records, parsed as a consumer would. */
const recordsOf = (lab: Lab, callId: string) =>
  lab.serviceBus
    .messages('call-records')
    .map((m) => parseCallRecord(m.body))
    .flatMap((parsed) => (parsed.ok && parsed.record.callId === callId ? [parsed.record] : []));

/** The createCall requests of a call's attempts, as the ACS emulator received them. */
const createsOf = (lab: Lab, callId: string) => lab.acs.requests.filter((r) => r.operation === 'createCall' && (r.body as { callbackUri: string }).callbackUri.endsWith(callId));

/**
 * Outbound calls through the whole lab: POST /api/calls (function key) → outbound-calls queue → the queue trigger's
 * handler → createCall on the ACS emulator → the scripted callee → callbacks → call-events, the status store and,
 * once answered, media to the worker with the profile in the path.
 */
describe('outbound calls through the local lab', () => {
  let lab: Lab;
  beforeAll(async () => {
    lab = await startLab({ logLevel: 'silent', acs: { outbound: { ringTimeoutMs: 400 } } });
  }, 30_000);
  afterAll(async () => lab?.close());

  const post = (body: unknown, key = true) =>
    fetch(key ? lab.functions.urlOf('placeCall') : `${lab.functions.url}/api/calls`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const status = async (callId: string) => {
    const response = await fetch(lab.functions.urlOf('callStatus', { callId }));
    return { code: response.status, body: (await response.json()) as Record<string, any> };
  };
  const eventTypes = (callId: string) => lab.busMessages(callId).map((m) => (m.body as { type: string }).type);
  const emulatedCall = (callConnectionId: string): EmulatedCall => [...lab.acs.calls.values()].find((c) => c.callConnectionId === callConnectionId)!;
  const records = (callId: string) => recordsOf(lab, callId);

  it('places a call the callee answers: 202 with a callId, createCall with media to the worker and callbacks to our route, the agent on the line, then answered and ended', async () => {
    lab.acs.outbound.script('+15550107001', { kind: 'human', answerAfterMs: 200, hangUpAfterMs: 2500 });
    const response = await post({ to: '+15550107001', profile: undefined, context: { name: 'Ada', reason: 'appointment reminder' } });
    expect(response.status).toBe(202);
    const { callId, duplicate } = (await response.json()) as { callId: string; duplicate: boolean };
    expect(duplicate).toBe(false);
    await expect.poll(async () => (await status(callId)).body.state, { timeout: 10_000 }).toMatch(/ringing|answered|ended/);
    const create = lab.acs.requests.find((r) => r.operation === 'createCall' && (r.body as { callbackUri: string }).callbackUri.endsWith(`/api/callbacks/${callId}`))!;
    expect(create).toMatchObject({ status: 201 });
    expect((create.body as any).mediaStreamingOptions.transportUrl).toBe(`${lab.urls.worker}/ws/${callId}`);
    expect((create.body as any).sourceCallerIdNumber.value).toBe('+15550100100');
    const call = emulatedCall((await status(callId)).body.callConnectionId);
    // The worker takes the media and the agent speaks (the echo agent's greeting).
    await call.timeline.waitFor((e) => e.type === 'agent-audio', 10_000, 'agent audio');
    // The context reaches the agent as a system item of the call's Voice Live session.
    await expect
      .poll(() => lab.voiceLive!.sessions.some((session) => session.received.some((r) => r.type === 'conversation.item.create' && JSON.stringify(r.event).includes('appointment reminder'))), { timeout: 10_000 })
      .toBe(true);
    expect(await call.ended()).toBe('disconnected');
    await expect.poll(async () => (await status(callId)).body, { timeout: 10_000 }).toMatchObject({ state: 'ended', outcome: 'human', attempt: 1 });
    await expect.poll(() => eventTypes(callId), { timeout: 5000 }).toEqual(expect.arrayContaining(['call.outbound.requested', 'call.connected', 'call.outbound.answered', 'call.disconnected']));
    const requested = lab.busMessages(callId).find((m) => (m.body as { type: string }).type === 'call.outbound.requested')!.body as any;
    expect(requested.data).toMatchObject({ attempt: 1, from: '+15550100100', context: { name: 'Ada', reason: 'appointment reminder' }, to: { phoneNumber: '+15550107001' } });
    expect((await status(callId)).body.to).not.toContain('7001');
  });

  it.each([
    ['being busy', { kind: 'busy' as const, afterMs: 50 }, 'busy', 'call.outbound.busy', 486],
    ['not answering', { kind: 'noAnswer' as const }, 'no_answer', 'call.outbound.no_answer', 408],
    ['declining', { kind: 'decline' as const, afterMs: 50 }, 'failed', 'call.outbound.failed', 603],
  ])('a callee %s ends the call as its CreateCallFailed result code says (outcome %s, event %s)', async (_name, callee, outcome, type, code) => {
    const to = `+1555010${7100 + code}`;
    lab.acs.outbound.script(to, callee);
    const { callId } = (await (await post({ to })).json()) as { callId: string };
    await expect.poll(async () => (await status(callId)).body, { timeout: 10_000 }).toMatchObject({ state: 'failed', outcome, resultInformation: { code } });
    await expect.poll(() => eventTypes(callId), { timeout: 5000 }).toContain(type);
    // The worker never had the call: the Functions app writes its record, as a consumer of call-records reads it.
    await expect.poll(() => records(callId), { timeout: 5000 }).toEqual([expect.objectContaining({ outcome: expect.objectContaining({ kind: 'not_connected' }), durationMs: 0, outbound: { attempt: 1, outcome } })]);
  });

  it('answers the same idempotencyKey with the same callId and places one call', async () => {
    lab.acs.outbound.script('+15550107002', { kind: 'busy', afterMs: 10 });
    const body = { to: '+15550107002', idempotencyKey: 'reminder-42' };
    const first = (await (await post(body)).json()) as { callId: string; duplicate: boolean };
    const second = (await (await post(body)).json()) as { callId: string; duplicate: boolean };
    expect(second).toMatchObject({ callId: first.callId, duplicate: true });
    expect(first.callId).toBe(callIdFor('reminder-42'));
    await expect.poll(async () => (await status(first.callId)).body.state, { timeout: 10_000 }).toBe('failed');
    const creates = lab.acs.requests.filter((r) => r.operation === 'createCall' && (r.body as { callbackUri: string }).callbackUri.endsWith(first.callId));
    expect(creates).toHaveLength(1);
  });

  it('places the call no earlier than notBefore (a scheduled message)', async () => {
    lab.acs.outbound.script('+15550107003', { kind: 'busy', afterMs: 10 });
    const notBefore = new Date(Date.now() + 1500).toISOString();
    const { callId } = (await (await post({ to: '+15550107003', notBefore })).json()) as { callId: string };
    expect((await status(callId)).body).toMatchObject({ state: 'queued', notBefore });
    await expect.poll(async () => (await status(callId)).body.state, { timeout: 10_000 }).toBe('failed');
    const create = lab.acs.requests.find((r) => r.operation === 'createCall' && (r.body as { callbackUri: string }).callbackUri.endsWith(callId))!;
    expect(create.receivedAt.getTime()).toBeGreaterThanOrEqual(Date.parse(notBefore));
  });

  it.each([
    [{ to: '5550107001' }, 'to'],
    [{ to: '+15550107001', from: '+15550199999' }, 'from'],
    [{ to: '+15550107001', profile: '../x' }, 'profile'],
    [{ to: '+15550107001', context: { blob: 'x'.repeat(3000) } }, 'context'],
    [{ to: '+15550107001', context: 'call them' }, 'context'],
    [{ to: '+15550107001', notBefore: 'tomorrow' }, 'notBefore'],
    [{ to: '+15550107001', idempotencyKey: 'has space' }, 'idempotencyKey'],
    [{ to: '+15550107001', tO: '+1' }, 'tO'],
    [{}, 'to'],
  ])('refuses %j with 400 naming the field %s', async (body, field) => {
    const response = await post(body);
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ field, error: expect.stringContaining(field) });
  });

  it('refuses a request without the function key', async () => {
    expect((await post({ to: '+15550107001' }, false)).status).toBe(401);
  });

  it('refuses a destination outside OUTBOUND_ALLOWED_PREFIXES, through the API (403) and through the queue directly (refused, never placed)', async () => {
    const response = await post({ to: '+447700900123' });
    expect(response.status).toBe(403);
    expect(await response.json()).toMatchObject({ field: 'to' });

    // Straight onto the queue, past the API: the trigger refuses it too.
    const callId = callIdFor('direct-to-queue');
    const client = new ServiceBusClient(lab.serviceBus.connectionString);
    const sender = client.createSender('outbound-calls');
    await sender.sendMessages({
      body: { schemaVersion: OUTBOUND_REQUEST_SCHEMA_VERSION, callId, to: '+447700900123', from: '+15550100100', attempt: 1, requestedAt: new Date().toISOString() },
      messageId: `${callId}:1`,
    });
    await sender.close();
    await client.close();
    await expect.poll(async () => (await status(callId)).body, { timeout: 10_000 }).toMatchObject({ state: 'refused', reason: expect.stringContaining('OUTBOUND_ALLOWED_PREFIXES') });
    expect(lab.acs.requests.filter((r) => r.operation === 'createCall' && (r.body as { callbackUri: string }).callbackUri.endsWith(callId))).toHaveLength(0);
  });

  it('cancels a scheduled call (DELETE): nothing is placed at its time; a second DELETE answers the same, a finished call 409', async () => {
    const notBefore = new Date(Date.now() + 2000).toISOString();
    const { callId } = (await (await post({ to: '+15550107501', notBefore, idempotencyKey: 'cancel-me' })).json()) as { callId: string };
    const cancel = (id: string, key = true) => fetch(key ? lab.functions.urlOf('cancelCall', { callId: id }) : `${lab.functions.url}/api/calls/${id}`, { method: 'DELETE' });
    const cancelled = await cancel(callId);
    expect(cancelled.status).toBe(200);
    expect(await cancelled.json()).toMatchObject({ callId, state: 'cancelled', reason: expect.stringContaining('cancelled by request') });
    expect((await status(callId)).body).toMatchObject({ state: 'cancelled' });
    // The scheduled message still comes at its time; the trigger completes it and places nothing.
    await expect.poll(() => lab.serviceBus.messages('outbound-calls').find((m) => m.messageId === `${callId}:1`)?.state, { timeout: 10_000 }).toBe('completed');
    expect(createsOf(lab, callId)).toHaveLength(0);
    expect((await cancel(callId)).status).toBe(200);
    // Its idempotency key stays spent: the same request answers the cancelled call and places nothing.
    expect(await (await post({ to: '+15550107501', idempotencyKey: 'cancel-me' })).json()).toMatchObject({ callId, duplicate: true, status: { state: 'cancelled' } });

    lab.acs.outbound.script('+15550107502', { kind: 'busy', afterMs: 20 });
    const finished = (await (await post({ to: '+15550107502' })).json()) as { callId: string };
    await expect.poll(async () => (await status(finished.callId)).body.state, { timeout: 10_000 }).toBe('failed');
    const late = await cancel(finished.callId);
    expect(late.status).toBe(409);
    expect(await late.json()).toMatchObject({ status: { state: 'failed', outcome: 'busy' } });

    expect((await cancel('00000000-0000-8000-8000-000000000000')).status).toBe(404);
    expect((await cancel('not-a-call-id')).status).toBe(400);
    expect((await cancel(callId, false)).status).toBe(401);
  });

  it('answers 404 for an unknown callId and 400 for one we never issue', async () => {
    expect((await status(callIdFor('never-posted'))).code).toBe(404);
    expect((await status('not-a-call')).code).toBe(400);
  });
});

describe('outbound safety switches through the local lab', () => {
  it('with OUTBOUND_KILL_SWITCH=on refuses the request (503) and a message put on the queue directly is refused, not placed', async () => {
    const lab = await startLab({ logLevel: 'silent', greeting: false, functionsEnv: { OUTBOUND_KILL_SWITCH: 'on' } });
    try {
      const response = await fetch(lab.functions.urlOf('placeCall'), { method: 'POST', body: JSON.stringify({ to: '+15550107001' }) });
      expect(response.status).toBe(503);
      expect(await response.json()).toMatchObject({ error: expect.stringContaining('OUTBOUND_KILL_SWITCH') });
      const callId = callIdFor('kill-switch');
      const client = new ServiceBusClient(lab.serviceBus.connectionString);
      const sender = client.createSender('outbound-calls');
      await sender.sendMessages({ body: { schemaVersion: 1, callId, to: '+15550107001', from: '+15550100100', attempt: 1, requestedAt: new Date().toISOString() }, messageId: callId });
      await sender.close();
      await client.close();
      await expect
        .poll(async () => (await (await fetch(lab.functions.urlOf('callStatus', { callId }))).json()) as Record<string, unknown>, { timeout: 10_000 })
        .toMatchObject({ state: 'refused' });
      expect(lab.acs.requests.filter((r) => r.operation === 'createCall')).toHaveLength(0);
    } finally {
      await lab.close();
    }
  }, 30_000);

  it('with OUTBOUND_ALLOWED_PREFIXES empty refuses every destination', async () => {
    const lab = await startLab({ logLevel: 'silent', greeting: false, functionsEnv: { OUTBOUND_ALLOWED_PREFIXES: '' } });
    try {
      const response = await fetch(lab.functions.urlOf('placeCall'), { method: 'POST', body: JSON.stringify({ to: '+15550107001' }) });
      expect(response.status).toBe(403);
      expect(await response.json()).toMatchObject({ error: expect.stringContaining('OUTBOUND_ALLOWED_PREFIXES is empty') });
    } finally {
      await lab.close();
    }
  }, 30_000);
});

describe('outbound retries through the local lab', () => {
  let lab: Lab;
  beforeAll(async () => {
    lab = await startLab({
      logLevel: 'silent',
      greeting: false,
      acs: { outbound: { ringTimeoutMs: 300 } },
      functionsEnv: { OUTBOUND_MAX_ATTEMPTS: '3', OUTBOUND_RETRY_DELAY_MS: '300', OUTBOUND_MAX_CALLS_PER_DESTINATION_PER_DAY: '10' },
    });
  }, 30_000);
  afterAll(async () => lab?.close());

  const post = async (body: unknown) => ((await (await fetch(lab.functions.urlOf('placeCall'), { method: 'POST', body: JSON.stringify(body) })).json()) as { callId: string });
  const status = async (callId: string) => (await (await fetch(lab.functions.urlOf('callStatus', { callId }))).json()) as Record<string, unknown>;
  const events = (callId: string) => lab.busMessages(callId).map((m) => m.body as { type: string; data: { attempt?: number } });
  const creates = (callId: string) => createsOf(lab, callId);

  it('retries after busy and no answer, spaced by OUTBOUND_RETRY_DELAY_MS, and ends answered on the third attempt; each attempt has its events', async () => {
    lab.acs.outbound.script('+15550108001', [{ kind: 'busy', afterMs: 10 }, { kind: 'noAnswer' }, { kind: 'human', answerAfterMs: 50, hangUpAfterMs: 500 }]);
    const { callId } = await post({ to: '+15550108001' });
    await expect.poll(() => status(callId), { timeout: 15_000 }).toMatchObject({ state: 'ended', outcome: 'human', attempt: 3 });
    expect(creates(callId).map((r) => (r.body as { operationContext: string }).operationContext)).toEqual(['outbound:1', 'outbound:2', 'outbound:3']);
    const [first, second] = creates(callId);
    expect(second!.receivedAt.getTime() - first!.receivedAt.getTime()).toBeGreaterThanOrEqual(300);
    await expect
      .poll(() => events(callId).filter((e) => e.type.startsWith('call.outbound.')).map((e) => `${e.type}#${e.data.attempt}`), { timeout: 5000 })
      .toEqual([
        'call.outbound.requested#1',
        'call.outbound.busy#1',
        'call.outbound.requested#2',
        'call.outbound.no_answer#2',
        'call.outbound.requested#3',
        'call.outbound.answered#3',
      ]);
    // One record, the worker's: the attempt that was answered; the failed ones before it are in the events only.
    await expect.poll(() => recordsOf(lab, callId), { timeout: 10_000 }).toEqual([expect.objectContaining({ outcome: expect.objectContaining({ kind: 'caller_hung_up' }), outbound: expect.objectContaining({ attempt: 3, outcome: 'human' }) })]);
  });

  it('stops after OUTBOUND_MAX_ATTEMPTS with the last outcome', async () => {
    lab.acs.outbound.script('+15550108002', { kind: 'busy', afterMs: 10 });
    const { callId } = await post({ to: '+15550108002' });
    // Each busy answer comes while the trigger still holds the status lock: its change goes through the queue.
    await expect.poll(() => status(callId), { timeout: 40_000 }).toMatchObject({ state: 'failed', outcome: 'busy', attempt: 3 });
    await new Promise((resolve) => setTimeout(resolve, 800));
    expect(creates(callId)).toHaveLength(3);
    expect(await status(callId)).not.toHaveProperty('request');
    // One record, for the call: the last attempt's outcome.
    await expect.poll(() => recordsOf(lab, callId), { timeout: 5000 }).toEqual([expect.objectContaining({ outcome: { kind: 'not_connected', reason: 'busy on attempt 3, the last (ACS result 486)' }, outbound: { attempt: 3, outcome: 'busy' } })]);
  }, 60_000);
});

describe('cancelling a call waiting to retry', () => {
  it('places no further attempt, and the call record says it was cancelled after the busy attempt', async () => {
    const lab = await startLab({ logLevel: 'silent', greeting: false, functionsEnv: { OUTBOUND_MAX_ATTEMPTS: '3', OUTBOUND_RETRY_DELAY_MS: '2500' } });
    try {
      lab.acs.outbound.script('+15550107601', { kind: 'busy', afterMs: 20 });
      const { callId } = (await (await fetch(lab.functions.urlOf('placeCall'), { method: 'POST', body: JSON.stringify({ to: '+15550107601' }) })).json()) as { callId: string };
      const status = async () => (await (await fetch(lab.functions.urlOf('callStatus', { callId }))).json()) as Record<string, unknown>;
      await expect.poll(status, { timeout: 10_000 }).toMatchObject({ state: 'queued', attempt: 2, outcome: 'busy', retryAt: expect.any(String) });
      const response = await fetch(lab.functions.urlOf('cancelCall', { callId }), { method: 'DELETE' });
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ state: 'cancelled', attempt: 2, outcome: 'busy' });
      // The retry's scheduled message comes and is completed without a second createCall.
      await expect.poll(() => lab.serviceBus.messages('outbound-calls').find((m) => m.messageId === `${callId}:2`)?.state, { timeout: 10_000 }).toBe('completed');
      expect(createsOf(lab, callId)).toHaveLength(1);
      expect(recordsOf(lab, callId)).toEqual([
        expect.objectContaining({ outcome: { kind: 'not_connected', reason: 'cancelled while waiting to retry; attempt 1: busy (ACS result 486)' }, outbound: { attempt: 1, outcome: 'busy' } }),
      ]);
    } finally {
      await lab.close();
    }
  }, 40_000);
});

describe('outbound caps through the local lab', () => {
  it('refuses, at placing time, a second call to the same number beyond OUTBOUND_MAX_CALLS_PER_DESTINATION_PER_DAY (even under another idempotencyKey) and any call beyond OUTBOUND_MAX_CALLS_PER_DAY', async () => {
    const lab = await startLab({
      logLevel: 'silent',
      greeting: false,
      functionsEnv: { OUTBOUND_MAX_CALLS_PER_DESTINATION_PER_DAY: '1', OUTBOUND_MAX_CALLS_PER_DAY: '2' },
    });
    try {
      const post = async (body: unknown) => ((await (await fetch(lab.functions.urlOf('placeCall'), { method: 'POST', body: JSON.stringify(body) })).json()) as { callId: string });
      const status = async (callId: string) => (await (await fetch(lab.functions.urlOf('callStatus', { callId }))).json()) as Record<string, unknown>;
      const settled = (callId: string) => expect.poll(async () => (await status(callId)).state, { timeout: 10_000 }).toMatch(/failed|refused/);
      for (const number of ['+15550109001', '+15550109002', '+15550109003']) lab.acs.outbound.script(number, { kind: 'busy', afterMs: 10 });

      const first = await post({ to: '+15550109001', idempotencyKey: 'cap-a' });
      await settled(first.callId);
      const again = await post({ to: '+15550109001', idempotencyKey: 'cap-b' });
      await settled(again.callId);
      expect(await status(again.callId)).toMatchObject({ state: 'refused', reason: expect.stringContaining('OUTBOUND_MAX_CALLS_PER_DESTINATION_PER_DAY') });

      const other = await post({ to: '+15550109002' });
      await settled(other.callId);
      expect(await status(other.callId)).toMatchObject({ state: 'failed', outcome: 'busy' });
      const overDay = await post({ to: '+15550109003' });
      await settled(overDay.callId);
      expect(await status(overDay.callId)).toMatchObject({ state: 'refused', reason: expect.stringContaining('OUTBOUND_MAX_CALLS_PER_DAY') });
      expect(lab.acs.requests.filter((r) => r.operation === 'createCall')).toHaveLength(2);
    } finally {
      await lab.close();
    }
  }, 40_000);
});

describe('npm run calls: a CSV campaign through the local lab', () => {
  it('validates the file, sends nothing on a dry run or a bad row, then queues one call per row through the API, and a second run places nothing again', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const { execFile } = await import('node:child_process');
    const lab = await startLab({ logLevel: 'silent', greeting: false });
    try {
      const dir = mkdtempSync(join(tmpdir(), 'campaign-'));
      const good = join(dir, 'people.csv');
      writeFileSync(good, 'to,name\n+15550109101,Ada\n+15550109102,Grace\n');
      const bad = join(dir, 'bad.csv');
      writeFileSync(bad, 'to,name\n+15550109101,Ada\n555,Bob\n');
      const key = new URL(lab.functions.urlOf('placeCall')).searchParams.get('code')!;
      // Asynchronous: the lab answers the CLI's requests from this process's event loop.
      const run = (...args: string[]) =>
        new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
          execFile(process.execPath, ['--import', 'tsx', 'scripts/calls.ts', ...args, '--url', lab.functions.url, `--key=${key}`], { encoding: 'utf8', cwd: join(__dirname, '..', '..'), timeout: 30_000 }, (error, stdout, stderr) =>
            resolve({ status: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr }),
          );
        });
      for (const number of ['+15550109101', '+15550109102']) lab.acs.outbound.script(number, { kind: 'busy', afterMs: 10 });

      const refused = await run('--csv', bad);
      expect(refused.status).toBe(2);
      expect(refused.stderr).toContain('row 3: to:');
      const dry = await run('--csv', good, '--profile', 'reminders', '--dry-run');
      expect(dry.status).toBe(0);
      expect(dry.stdout).toContain('2 call(s)');
      expect(dry.stdout).not.toContain('+15550109101');
      expect(lab.acs.requests.filter((r) => r.operation === 'createCall')).toHaveLength(0);

      const sent = await run('--csv', good);
      expect(sent.status).toBe(0);
      expect(sent.stdout).toContain('2 queued, 0 refused');
      await expect.poll(() => lab.acs.requests.filter((r) => r.operation === 'createCall').length, { timeout: 10_000 }).toBe(2);
      const again = await run('--csv', good);
      expect(again.stdout).toContain('already requested');
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(lab.acs.requests.filter((r) => r.operation === 'createCall')).toHaveLength(2);
      const requested = lab.serviceBus.messages('call-events').map((m) => m.body as { type: string; data: { context?: { name?: string } } }).filter((b) => b.type === 'call.outbound.requested');
      expect(requested.map((b) => b.data.context?.name).sort()).toEqual(['Ada', 'Grace']);

      // --report reads each row's call back (the callId its idempotencyKey names) and counts the outcomes; it sends nothing.
      const grown = join(dir, 'grown.csv');
      writeFileSync(grown, 'to,name\n+15550109101,Ada\n+15550109102,Grace\n+15550109103,Linus\n');
      await expect.poll(async () => (await run('--csv', good, '--report')).stdout, { timeout: 15_000 }).toContain('calls: report: 2 failed busy\n');
      const report = await run('--csv', grown, '--campaign', 'people', '--report');
      expect(report.status).toBe(0);
      expect(report.stdout).toContain('calls: report: 2 failed busy, 1 not requested');
      expect(report.stdout).toMatch(/row 2: \+15\*+01 failed busy, attempt 1 callId [0-9a-f-]{36}\n/);
      expect(report.stdout).not.toContain('+15550109101');
      expect(lab.acs.requests.filter((r) => r.operation === 'createCall')).toHaveLength(2);

      // --cancel cancels the rows' calls still queued (scheduled here) and leaves finished ones as they ended.
      const later = join(dir, 'later.csv');
      const at = new Date(Date.now() + 60_000).toISOString();
      writeFileSync(later, `to,notBefore,name\n+15550109104,${at},Ada\n+15550109105,${at},Grace\n`);
      expect((await run('--csv', later)).stdout).toContain('2 queued, 0 refused');
      const cancelled = await run('--csv', later, '--cancel');
      expect(cancelled.status).toBe(0);
      expect(cancelled.stdout).toContain('calls: cancel: 2 cancelled\n');
      expect((await run('--csv', later, '--report')).stdout).toContain('calls: report: 2 cancelled\n');
      expect((await run('--csv', good, '--cancel')).stdout).toContain('calls: cancel: 2 too late (failed)\n');
      expect((await run('--csv', good, '--report', '--cancel')).status).toBe(2);
    } finally {
      await lab.close();
    }
  }, 60_000);
});
