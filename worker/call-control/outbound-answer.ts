import type { OutboundCallSettings } from '../../shared/config/call-control.js';
import type { Logger } from '../../shared/log.js';
import type { OutboundStatusStore } from '../../shared/outbound-status-store.js';
import type { CallRecordCollector } from '../call-record/collector.js';
import type { CallControl } from '../call-session.js';
import type { VoicemailReport } from '../tools/types.js';
import type { ServerEvent } from '../voice-live/events.js';
import type { ResponseGate } from './response-gate.js';

/** How often the waits (greeting quiet, message played) look again. */
const POLL_MS = 20;
/** The message is said again once if the greeting cut it. */
const MESSAGE_ATTEMPTS = 2;

type Phase = 'listening' | 'conversation' | 'voicemail-waiting' | 'voicemail-speaking' | 'done';

export interface OutboundAnswerDeps {
  callId: string;
  settings: OutboundCallSettings;
  logger: Logger;
  record: CallRecordCollector;
  gate: ResponseGate;
  call: () => CallControl | undefined;
  /** A system item for the model, then a response (the agent speaks first). */
  prompt: (text: string) => void;
  /** The same hang-up as end_call. */
  endCall: (reason: string) => Promise<void>;
  /** Longest wait for the message to start and to play. */
  endCallTimeoutMs: number;
  /** Unset: the worker has no OUTBOUND_STATUS_QUEUE (or no Service Bus). */
  statusStore?: OutboundStatusStore | undefined;
  /**
   * A voicemail fact the next worker needs has changed (recognised, message started, message done): the carried
   * state is written now rather than after the usual debounce, since a worker lost in between would repeat or skip
   * a step of the message.
   */
  onChange?: () => void;
  now?: () => number;
}

/**
 * The answer side of a call the agent placed. ACS does not tell a person from a machine, so the agent listens
 * first: it says nothing until the callee has spoken, or until OUTBOUND_LISTEN_FIRST_SILENCE_MS of silence. When
 * the model reports a voicemail greeting (report_voicemail), the model is kept quiet, the greeting and its beep are
 * waited out, the message is said word for word, and the call is hung up. The outcome goes on the record and into
 * the status store.
 */
export class OutboundAnswer {
  private phase: Phase = 'listening';
  private readonly log: Logger;
  private readonly now: () => number;
  /** When the callee answered, as the worker knows it: its media started (epoch ms). */
  private answeredAtMs: number;
  private listenTimer: NodeJS.Timeout | undefined;
  private context: Record<string, unknown> = {};
  private messageResponseId: string | undefined;
  private messageResponseSeen: (() => void) | undefined;
  /** How the message's response ended (`completed`, or `cancelled` when the callee side cut it). */
  private messageStatus: string | undefined;
  /** The callee side spoke over the message while it played (the agent's audio was cut at the caller's end). */
  private messageCut = false;
  private stopped = false;
  /** start() was called: whether this call continues one held elsewhere is known. */
  private started = false;
  /** The callee spoke before start(): on a new call that is the first words; on a carried one it means nothing. */
  private spokeBeforeStart = false;
  /** Responses created and not done yet: on a call carried over mid-voicemail, any started before start() are dropped. */
  private readonly liveResponses = new Set<string>();

  constructor(private readonly deps: OutboundAnswerDeps) {
    this.log = deps.logger;
    this.now = deps.now ?? Date.now;
    this.answeredAtMs = this.now();
    deps.record.setOutbound({ outcome: 'human' });
  }

  /** From `call.outbound.requested`: the attempt, and the context the message's placeholders come from. */
  requested(attempt: number, context: Record<string, unknown> | undefined): void {
    this.context = context ?? {};
    this.deps.record.setOutbound({ attempt });
  }

  /** The request's context, carried to the next worker (which never sees `call.outbound.requested`). */
  get carriedContext(): Record<string, unknown> {
    return this.context;
  }

  /** From the carried state, before start(): the context the message's placeholders come from. */
  restoreContext(context: Record<string, unknown>): void {
    this.context = context;
  }

  /** Once any carried-over state is known. A continuation never listens first again; a voicemail in progress carries on. */
  start(resumed: { answeredAtMs: number } | undefined): void {
    if (this.stopped || this.started) return;
    this.started = true;
    if (resumed) {
      this.answeredAtMs = resumed.answeredAtMs;
      const known = this.deps.record.outboundSoFar;
      if (known?.outcome === 'voicemail') return this.resumeVoicemail(known.hungUpMs !== undefined, known.messageStartedMs !== undefined);
      this.phase = 'conversation';
      return;
    }
    if (this.spokeBeforeStart) {
      this.phase = 'conversation';
      this.deps.record.setOutbound({ firstWords: 'callee' });
      return;
    }
    this.listenTimer = setTimeout(() => this.onListenTimeout(), this.deps.settings.listenFirstSilenceMs);
    this.listenTimer.unref();
  }

  /**
   * A call carried over after report_voicemail. The message not yet left: the model stays quiet (a response server VAD
   * began on this worker before the state was read is dropped), the rest of the greeting is waited out, and the message
   * is said from the start, in full, even if the lost worker had begun it: a mailbox then holds a cut message and a
   * whole one, better than only a cut one. The message already played (the worker was lost before its hang-up): hang up.
   */
  private resumeVoicemail(messageDone: boolean, messageBegun: boolean): void {
    if (messageDone) {
      this.log.info('call carried over after the voicemail message was left: hanging up');
      this.phase = 'done';
      void this.deps.endCall('voicemail message left before the handover');
      return;
    }
    this.log.info({ messageBegun }, messageBegun ? 'call carried over while the voicemail message played: saying it again, in full, once the line is quiet' : 'call carried over while leaving a voicemail: waiting for quiet, then leaving the message');
    this.phase = 'voicemail-waiting';
    for (const responseId of this.liveResponses) this.dropResponse(responseId);
    // The lost worker wrote it when the voicemail was recognised; written again in case it died before that write.
    void this.writeStatus();
    void this.leaveVoicemail();
  }

  private dropResponse(responseId: string): void {
    this.deps.call()?.discardResponse(responseId);
    this.deps.record.onResponseDropped(responseId);
  }

  get isListening(): boolean {
    return this.phase === 'listening';
  }

  /** Quiet on the line is expected (listening first, a voicemail being waited out or left): no silence check-ins. */
  get quietIsExpected(): boolean {
    return this.phase === 'listening' || this.phase === 'voicemail-waiting' || this.phase === 'voicemail-speaking';
  }

  onVoiceLiveEvent(event: ServerEvent): void {
    if (event.type === 'input_audio_buffer.speech_started' && this.phase === 'listening') {
      if (!this.started) {
        this.spokeBeforeStart = true;
        return;
      }
      clearTimeout(this.listenTimer);
      this.phase = 'conversation';
      this.deps.record.setOutbound({ firstWords: 'callee' });
    } else if (event.type === 'response.created') {
      this.liveResponses.add(event.response.id);
      if (this.phase === 'voicemail-waiting') {
        // Server VAD answers each turn of the greeting by itself: nothing of it may reach the mailbox.
        this.log.debug({ responseId: event.response.id }, 'response during the voicemail greeting dropped');
        this.dropResponse(event.response.id);
      } else if (this.phase === 'voicemail-speaking' && this.messageResponseId === undefined) {
        this.messageResponseId = event.response.id;
        this.deps.record.setOutbound({ messageStartedMs: this.sinceAnswered() });
        this.deps.onChange?.();
        this.messageResponseSeen?.();
      }
    } else if (event.type === 'response.done') {
      this.liveResponses.delete(event.response.id);
      if (event.response.id === this.messageResponseId) this.messageStatus = event.response.status ?? undefined;
    }
  }

  private onListenTimeout(): void {
    if (this.phase !== 'listening' || this.stopped) return;
    // The callee started a turn just now: it will be answered as usual.
    if (this.deps.call()?.voiceLive?.callerIsSpeaking) return;
    this.phase = 'conversation';
    const seconds = Math.round(this.deps.settings.listenFirstSilenceMs / 1000);
    this.log.info({ silentS: seconds }, 'outbound call: the callee said nothing; the agent speaks first');
    this.deps.record.setOutbound({ firstWords: 'agent_after_silence' });
    this.deps.prompt(
      `The person you called answered but has said nothing for ${seconds} seconds. Speak first now: greet them in one short sentence, ` +
        'say who you are and why you are calling, and ask if they can hear you.',
    );
  }

  /** report_voicemail: answers at once; the rest happens after the tool's response. */
  reportVoicemail(reason: string): VoicemailReport {
    if (this.phase === 'voicemail-waiting' || this.phase === 'voicemail-speaking') return { ok: true };
    if (this.phase === 'done' || this.stopped) return { ok: false, reason: 'the call is ending' };
    clearTimeout(this.listenTimer);
    this.phase = 'voicemail-waiting';
    const recognisedMs = this.sinceAnswered();
    this.deps.record.setOutbound({ outcome: 'voicemail', recognisedMs });
    this.deps.onChange?.();
    // The model's words are not logged (they may quote the greeting: a name, a number).
    this.log.info({ recognisedMs, reasonChars: reason.length }, 'outbound call reached a voicemail');
    void this.writeStatus();
    void this.leaveVoicemail();
    return { ok: true };
  }

  private async leaveVoicemail(): Promise<void> {
    const call = this.deps.call();
    if (!call) return;
    const message = this.message();
    // A greeting that starts again once the message is under way cuts it (server VAD): waited out once more, and said again.
    for (let attempt = 1; attempt <= MESSAGE_ATTEMPTS; attempt++) {
      this.phase = 'voicemail-waiting';
      await this.untilGreetingOver(call);
      if (this.stopped) return;
      if (!message) {
        this.phase = 'done';
        this.deps.record.setOutbound({ voicemailMessage: 'none', hungUpMs: this.sinceAnswered() });
        this.deps.onChange?.();
        await this.deps.endCall('voicemail reached; no message to leave');
        return;
      }
      const played = await this.sayMessage(call, message);
      if (this.stopped) return;
      if (played !== 'cut' || attempt === MESSAGE_ATTEMPTS) {
        this.phase = 'done';
        this.deps.record.setOutbound({ voicemailMessage: played === 'left' ? 'left' : 'cut', hungUpMs: this.sinceAnswered() });
        this.deps.onChange?.();
        if (played === 'not-started') this.log.warn({ timeoutMs: this.deps.endCallTimeoutMs }, 'the voicemail message did not start in time; hanging up');
        await this.deps.endCall(played === 'left' ? 'voicemail message left' : 'voicemail message not played in full');
        return;
      }
      this.log.info('the voicemail message was cut (the greeting went on): waiting for quiet to say it again');
    }
  }

  /** Until the callee side has been quiet for OUTBOUND_VOICEMAIL_QUIET_MS, at most OUTBOUND_VOICEMAIL_MAX_WAIT_MS. */
  private async untilGreetingOver(call: CallControl): Promise<void> {
    const { voicemailQuietMs, voicemailMaxWaitMs } = this.deps.settings;
    const watch = call.watchCallerSound();
    const startedAt = performance.now();
    try {
      while (!this.stopped && watch.quietForMs() < voicemailQuietMs && performance.now() - startedAt < voicemailMaxWaitMs) await pause(POLL_MS);
    } finally {
      watch.stop();
    }
    if (!this.stopped && watch.quietForMs() < voicemailQuietMs) this.log.warn({ waitedMs: voicemailMaxWaitMs }, 'the voicemail greeting never fell quiet: leaving the message anyway');
  }

  /** Says the message word for word and waits until it has played: `left`, `cut` (cancelled part-way) or `not-started`. */
  private async sayMessage(call: CallControl, message: string): Promise<'left' | 'cut' | 'not-started'> {
    this.phase = 'voicemail-speaking';
    this.messageResponseId = undefined;
    this.messageStatus = undefined;
    this.messageCut = false;
    const started = new Promise<void>((resolve) => (this.messageResponseSeen = resolve));
    this.deps.gate.request({ pre_generated_assistant_message: { type: 'message', role: 'assistant', content: [{ type: 'text', text: message }] } });
    const timeoutMs = this.deps.endCallTimeoutMs;
    const began = await Promise.race([started.then(() => true), pause(timeoutMs).then(() => false)]);
    if (!began || !this.messageResponseId || this.stopped) return 'not-started';
    await Promise.race([this.deps.gate.whenDone(this.messageResponseId), pause(timeoutMs)]);
    const deadline = performance.now() + timeoutMs;
    while (!this.stopped && call.isAgentAudible() && performance.now() < deadline) await pause(POLL_MS);
    return this.messageStatus === 'completed' && !this.messageCut ? 'left' : 'cut';
  }

  /** A barge-in: during the message, the greeting went on over it (the relay stopped the message's audio). */
  onBargeIn(): void {
    if (this.phase === 'voicemail-speaking' && this.messageResponseId !== undefined) this.messageCut = true;
  }

  /** The profile's (or the default) message with `{key}` replaced by the request context's value; unknown keys drop out. */
  private message(): string | undefined {
    const template = this.deps.settings.voicemailMessage;
    if (!template) return undefined;
    const text = template.replace(/\s*\{([A-Za-z0-9_]+)\}/g, (_match, key: string) => {
      const value = this.context[key];
      return typeof value === 'string' || typeof value === 'number' ? ` ${String(value).slice(0, 100)}` : '';
    });
    return text.replace(/^\s+/, '') || undefined;
  }

  private async writeStatus(): Promise<void> {
    const store = this.deps.statusStore;
    if (!store) {
      this.log.info('OUTBOUND_STATUS_QUEUE unset: the voicemail outcome is on the call record only; the call status was not updated');
      return;
    }
    try {
      const written = await store.update(this.deps.callId, async (current) => (current ? { ...current, outcome: 'voicemail', updatedAt: new Date(this.now()).toISOString() } : undefined));
      if (!written) this.log.warn('no outbound status for this call: the voicemail outcome is on the call record only');
    } catch (error) {
      this.log.warn({ err: { message: (error as Error).message } }, 'outbound status not updated with the voicemail outcome');
    }
  }

  private sinceAnswered(): number {
    return Math.max(0, Math.round(this.now() - this.answeredAtMs));
  }

  /** The call ended: a message that had not played out is marked cut. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.listenTimer);
    if (this.phase === 'voicemail-waiting' || this.phase === 'voicemail-speaking') this.deps.record.setOutbound({ voicemailMessage: this.message() ? 'cut' : 'none' });
    this.phase = 'done';
  }
}

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());
