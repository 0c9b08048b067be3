import { afterEach, describe, expect, it } from 'vitest';
import { startLab, type Lab } from '../../lab/lab.js';
import type { EmulatedCall } from '../../lab/acs/emulator.js';
import { CALL_EVENTS, nextVoiceLiveSession, oneTurn, replicaOf, stateHolds } from '../../lab/failover.js';
import type { CallRecord } from '../../shared/call-record.js';
import { tone } from '../../lab/acs/outbound.js';
import { concat, silence } from '../../lab/audio/signal.js';

const LISTEN_FIRST_MS = 1500;
const QUIET_MS = 1000;
const MESSAGE = 'Hello {name}, this is the clinic calling about your appointment. Please call us back.';
/** The lab echo agent's stand-in audio for a pre-generated message: two 250 ms beeps 120 ms apart. */
const MESSAGE_AUDIO_MS = 620;
/**
 * A mailbox greeting in two parts: "You have reached Ada." (3.5 s: the lab's model takes a first turn that long for a
 * mailbox) … "Please leave a message after the tone." (2 s: the new worker hears some of it, and the echo agent would
 * answer it). The beep follows.
 */
const GREETING_MS = 3500 + 700 + 2000;
const BEEP_MS = 400;
const greeting = (rateHz: number) => concat([tone(rateHz, 330, 3500), silence(700, rateHz), tone(rateHz, 380, 2000)]);
const VOICEMAILS_LEFT = 'worker_outbound_answers_total{outcome="voicemail",voicemail_message="left"}';

/**
 * An outbound call whose worker dies after the callee spoke: the worker that takes it over neither greets nor
 * "speaks first after the silence" (the callee has long spoken), and the record keeps how the call began.
 */
describe('an outbound call carried over to another worker', () => {
  let lab: Lab | undefined;
  afterEach(async () => {
    await lab?.close();
    lab = undefined;
  });

  it('does not listen first again: the new session gets no response request while the callee is quiet', async () => {
    lab = await startLab({ workers: 2, logLevel: 'silent', workerEnv: { OUTBOUND_LISTEN_FIRST_SILENCE_MS: String(LISTEN_FIRST_MS) } });
    const running = lab;
    running.acs.outbound.script('+15550108101', { kind: 'human', answerAfterMs: 100 });
    const response = await fetch(running.functions.urlOf('placeCall'), { method: 'POST', body: JSON.stringify({ to: '+15550108101' }) });
    const { callId } = (await response.json()) as { callId: string };
    const connectionId = async () => ((await (await fetch(running.functions.urlOf('callStatus', { callId }))).json()) as { callConnectionId?: string }).callConnectionId;
    await expect.poll(connectionId, { timeout: 10_000 }).toBeTruthy();
    const callConnectionId = await connectionId();
    const call = [...running.acs.calls.values()].find((c) => c.callConnectionId === callConnectionId) as EmulatedCall;
    // The callee's "Hello?" and the agent's answer to it.
    await call.timeline.waitFor((e) => e.type === 'agent-audio', 15_000, 'the agent answering the callee');
    await stateHolds(running, callId, 'You said this');
    const first = replicaOf(running, callId);

    // The replica holding the media (the ingress routes by our callId, in the media URL) dies; ACS's media fails and
    // the Functions app restarts it onto the other one.
    const lostAt = call.timeline.elapsedMs();
    await first.kill('SIGKILL');
    const dropped = await call.timeline.waitFor((e) => e.source === 'media' && e.type === 'closed' && e.atMs >= lostAt, 30_000, 'media dropped');
    await call.timeline.waitFor((e) => e.source === 'media' && e.type === 'connected' && e.atMs > dropped.atMs, 30_000, 'media connected again');
    expect(replicaOf(running, callId).url).not.toBe(first.url);
    const second = await nextVoiceLiveSession(running, callId);
    await new Promise((resolve) => setTimeout(resolve, LISTEN_FIRST_MS + 1500));
    expect(second.received.filter((r) => r.type === 'response.create')).toEqual([]);

    await oneTurn(call);
    await call.hangUp();
    const find = () => running.serviceBus.messages('call-records').find((m) => (m.body as { callId?: string }).callId === callId);
    await expect.poll(() => find() !== undefined, { timeout: 10_000 }).toBe(true);
    expect((find()!.body as CallRecord).outbound).toMatchObject({ outcome: 'human', firstWords: 'callee', attempt: 1 });
  }, 120_000);

  describe('lost while leaving a voicemail', () => {
    const startVoicemailLab = async () =>
      (lab = await startLab({
        workers: 2,
        logLevel: 'silent',
        workerEnv: { OUTBOUND_LISTEN_FIRST_SILENCE_MS: String(LISTEN_FIRST_MS), OUTBOUND_VOICEMAIL_QUIET_MS: String(QUIET_MS), OUTBOUND_VOICEMAIL_MESSAGE: MESSAGE },
      }));

    /** Places a call to a scripted mailbox; resolves with the call once ACS has connected it. */
    const placeToMailbox = async (running: Lab, to: string) => {
      running.acs.outbound.script(to, { kind: 'voicemail', answerAfterMs: 100, greeting, beepMs: BEEP_MS, recordForMs: 20_000 });
      const response = await fetch(running.functions.urlOf('placeCall'), { method: 'POST', body: JSON.stringify({ to, context: { name: 'Ada' } }) });
      const { callId } = (await response.json()) as { callId: string };
      const status = async () => (await (await fetch(running.functions.urlOf('callStatus', { callId }))).json()) as { callConnectionId?: string; outcome?: string; state?: string };
      await expect.poll(async () => (await status()).callConnectionId, { timeout: 10_000 }).toBeTruthy();
      const { callConnectionId } = await status();
      const call = [...running.acs.calls.values()].find((c) => c.callConnectionId === callConnectionId) as EmulatedCall;
      let heardSamples = 0;
      call.on('heard', (frame: Int16Array) => (heardSamples += frame.length));
      const heardMs = () => (heardSamples / (call.sampleRateHz ?? 16000)) * 1000;
      return { callId, call, status, heardMs };
    };

    /** Kills the replica holding the call; resolves once the call's media is connected to the other one. */
    const killHolder = async (running: Lab, call: EmulatedCall, callId: string) => {
      const first = replicaOf(running, callId);
      const lostAt = call.timeline.elapsedMs();
      await first.kill('SIGKILL');
      const dropped = await call.timeline.waitFor((e) => e.source === 'media' && e.type === 'closed' && e.atMs >= lostAt, 30_000, 'media dropped');
      const back = await call.timeline.waitFor((e) => e.source === 'media' && e.type === 'connected' && e.atMs > dropped.atMs, 30_000, 'media connected again');
      const second = replicaOf(running, callId);
      expect(second.url).not.toBe(first.url);
      return { killedAtMs: lostAt, backAtMs: back.atMs, survivor: second };
    };

    /** The call's records published on call-records (one expected: the dead worker never made one). */
    const recordsOf = async (running: Lab, callId: string) => {
      const find = () => running.serviceBus.messages('call-records').filter((m) => (m.body as { callId?: string }).callId === callId);
      await expect.poll(() => find().length, { timeout: 15_000 }).toBeGreaterThan(0);
      await new Promise((resolve) => setTimeout(resolve, 500));
      return find().map((m) => m.body as CallRecord);
    };

    /** The call record so far, as carried in the call's session state. */
    const carriedRecord = (running: Lab, callId: string): CallRecord | undefined => {
      const text = running.serviceBus.sessionState(CALL_EVENTS, callId)?.toString('utf8');
      return text ? (JSON.parse(text) as { record?: CallRecord } | null)?.record : undefined;
    };

    const metricOf = async (url: string, line: string) => {
      const text = await (await fetch(`${url.replace(/^ws/, 'http')}/metrics`)).text();
      const found = text.split('\n').find((l) => l.startsWith(`${line} `));
      return found ? Number(found.slice(line.length + 1)) : 0;
    };

    /** The message the second worker asked for (pre-generated, word for word), and any other response it asked for. */
    const responseRequests = (session: Awaited<ReturnType<typeof nextVoiceLiveSession>>) => {
      const requests = session.received.filter((r) => r.type === 'response.create').map((r) => r.event.response as { pre_generated_assistant_message?: { content: { text: string }[] } } | undefined);
      return {
        messages: requests.flatMap((r) => (r?.pre_generated_assistant_message ? [r.pre_generated_assistant_message.content[0]!.text] : [])),
        others: requests.filter((r) => !r?.pre_generated_assistant_message),
      };
    };

    it('after report_voicemail, before the message: the other worker neither greets nor lets the model answer the rest of the greeting, leaves the message once after the beep, hangs up; one record, outcome voicemail, counted once', async () => {
      const running = await startVoicemailLab();
      const { callId, call, status, heardMs } = await placeToMailbox(running, '+15550108201');
      // The first worker recognised the voicemail and carried that, and the tool's use, in the call's state: the replica
      // dies now, during the greeting's second part, before any message.
      await expect
        .poll(() => {
          const record = carriedRecord(running, callId);
          return record?.outbound?.outcome === 'voicemail' && record.tools.some((t) => t.name === 'report_voicemail');
        }, { timeout: 15_000, interval: 50 })
        .toBe(true);
      expect(call.timeline.entries.some((e) => e.type === 'agent-audio')).toBe(false);
      const greetingAt = call.timeline.entries.find((e) => e.type === 'voicemail-greeting')!.atMs;
      const { killedAtMs, backAtMs, survivor } = await killHolder(running, call, callId);
      expect(killedAtMs).toBeLessThan(greetingAt + GREETING_MS);
      // The new worker got the media while the mailbox still played its greeting (it hears the rest of it).
      expect(backAtMs).toBeLessThan(greetingAt + GREETING_MS - 500);
      const second = await nextVoiceLiveSession(running, callId);

      expect(await call.ended()).toBe('disconnected');
      // Nothing reached the mailbox before the beep had ended; then one message, in full.
      const beepAt = call.timeline.entries.find((e) => e.type === 'voicemail-beep')!.atMs;
      const agentAudio = call.timeline.entries.filter((e) => e.type === 'agent-audio');
      expect(agentAudio).toHaveLength(1);
      expect(agentAudio[0]!.atMs).toBeGreaterThanOrEqual(beepAt + BEEP_MS);
      expect(heardMs()).toBeGreaterThanOrEqual(MESSAGE_AUDIO_MS - 40);
      expect(heardMs()).toBeLessThan(2 * MESSAGE_AUDIO_MS);
      // The new session: no greeting, no "speak first", the message asked for once, word for word with the context's
      // name (carried over: the new worker never saw call.outbound.requested), and the echo of the greeting's rest cancelled.
      const { messages, others } = responseRequests(second);
      expect(messages).toEqual([MESSAGE.replace('{name}', 'Ada')]);
      expect(others).toEqual([]);
      expect(second.received.some((r) => r.type === 'response.cancel')).toBe(true);

      const records = await recordsOf(running, callId);
      expect(records).toHaveLength(1);
      const record = records[0]!;
      expect(record.outbound).toMatchObject({ attempt: 1, outcome: 'voicemail', voicemailMessage: 'left', firstWords: 'callee' });
      const { recognisedMs, messageStartedMs, hungUpMs } = record.outbound!;
      expect(recognisedMs).toBeGreaterThan(3500);
      expect(messageStartedMs).toBeGreaterThan(GREETING_MS + BEEP_MS);
      expect(hungUpMs).toBeGreaterThan(messageStartedMs!);
      expect(record.transcript?.filter((e) => e.role === 'agent').map((e) => e.text)).toEqual([MESSAGE.replace('{name}', 'Ada')]);
      expect(record.tools.map((t) => t.name)).toContain('report_voicemail');
      await expect.poll(status, { timeout: 10_000 }).toMatchObject({ state: 'ended', outcome: 'voicemail' });
      // Counted once, by the worker that made the record (the killed one has no /metrics left to read, and counted nothing).
      expect(await metricOf(survivor.url, VOICEMAILS_LEFT)).toBe(1);
    }, 120_000);

    it('during the message: the other worker says it again, in full, from the start, after quiet; the record times the message that was left', async () => {
      const running = await startVoicemailLab();
      const { callId, call, heardMs } = await placeToMailbox(running, '+15550108202');
      // The message has begun on the first worker (its state says so, written at once): the replica dies now.
      await stateHolds(running, callId, '"messageStartedMs"', 20_000);
      const firstStartedMs = carriedRecord(running, callId)!.outbound!.messageStartedMs!;
      const { backAtMs, survivor } = await killHolder(running, call, callId);
      const second = await nextVoiceLiveSession(running, callId);

      expect(await call.ended()).toBe('disconnected');
      // The mailbox heard less than two messages (the first was cut by the loss), and a whole one after the media came back.
      expect(heardMs()).toBeGreaterThanOrEqual(MESSAGE_AUDIO_MS - 40);
      expect(heardMs()).toBeLessThan(2 * MESSAGE_AUDIO_MS - 40);
      const lastAudio = call.timeline.entries.filter((e) => e.type === 'agent-audio').at(-1)!;
      expect(lastAudio.atMs).toBeGreaterThan(backAtMs);
      const { messages, others } = responseRequests(second);
      expect(messages).toEqual([MESSAGE.replace('{name}', 'Ada')]);
      expect(others).toEqual([]);

      const records = await recordsOf(running, callId);
      expect(records).toHaveLength(1);
      const outbound = records[0]!.outbound!;
      expect(outbound).toMatchObject({ outcome: 'voicemail', voicemailMessage: 'left' });
      expect(outbound.messageStartedMs).toBeGreaterThan(firstStartedMs);
      expect(outbound.hungUpMs).toBeGreaterThan(outbound.messageStartedMs!);
      expect(records[0]!.transcript?.filter((e) => e.role === 'agent').at(-1)?.text).toBe(MESSAGE.replace('{name}', 'Ada'));
      expect(await metricOf(survivor.url, VOICEMAILS_LEFT)).toBe(1);
    }, 120_000);
  });
});
