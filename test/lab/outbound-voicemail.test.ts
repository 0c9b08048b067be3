import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLab, type Lab } from '../../lab/lab.js';
import type { EmulatedCall } from '../../lab/acs/emulator.js';
import { tone } from '../../lab/acs/outbound.js';
import { concat, silence } from '../../lab/audio/signal.js';
import type { CallRecord } from '../../shared/call-record.js';

const LISTEN_FIRST_MS = 1500;
const QUIET_MS = 1000;
const MESSAGE = 'Hello {name}, this is the clinic calling about your appointment. Please call us back.';

/**
 * A mailbox greeting in two parts with a pause between them (longer than the echo agent's end-of-turn silence, shorter
 * than the worker's quiet time): "You have reached Ada." … "Please leave a message after the tone." The beep follows.
 */
const greeting = (rateHz: number) => concat([tone(rateHz, 330, 3500), silence(700, rateHz), tone(rateHz, 380, 1200)]);

/**
 * Outbound calls on the worker through the whole lab: the agent listens first, the model (the echo agent's stand-in
 * rule) reports a voicemail, the message is left after the beep, and the outcome reaches the call record and
 * GET /api/calls/{callId}.
 */
describe('outbound calls: listening first and voicemail, through the local lab', () => {
  let lab: Lab;
  beforeAll(async () => {
    lab = await startLab({
      logLevel: 'silent',
      workerEnv: {
        OUTBOUND_LISTEN_FIRST_SILENCE_MS: String(LISTEN_FIRST_MS),
        OUTBOUND_VOICEMAIL_QUIET_MS: String(QUIET_MS),
        OUTBOUND_VOICEMAIL_MESSAGE: MESSAGE,
        AGENT_PROFILES: JSON.stringify({ quiet: { voicemailMessage: 'none' } }),
      },
    });
  }, 30_000);
  afterAll(async () => lab?.close());

  const place = async (body: Record<string, unknown>) => {
    const response = await fetch(lab.functions.urlOf('placeCall'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(response.status).toBe(202);
    return ((await response.json()) as { callId: string }).callId;
  };
  const status = async (callId: string) => (await (await fetch(lab.functions.urlOf('callStatus', { callId }))).json()) as Record<string, unknown>;
  const callOf = async (callId: string): Promise<EmulatedCall> => {
    await expect.poll(async () => (await status(callId)).callConnectionId, { timeout: 10_000 }).toBeTruthy();
    const connectionId = (await status(callId)).callConnectionId;
    return [...lab.acs.calls.values()].find((c) => c.callConnectionId === connectionId)!;
  };
  const recordOf = async (callId: string): Promise<CallRecord> => {
    const find = () => lab.serviceBus.messages('call-records').find((m) => (m.body as { callId?: string }).callId === callId);
    await expect.poll(() => find() !== undefined, { timeout: 15_000 }).toBe(true);
    return find()!.body as CallRecord;
  };
  const at = (call: EmulatedCall, type: string) => call.timeline.entries.find((e) => e.type === type)?.atMs;
  /** A sample of the worker's /metrics (Prometheus text), 0 when absent. */
  const metric = async (line: string) => {
    const text = await (await fetch(`${lab.urls.worker.replace(/^ws/, 'http')}/metrics`)).text();
    const found = text.split('\n').find((l) => l.startsWith(`${line} `));
    return found ? Number(found.slice(line.length + 1)) : 0;
  };
  const HUMAN_ANSWERS = 'worker_outbound_answers_total{outcome="human",voicemail_message="n/a"}';
  const VOICEMAILS_LEFT = 'worker_outbound_answers_total{outcome="voicemail",voicemail_message="left"}';
  /** The Voice Live session of the call to `number` (its outbound system item names the callee). */
  const sessionFor = (number: string) => lab.voiceLive!.sessions.find((s) => s.received.some((r) => r.type === 'conversation.item.create' && JSON.stringify(r.event).includes(number)));

  it('a person answers and speaks: the agent says nothing before them, then answers; outcome human on the record and the status', async () => {
    lab.acs.outbound.script('+15550108001', { kind: 'human', answerAfterMs: 100, hangUpAfterMs: 4000 });
    const humansBefore = await metric(HUMAN_ANSWERS);
    const callId = await place({ to: '+15550108001', context: { name: 'Ada' } });
    const call = await callOf(callId);
    const spoke = await call.timeline.waitFor((e) => e.type === 'speaks', 10_000, 'callee speaks');
    const agent = await call.timeline.waitFor((e) => e.type === 'agent-audio', 10_000, 'agent audio');
    // The callee's "Hello?" (300 ms of silence, then 600 ms of tone) came first; the agent answered it.
    expect(agent.atMs).toBeGreaterThan(spoke.atMs + 900);
    // No greeting of any kind was asked for: the first response came after the callee's turn.
    const record = await recordOf(callId);
    expect(record.outbound).toMatchObject({ attempt: 1, outcome: 'human', firstWords: 'callee' });
    expect(record.outbound?.recognisedMs).toBeUndefined();
    expect(record.tools.map((t) => t.name)).not.toContain('report_voicemail');
    await expect.poll(() => status(callId), { timeout: 10_000 }).toMatchObject({ state: 'ended', outcome: 'human' });
    expect(await metric(HUMAN_ANSWERS)).toBe(humansBefore + 1);
  });

  it('a callee who says nothing: the agent speaks first once OUTBOUND_LISTEN_FIRST_SILENCE_MS has passed, not before', async () => {
    lab.acs.outbound.script('+15550108002', { kind: 'human', answerAfterMs: 100, speech: () => new Int16Array(0), hangUpAfterMs: LISTEN_FIRST_MS + 3000 });
    const callId = await place({ to: '+15550108002' });
    const call = await callOf(callId);
    const media = await call.timeline.waitFor((e) => e.source === 'media' && e.type === 'connected', 10_000, 'media connected');
    const agent = await call.timeline.waitFor((e) => e.type === 'agent-audio', 10_000, 'agent audio');
    expect(agent.atMs - media.atMs).toBeGreaterThanOrEqual(LISTEN_FIRST_MS);
    const record = await recordOf(callId);
    expect(record.outbound).toMatchObject({ outcome: 'human', firstWords: 'agent_after_silence' });
  });

  it('a voicemail: the model reports it, the agent stays silent through the greeting and beep, leaves the message, hangs up; outcome voicemail on the record and the status', async () => {
    lab.acs.outbound.script('+15550108003', { kind: 'voicemail', answerAfterMs: 100, greeting, beepMs: 400, recordForMs: 20_000 });
    const [leftBefore, recognisedBefore] = [await metric(VOICEMAILS_LEFT), await metric('worker_voicemail_recognition_seconds_count')];
    const callId = await place({ to: '+15550108003', context: { name: 'Ada' } });
    const call = await callOf(callId);
    await call.timeline.waitFor((e) => e.type === 'voicemail-beep', 15_000, 'beep');
    const agent = await call.timeline.waitFor((e) => e.type === 'agent-audio', 15_000, 'agent audio');
    // Nothing of the agent before the beep had ended (the echo agent would have played the greeting's second part back).
    expect(agent.atMs).toBeGreaterThanOrEqual(at(call, 'voicemail-beep')! + 400);
    expect(call.timeline.entries.filter((e) => e.type === 'agent-audio')).toHaveLength(1);
    // The worker hung up (the mailbox would have recorded for 20 s more).
    expect(await call.ended()).toBe('disconnected');
    const record = await recordOf(callId);
    expect(record.outcome.kind).toBe('completed');
    expect(record.outbound).toMatchObject({ outcome: 'voicemail', voicemailMessage: 'left', attempt: 1 });
    const { recognisedMs, messageStartedMs, hungUpMs } = record.outbound!;
    expect(recognisedMs).toBeGreaterThan(3500);
    expect(messageStartedMs).toBeGreaterThanOrEqual(recognisedMs! + QUIET_MS);
    expect(hungUpMs).toBeGreaterThan(messageStartedMs!);
    expect(record.tools).toEqual([expect.objectContaining({ name: 'report_voicemail', status: 'ok' })]);
    // Said word for word, with the context's name in it.
    expect(record.transcript?.filter((e) => e.role === 'agent').map((e) => e.text)).toEqual([MESSAGE.replace('{name}', 'Ada')]);
    await expect.poll(() => status(callId), { timeout: 10_000 }).toMatchObject({ state: 'ended', outcome: 'voicemail' });
    // The model was offered the tool, and the server's own answer to the greeting's second part was cancelled.
    const session = sessionFor('+15550108003')!;
    expect((session.session.tools as { name: string }[]).map((t) => t.name)).toContain('report_voicemail');
    expect(session.received.some((r) => r.type === 'response.cancel')).toBe(true);
    // Counted once, where the record was made.
    expect(await metric(VOICEMAILS_LEFT)).toBe(leftBefore + 1);
    expect(await metric('worker_voicemail_recognition_seconds_count')).toBe(recognisedBefore + 1);
  });

  it('a greeting that goes on after a long pause cuts the message: the worker waits for quiet again and says it once more, in full', async () => {
    // A pause longer than OUTBOUND_VOICEMAIL_QUIET_MS: the message starts in it, and the greeting's second part cuts it.
    const pausing = (rateHz: number) => concat([tone(rateHz, 330, 3500), silence(1800, rateHz), tone(rateHz, 380, 1200)]);
    lab.acs.outbound.script('+15550108005', { kind: 'voicemail', answerAfterMs: 100, greeting: pausing, beepMs: 400, recordForMs: 20_000 });
    const callId = await place({ to: '+15550108005', context: { name: 'Ada' } });
    const call = await callOf(callId);
    expect(await call.ended()).toBe('disconnected');
    const record = await recordOf(callId);
    expect(record.outbound).toMatchObject({ outcome: 'voicemail', voicemailMessage: 'left' });
    const agent = record.transcript!.filter((e) => e.role === 'agent');
    expect(agent).toHaveLength(2);
    expect(agent[0]).toMatchObject({ interrupted: true });
    expect(agent[1]).toMatchObject({ text: MESSAGE.replace('{name}', 'Ada') });
    expect(agent[1]).not.toHaveProperty('interrupted');
    // The full message began only after the beep; the record times the message that was left.
    const audio = call.timeline.entries.filter((e) => e.type === 'agent-audio');
    expect(audio.at(-1)!.atMs).toBeGreaterThanOrEqual(at(call, 'voicemail-beep')! + 400);
    expect(record.outbound!.messageStartedMs).toBeGreaterThan(3500 + 1800 + 1200 + 400);
  });

  it('a voicemail on a profile without a message: hangs up after the greeting without a word', async () => {
    lab.acs.outbound.script('+15550108004', { kind: 'voicemail', answerAfterMs: 100, greeting, beepMs: 400, recordForMs: 20_000 });
    const callId = await place({ to: '+15550108004', profile: 'quiet' });
    const call = await callOf(callId);
    expect(await call.ended()).toBe('disconnected');
    expect(call.timeline.entries.some((e) => e.type === 'agent-audio')).toBe(false);
    const record = await recordOf(callId);
    expect(record).toMatchObject({ profile: 'quiet', outbound: { outcome: 'voicemail', voicemailMessage: 'none' } });
    expect(record.outbound!.hungUpMs).toBeGreaterThanOrEqual(record.outbound!.recognisedMs! + QUIET_MS);
    await expect.poll(() => status(callId), { timeout: 10_000 }).toMatchObject({ state: 'ended', outcome: 'voicemail' });
  });

  it('an inbound call is greeted as before, and is offered no voicemail tool', async () => {
    const call = await lab.placeCall();
    const agent = await call.timeline.waitFor((e) => e.type === 'agent-audio', 10_000, 'agent audio');
    expect(at(call, 'speaks')).toBeUndefined();
    expect(agent).toBeDefined();
    const session = lab.voiceLive!.sessions.at(-1)!;
    const tools = (session.session.tools as { name: string }[]).map((t) => t.name);
    expect(tools).toContain('end_call');
    expect(tools).not.toContain('report_voicemail');
    await call.hangUp();
    const record = await recordOf(call.callId);
    expect(record.outbound).toBeUndefined();
  });
});
