import { randomUUID } from 'node:crypto';
import type { ServiceBusClient } from '@azure/service-bus';
import { subscribeToCallSession, type CallSessionSubscription, type ReceivedBusMessage } from '../../shared/bus.js';
import { parseCallEventMessage, type CallEventMessage } from '../../shared/call-metadata.js';
import type { CallControlConfig } from '../../shared/config/call-control.js';
import type { Logger } from '../../shared/log.js';
import { boundText, MAX_REASON_CHARS } from '../../shared/bounded-text.js';
import { maskPhoneNumber, maskPhoneNumbersIn } from '../../shared/privacy.js';
import { RESUME_WAIT_MS, type CallControl, type CallSessionHooks, type CallSummary } from '../call-session.js';
import { CallRecordCollector } from '../call-record/collector.js';
import { CallContinuity } from '../continuity/call-continuity.js';
import type { CarriedState } from '../continuity/carried-state.js';
import type { RecordOutbox } from '../call-record/outbox.js';
import { FunctionCallRunner } from '../tools/function-calls.js';
import { reportVoicemailTool, transferToHumanTool } from '../tools/builtin.js';
import type { ToolRegistry } from '../tools/registry.js';
import type { ToolContext, TransferOutcome } from '../tools/types.js';
import type { ServerEvent } from '../voice-live/events.js';
import type { VoiceLiveSessionSettings } from '../voice-live/session-config.js';
import type { WorkerMetrics } from '../metrics.js';
import type { CallActions } from './call-automation.js';
import { CallerSilenceWatch } from './caller-silence.js';
import { outboundContextText } from './outbound-context.js';
import { OutboundAnswer } from './outbound-answer.js';
import { isOutboundCallId } from '../../shared/outbound-call.js';
import { ServiceBusStatusStore } from '../../shared/outbound-status-store.js';
import { ResponseGate } from './response-gate.js';

export interface CallControllerDeps {
  callId: string;
  /** The call's agent profile (AGENT_PROFILES): named in its record. */
  profile?: string;
  /** This call's settings: a profile's transfer target is already in them. */
  config: CallControlConfig;
  tools: ToolRegistry;
  logger: Logger;
  actions?: CallActions | undefined;
  busClient?: ServiceBusClient | undefined;
  /** Where the record goes when the call ends (the outbox, or the handover to a replacing socket's controller). */
  outbox?: Pick<RecordOutbox, 'add'> | undefined;
  /** The call goes on without this controller (its socket ended, not the call): a successor on this worker takes the state. */
  handOver?: ((state: CarriedState) => void) | undefined;
  /** Pause before accepting the call's bus session again (held elsewhere, bus down). */
  subscriptionRetryDelayMs?: number;
  onFinished?: (controller: CallController) => void;
  /** Counted once per call, where its record is made (a call handed to another worker is counted there). */
  metrics?: CallOutcomeMetrics | undefined;
}

export type CallOutcomeMetrics = Pick<WorkerMetrics, 'outboundAnswers' | 'voicemailRecognition'>;

const AUDIBLE_POLL_MS = 20;
/**
 * Start of the close reason when the worker ends a call by closing its media socket (no Call Automation, or the
 * hang-up failed): ACS then reports MediaStreamingStopped on a connected call, so logs and the media peer can
 * tell this close from a crash.
 */
export const WORKER_HANGUP_CLOSE_REASON = 'worker hang-up (media closed, call not ended at ACS)';
/** Items wait for the Voice Live session to be configured; checked this often. */
const ITEMS_RETRY_MS = 25;
/** How often the caller-silence clock is read (its timeouts are seconds long). */
const SILENCE_TICK_MS = 250;

const systemItem = (text: string) => ({ type: 'message', role: 'system', content: [{ type: 'input_text', text }] });
const userItem = (text: string) => ({ type: 'message', role: 'user', content: [{ type: 'input_text', text }] });

/**
 * Call control for one call: its Service Bus session (caller context, disconnect, transfer results), the
 * agent's tools, DTMF, caps and the call record. Plugged into `CallSession` through its hooks; audio never
 * waits for anything here.
 */
export class CallController {
  readonly hooks: CallSessionHooks;
  readonly record: CallRecordCollector;
  /** The call's state in its bus session, for the worker that takes the call over if this one dies or drains. */
  readonly continuity: CallContinuity;
  private readonly log: Logger;
  private readonly gate: ResponseGate;
  private readonly runner: FunctionCallRunner;
  private call: CallControl | undefined;
  private callConnectionId: string | undefined;
  private subscription: CallSessionSubscription | undefined;
  private readonly caller: { from?: string; to?: string; displayName?: string } = {};
  private pendingItems: Record<string, unknown>[] = [];
  private respondAfterItems = false;
  private pendingResponses: Record<string, unknown>[] = [];
  private greeted = false;
  /** Voice Live has started a response (its own greeting, if configured, is the first). */
  private agentHasSpoken = false;
  /** The call was carried over from another worker (or socket): its state was restored. */
  private resumed = false;
  /** A conversation handed over before this call's Voice Live client existed: given to it in onStart. */
  private carriedConversation: CarriedState['conversation'] | undefined;
  private greetingTimer: NodeJS.Timeout | undefined;
  private itemsTimer: NodeJS.Timeout | undefined;
  private ended = false;
  private ending: Promise<void> | undefined;
  private transfer: { operationContext: string; settle: (outcome: TransferOutcome) => void } | undefined;
  private transferring: Promise<TransferOutcome> | undefined;
  private dtmfDigits: string[] = [];
  private dtmfTimer: NodeJS.Timeout | undefined;
  private capTimer: NodeJS.Timeout | undefined;
  private graceTimer: NodeJS.Timeout | undefined;
  private capHandled = false;
  private silence: CallerSilenceWatch | undefined;
  private silenceTimer: NodeJS.Timeout | undefined;
  /** The caller stayed silent through every check-in: the next response is the goodbye, then the hang-up. */
  private hangUpAfterResponse = false;
  private silenceHangUpTimer: NodeJS.Timeout | undefined;
  /** Set on a call the agent placed (its callId says so): listening first, voicemail. */
  private readonly outbound: OutboundAnswer | undefined;

  constructor(private readonly deps: CallControllerDeps) {
    this.log = deps.logger;
    const config = deps.config;
    this.record = new CallRecordCollector({
      callId: deps.callId,
      ...(deps.profile ? { profile: deps.profile } : {}),
      recordTranscripts: config.recordTranscripts,
      prices: config.prices,
    });
    this.gate = new ResponseGate(() => this.call?.voiceLive);
    this.runner = new FunctionCallRunner({
      registry: deps.tools,
      gate: this.gate,
      voiceLive: () => this.call?.voiceLive,
      context: (abortSignal) => this.toolContext(abortSignal),
      timeoutMs: config.toolTimeoutMs,
      fillerAfterMs: config.toolFillerAfterMs,
      fillerText: config.toolFillerText,
      isAgentAudible: () => this.call?.isAgentAudible() ?? false,
      logger: this.log,
      // The record changed: carried too (a tool whose follow-up response is dropped, report_voicemail, ends no turn).
      onToolUsed: (use) => {
        this.record.addTool(use);
        this.continuity.changed();
      },
    });
    this.continuity = new CallContinuity({
      callId: deps.callId,
      logger: this.log,
      snapshot: () => this.carriedState(),
      resume: (state) => this.resume(state),
    });
    if (isOutboundCallId(deps.callId)) {
      const statusQueue = config.outbound.statusQueue;
      this.outbound = new OutboundAnswer({
        callId: deps.callId,
        settings: config.outbound,
        logger: this.log,
        record: this.record,
        gate: this.gate,
        call: () => this.call,
        prompt: (text) => this.addItem(systemItem(text), { respond: true }),
        endCall: (reason) => this.endCall(reason),
        endCallTimeoutMs: config.endCallTimeoutMs,
        statusStore: deps.busClient && statusQueue ? new ServiceBusStatusStore(deps.busClient, statusQueue) : undefined,
        onChange: () => void this.continuity.flush(),
      });
    }
    this.hooks = {
      sessionSettings: (settings) => this.sessionSettings(settings),
      onStart: (call) => this.onStart(call),
      // A call the agent placed is never greeted: it listens first (OutboundAnswer).
      greetingAllowed: () => (this.outbound ? Promise.resolve(false) : this.continuity.ready.then(() => !this.resumed)),
      onVoiceLiveEvent: (event) => this.onVoiceLiveEvent(event),
      onDtmf: (tone) => this.onDtmf(tone),
      onBargeIn: (info) => {
        this.record.onBargeIn(info.itemId, info.heardMs);
        this.outbound?.onBargeIn();
      },
      onEnd: (summary) => this.onEnd(summary),
    };
  }

  /** Settles once the call's bus session is released. */
  get released(): Promise<void> {
    return this.subscription?.closed ?? Promise.resolve();
  }

  private sessionSettings(settings: VoiceLiveSessionSettings): VoiceLiveSessionSettings {
    // Registered when any line has a target; offered only to calls that have one.
    const tools = this.deps.tools
      .definitions()
      .filter((tool) => (tool.name !== transferToHumanTool.name || this.deps.config.transferTarget) && (tool.name !== reportVoicemailTool.name || this.outbound));
    if (tools.length === 0) return settings;
    return { ...settings, tools: [...(settings.tools ?? []), ...tools] };
  }

  private onStart(call: CallControl): void {
    this.call = call;
    if (this.carriedConversation) call.voiceLive?.resumeConversation(this.carriedConversation);
    this.carriedConversation = undefined;
    this.callConnectionId ??= call.callConnectionId;
    call.voiceLive?.on('session-replaced', () => this.gate.reset());
    if (this.deps.busClient) {
      this.subscription = subscribeToCallSession(this.deps.busClient, this.deps.config.callEventsQueue, this.deps.callId, (m) => this.onBusMessage(m), {
        logger: this.log,
        retryDelayMs: this.deps.subscriptionRetryDelayMs ?? 1_000,
        onAccepted: this.continuity.onAccepted,
      });
      this.continuity.attach(this.subscription);
    } else {
      this.continuity.withoutStore();
    }
    const callerGreeting = this.outbound ? undefined : this.deps.config.callerGreeting;
    if (this.outbound) {
      const outbound = this.outbound;
      // Once a carried-over state has been read (or could not be, within RESUME_WAIT_MS): a continuation does not listen first again.
      const waited = new Promise<void>((resolve) => setTimeout(resolve, RESUME_WAIT_MS).unref());
      void Promise.race([this.continuity.ready, waited]).then(() => {
        if (this.ended) return;
        const startedAt = this.record.inheritedStartedAt;
        outbound.start(this.resumed ? { answeredAtMs: startedAt ?? Date.now() } : undefined);
      });
    }
    if (callerGreeting) {
      // Counted once a carried-over state has been read (or could not be, within RESUME_WAIT_MS): a continuation never greets.
      const waited = new Promise<void>((resolve) => setTimeout(resolve, RESUME_WAIT_MS).unref());
      void Promise.race([this.continuity.ready, waited]).then(() => {
        if (this.greeted || this.ended) return;
        this.greetingTimer = setTimeout(() => this.greet(), callerGreeting.waitMs);
      });
    }
    this.watchCallerSilence();
    const maxMinutes = this.deps.config.caps.maxMinutes;
    if (maxMinutes !== undefined) {
      this.capTimer = setTimeout(() => this.onCapReached('minutes'), maxMinutes * 60_000);
      this.capTimer.unref();
    }
  }

  // ---- Voice Live ----------------------------------------------------------------------------

  private onVoiceLiveEvent(event: ServerEvent): void {
    this.record.onVoiceLiveEvent(event);
    if (event.type === 'response.created') this.agentHasSpoken = true;
    // A completed turn (either side's): what a successor would need has changed. Written debounced, never per delta.
    if (event.type === 'response.done' || event.type === 'conversation.item.input_audio_transcription.completed') this.continuity.changed();
    this.gate.onEvent(event);
    this.outbound?.onVoiceLiveEvent(event);
    this.runner.onEvent(event);
    if (event.type === 'input_audio_buffer.speech_started') this.silence?.callerActive();
    if (event.type === 'response.done' && this.hangUpAfterResponse) {
      this.hangUpAfterResponse = false;
      void this.endCall('the caller stayed silent');
    }
    if (event.type === 'response.done') {
      const maxTokens = this.deps.config.caps.maxTokens;
      if (maxTokens !== undefined && this.record.usage.totalTokens >= maxTokens) this.onCapReached('tokens');
    }
  }

  /** Adds an item now, or once the session is configured (items sent before would be dropped). */
  private addItem(item: Record<string, unknown>, options: { respond?: boolean } = {}): void {
    this.pendingItems.push(item);
    if (options.respond) this.respondAfterItems = true;
    this.flushItems();
  }

  private flushItems(): void {
    clearTimeout(this.itemsTimer);
    if (this.ended || (this.pendingItems.length === 0 && this.pendingResponses.length === 0 && !this.respondAfterItems)) return;
    const voiceLive = this.call?.voiceLive;
    if (!voiceLive?.isOpen) {
      this.itemsTimer = setTimeout(() => this.flushItems(), ITEMS_RETRY_MS);
      return;
    }
    const items = this.pendingItems;
    this.pendingItems = [];
    for (const item of items) voiceLive.createConversationItem(item);
    const responses = this.pendingResponses;
    this.pendingResponses = [];
    for (const response of responses) this.gate.request(response);
    if (this.respondAfterItems) {
      this.respondAfterItems = false;
      this.gate.request();
    }
  }

  /** Ends the call once the current tool call has reported back (so the record includes it). */
  private endSoon(reason: string): void {
    setImmediate(() => this.call?.end(reason));
  }

  // ---- Service Bus -----------------------------------------------------------------------------

  private onBusMessage(message: ReceivedBusMessage): void {
    const parsed = parseCallEventMessage(message.body);
    if (!parsed.ok) {
      // A message we cannot read is skipped, not retried: redelivery would not make it readable.
      if (parsed.unknownType) this.log.debug({ type: parsed.unknownType }, 'call event of an unknown type skipped');
      else this.log.warn({ messageId: message.messageId, reason: parsed.reason }, 'unreadable call event skipped');
      return;
    }
    const event = parsed.message;
    if (event.callId !== this.deps.callId) {
      this.log.warn({ messageId: message.messageId }, 'call event for another call skipped');
      return;
    }
    if (event.callConnectionId) this.callConnectionId ??= event.callConnectionId;
    this.applyCallEvent(event);
  }

  private applyCallEvent(event: CallEventMessage): void {
    switch (event.type) {
      case 'call.incoming': {
        const { from, to, callerDisplayName } = event.data;
        this.caller.from = from.phoneNumber ?? from.rawId;
        this.caller.to = to.phoneNumber ?? to.rawId;
        if (callerDisplayName) this.caller.displayName = callerDisplayName;
        this.record.setParties(this.caller.from, this.caller.to);
        this.log.info({ from: maskPhoneNumber(this.caller.from), to: maskPhoneNumber(this.caller.to) }, 'caller context received');
        if (this.deps.config.callerContext) this.addItem(systemItem(this.callerContextText()));
        this.greet();
        this.continuity.changed();
        break;
      }
      case 'call.outbound.requested': {
        const callee = event.data.to.phoneNumber ?? event.data.to.rawId;
        this.record.setParties(event.data.from ?? 'app', callee);
        // The context's keys only: its values are personal data.
        this.log.info({ to: maskPhoneNumber(callee), attempt: event.data.attempt, contextKeys: Object.keys(event.data.context ?? {}) }, 'outbound call context received');
        this.outbound?.requested(event.data.attempt, event.data.context);
        this.addItem(systemItem(outboundContextText(event.data)));
        this.continuity.changed();
        break;
      }
      case 'call.disconnected':
        if (this.ended) return;
        this.record.setOutcome('caller_hung_up', 'call disconnected');
        this.settleTransfer(undefined, { ok: false, reason: 'the call was disconnected' });
        this.log.info('call disconnected (ACS): freeing the call');
        this.call?.end('call disconnected');
        break;
      case 'transfer.accepted':
        this.settleTransfer(event.data.operationContext, { ok: true });
        break;
      case 'transfer.failed': {
        const info = event.data.resultInformation;
        const reason = `${info?.message ?? 'the transfer failed'}${info?.code !== undefined ? ` (code ${info.code}${info.subCode !== undefined ? `/${info.subCode}` : ''})` : ''}`;
        this.settleTransfer(event.data.operationContext, { ok: false, reason });
        break;
      }
      case 'recording.requested':
        this.record.setRecording({ recordingId: event.data.recordingId, state: 'requested' });
        break;
      case 'recording.started':
      case 'recording.stopped':
        this.record.setRecording({ recordingId: event.data.recordingId, state: event.type === 'recording.started' ? 'active' : 'stopped' });
        break;
      case 'recording.failed': {
        const reason = event.data.resultInformation?.message ?? event.data.error?.message;
        this.record.setRecording({
          ...(event.data.recordingId ? { recordingId: event.data.recordingId } : {}),
          state: 'failed',
          ...(reason ? { reason: maskPhoneNumbersIn(reason).slice(0, 300) } : {}),
        });
        break;
      }
      default:
        break;
    }
  }

  /** The personalised greeting, once: when the caller's context arrives, or without a name after the wait. */
  private greet(): void {
    const greeting = this.deps.config.callerGreeting;
    if (!greeting || this.greeted || this.ended || !this.call) return;
    this.greeted = true;
    clearTimeout(this.greetingTimer);
    const name = this.caller.displayName?.trim();
    const text = greeting.template.replace(/\s*\{name\}/g, name && !/^\+?\d+$/.test(name) ? ` ${name}` : '');
    this.respondWith({ pre_generated_assistant_message: { type: 'message', role: 'assistant', content: [{ type: 'text', text }] } });
  }

  /** A response once pending items are in (the session may still be opening). */
  private respondWith(response: Record<string, unknown>): void {
    this.pendingResponses.push(response);
    this.flushItems();
  }

  private callerContextText(): string {
    const parts = [`Call context: the caller's number is ${this.caller.from ?? 'unknown'}`];
    if (this.caller.displayName) parts.push(`the network gives the caller's name as "${this.caller.displayName}" (it may be wrong)`);
    if (this.caller.to) parts.push(`they called ${this.caller.to}`);
    return `${parts.join('; ')}.`;
  }

  // ---- tools -----------------------------------------------------------------------------------

  private toolContext(abortSignal: AbortSignal): ToolContext {
    return {
      callId: this.deps.callId,
      caller: { ...this.caller },
      abortSignal,
      logger: this.log,
      endCall: (reason) => this.endCall(reason),
      transferToHuman: (reason, summary) => this.transferToHuman(reason, summary),
      reportVoicemail: (reason) => this.outbound?.reportVoicemail(boundText(reason, MAX_REASON_CHARS)) ?? { ok: false, reason: 'this is not a call you placed' },
    };
  }

  /** Hangs up once nothing is being said: the goodbye (and anything queued at ACS) has played. */
  endCall(modelReason: string): Promise<void> {
    // The reason may come from the model (end_call's argument): bounded in the log, the record and the close reason.
    const reason = boundText(modelReason, MAX_REASON_CHARS);
    this.ending ??= (async () => {
      await this.untilAgentQuiet();
      if (this.ended) return;
      this.record.setOutcome('completed', reason);
      const connectionId = this.callConnectionId;
      if (this.deps.actions && connectionId) {
        try {
          await this.deps.actions.hangUp(connectionId);
          this.log.info({ reason }, 'hung up through Call Automation');
        } catch (error) {
          this.log.warn({ err: { message: (error as Error).message } }, 'hang-up through Call Automation failed; closing the media stream');
          this.endSoon(`${WORKER_HANGUP_CLOSE_REASON}: ${reason}`);
          return;
        }
      } else {
        this.log.warn({ reason }, 'ending the call by closing the media stream only (no Call Automation for this call): ACS keeps the call up');
        this.endSoon(`${WORKER_HANGUP_CLOSE_REASON}: ${reason}`);
        return;
      }
      this.endSoon(`agent ended the call: ${reason}`);
    })();
    return this.ending;
  }

  /**
   * Until the agent's current words have played to the caller (the response is done and ACS has played the
   * audio queued for it), at most END_CALL_TIMEOUT_MS: a goodbye before a hang-up, an announcement before a transfer.
   */
  private async untilAgentQuiet(): Promise<void> {
    const deadline = performance.now() + this.deps.config.endCallTimeoutMs;
    while (!this.ended && performance.now() < deadline && (this.gate.hasActiveResponse || this.call?.isAgentAudible())) {
      await new Promise((resolve) => setTimeout(resolve, AUDIBLE_POLL_MS));
    }
  }

  transferToHuman(modelReason: string, summary?: string): Promise<TransferOutcome> {
    if (this.transferring) return this.transferring;
    const reason = boundText(modelReason, MAX_REASON_CHARS);
    const attempt = this.doTransfer(reason, summary).finally(() => {
      if (this.transferring === attempt) this.transferring = undefined;
    });
    this.transferring = attempt;
    return attempt;
  }

  private async doTransfer(reason: string, summary: string | undefined): Promise<TransferOutcome> {
    const target = this.deps.config.transferTarget;
    const connectionId = this.callConnectionId;
    if (!target) return { ok: false, reason: 'no transfer target is configured' };
    if (!this.deps.actions || !connectionId) return { ok: false, reason: 'call transfer is not available for this call' };
    // The caller hears the agent's "let me put you through" in full before the call leaves this agent.
    await this.untilAgentQuiet();
    if (this.ended) return { ok: false, reason: 'the call ended' };
    const operationContext = `transfer:${randomUUID()}`;
    const outcome = new Promise<TransferOutcome>((resolve) => (this.transfer = { operationContext, settle: resolve }));
    try {
      await this.deps.actions.transfer(connectionId, target, { operationContext, reason, ...(summary ? { summary } : {}) });
    } catch (error) {
      this.transfer = undefined;
      const message = (error as Error).message;
      this.log.warn({ err: { message } }, 'transfer request refused');
      return { ok: false, reason: `the transfer request was refused: ${message}` };
    }
    this.log.info({ target: maskPhoneNumber(target) }, 'transfer requested; waiting for the result');
    // Without a bus the result never arrives: ACS's 202 is all we will know.
    if (!this.subscription) {
      this.settleTransfer(operationContext, { ok: true });
    }
    let timer: NodeJS.Timeout | undefined;
    const result = await Promise.race([
      outcome,
      new Promise<TransferOutcome>((resolve) => {
        timer = setTimeout(() => resolve({ ok: false, reason: 'the transfer target did not answer in time' }), this.deps.config.transferTimeoutMs);
      }),
    ]);
    clearTimeout(timer);
    this.transfer = undefined;
    if (result.ok) {
      this.record.setOutcome('transferred', reason);
      this.record.setHandoff({ reason, ...(summary ? { summary } : {}) });
      this.log.info('transfer accepted: the caller is with a human');
      this.endSoon('transferred to a human');
    } else {
      this.log.warn({ reason: result.reason }, 'transfer failed');
    }
    return result;
  }

  private settleTransfer(operationContext: string | undefined, outcome: TransferOutcome): void {
    const pending = this.transfer;
    if (!pending) return;
    if (operationContext && operationContext !== pending.operationContext) return;
    this.transfer = undefined;
    pending.settle(outcome);
  }

  // ---- DTMF ------------------------------------------------------------------------------------

  private onDtmf(tone: string): void {
    this.silence?.callerActive();
    const key = tone.toUpperCase();
    const config = this.deps.config;
    this.log.debug({ key }, 'DTMF');
    if (key === config.dtmfTransferKey && config.transferTarget) {
      this.log.info({ key }, 'caller pressed the transfer key');
      this.addItem(systemItem(`The caller pressed ${key} to speak to a person. They are being transferred now.`));
      void this.transferToHuman(`caller pressed ${key}`).then((outcome) => {
        if (outcome.ok || this.ended) return;
        this.addItem(systemItem(`The transfer to a person failed (${outcome.reason}). Tell the caller, and offer to help further.`), { respond: true });
      });
      return;
    }
    this.dtmfDigits.push(key);
    clearTimeout(this.dtmfTimer);
    if (config.dtmfInterdigitMs === 0) return this.flushDtmf();
    this.dtmfTimer = setTimeout(() => this.flushDtmf(), config.dtmfInterdigitMs);
  }

  private flushDtmf(): void {
    if (this.dtmfDigits.length === 0 || this.ended) return;
    const digits = this.dtmfDigits.join(' ');
    this.dtmfDigits = [];
    this.addItem(userItem(`caller pressed ${digits}`), { respond: true });
  }

  // ---- caps ------------------------------------------------------------------------------------

  private onCapReached(cap: 'minutes' | 'tokens'): void {
    if (this.capHandled || this.ended) return;
    this.capHandled = true;
    this.record.setCapReached(cap);
    const caps = this.deps.config.caps;
    const transfer = caps.action === 'transfer' && this.deps.config.transferTarget !== undefined;
    this.log.info({ cap, action: transfer ? 'transfer' : 'wrap_up' }, 'call cap reached');
    const limit = cap === 'minutes' ? 'its time limit' : 'its usage limit';
    this.addItem(
      systemItem(
        transfer
          ? `This call has reached ${limit}. Tell the caller briefly that you are passing them to a colleague now, then call transfer_to_human.`
          : `This call has reached ${limit}. Wrap up now: in one or two sentences, tell the caller the call has to end, say goodbye, then call end_call.`,
      ),
      { respond: true },
    );
    this.graceTimer = setTimeout(() => {
      if (this.ended) return;
      this.log.warn({ cap }, 'grace period after the cap passed; ending the call');
      if (transfer) void this.transferToHuman(`call ${cap} cap reached`).then((o) => (o.ok ? undefined : this.endCall(`call ${cap} cap reached`)));
      else void this.endCall(`call ${cap} cap reached`);
    }, caps.graceMs);
    this.graceTimer.unref();
  }

  // ---- caller silence --------------------------------------------------------------------------

  private watchCallerSilence(): void {
    const settings = this.deps.config.callerSilence;
    if (!settings || this.silence) return;
    this.silence = new CallerSilenceWatch({
      ...settings,
      isBusy: () => this.somethingGoingOn(),
      onPrompt: (prompt, silentMs) => {
        const seconds = Math.round(silentMs / 1000);
        this.log.info({ prompt, silentS: seconds }, 'caller silent: the agent checks in');
        this.addItem(
          systemItem(
            `The caller has said nothing for ${seconds} seconds. In one short sentence, check that they are still there ` +
              `(and whether they need more time); do not repeat what you said before.`,
          ),
          { respond: true },
        );
      },
      onGiveUp: (silentMs) => {
        this.log.info({ silentS: Math.round(silentMs / 1000), prompts: settings.maxPrompts }, 'caller silent through every check-in: saying goodbye and hanging up');
        this.hangUpAfterResponse = true;
        this.addItem(systemItem('The caller is still silent. Say a short goodbye in one sentence; the call is then ended for you. Ask nothing.'), { respond: true });
        // If the goodbye never comes (Voice Live down), the line is not held open for it.
        this.silenceHangUpTimer = setTimeout(() => void this.endCall('the caller stayed silent'), this.deps.config.endCallTimeoutMs);
        this.silenceHangUpTimer.unref();
      },
    });
    this.silenceTimer = setInterval(() => this.silence?.tick(), Math.min(SILENCE_TICK_MS, settings.promptAfterMs / 4));
    this.silenceTimer.unref();
  }

  /** Anything that makes quiet on the line normal: the agent busy or audible, the caller speaking, a tool, a transfer. */
  private somethingGoingOn(): boolean {
    const voiceLive = this.call?.voiceLive;
    return (
      this.ended ||
      this.ending !== undefined ||
      this.transferring !== undefined ||
      this.outbound?.quietIsExpected === true ||
      voiceLive?.isOpen !== true ||
      voiceLive.callerIsSpeaking ||
      !this.gate.isIdle ||
      this.runner.isRunning ||
      this.pendingItems.length > 0 ||
      this.pendingResponses.length > 0 ||
      (this.call?.isAgentAudible() ?? false)
    );
  }

  // ---- continuity ------------------------------------------------------------------------------

  /** The figures of the end, once the call ended here and was handed over (the state's record uses them). */
  private finalFacts: Parameters<CallRecordCollector['build']>[0] | undefined;

  /**
   * Ended for good: hung up (by anyone), transferred, ACS closed the media socket with a closing handshake (it
   * ended the call or its media on purpose), or the call failed here (Voice Live refused or lost, bad audio:
   * another worker would fail the same way, and the record says why). Not: this worker went away (a drain, 1001),
   * a new socket of the call replaced this one, or the connection dropped without a handshake (1006). Then ACS
   * reports the media failure, the Functions app restarts it, and the worker that gets it carries on.
   */
  private isFinalEnd(summary: CallSummary): boolean {
    if (this.record.outcomeKind !== undefined) return true;
    if (summary.acsCloseCode !== undefined) return summary.acsCloseCode !== 1006;
    return summary.closeCode !== 1000 && summary.closeCode !== 1001;
  }

  private carriedState() {
    const voiceLive = this.call?.voiceLive;
    const facts = this.finalFacts ?? {
      reason: 'in progress',
      framesIn: 0,
      framesOut: 0,
      bargeIns: 0,
      voiceLiveReconnects: voiceLive?.stats.reconnects ?? 0,
      framesDropped: voiceLive?.stats.droppedAudioChunks ?? 0,
      callConnectionId: this.callConnectionId,
    };
    return {
      greeted: this.greeted || this.agentHasSpoken,
      caller: { ...this.caller },
      conversation: voiceLive?.conversationEntries ?? [],
      record: this.record.build(facts),
      ...(this.outbound ? { outbound: { context: this.outbound.carriedContext } } : {}),
    };
  }

  /** Before Voice Live connects: the conversation, the greeting already given, the caller's context and the record so far. */
  private resume(state: CarriedState): void {
    this.resumed = true;
    this.greeted = true;
    this.agentHasSpoken = state.greeted;
    clearTimeout(this.greetingTimer);
    if (state.caller.from) this.caller.from = state.caller.from;
    if (state.caller.to) this.caller.to = state.caller.to;
    if (state.caller.displayName) this.caller.displayName = state.caller.displayName;
    this.record.setParties(this.caller.from, this.caller.to);
    if (state.outbound) this.outbound?.restoreContext(state.outbound.context);
    if (state.record) {
      this.record.inherit(state.record);
      const maxMinutes = this.deps.config.caps.maxMinutes;
      if (maxMinutes !== undefined && this.capTimer) {
        // The cap counts from when the call started, not from when it reached this worker.
        clearTimeout(this.capTimer);
        const leftMs = Math.max(0, maxMinutes * 60_000 - (Date.now() - Date.parse(state.record.startedAt)));
        this.capTimer = setTimeout(() => this.onCapReached('minutes'), leftMs);
        this.capTimer.unref();
      }
    }
    if (this.call?.voiceLive) this.call.voiceLive.resumeConversation(state.conversation);
    else this.carriedConversation = state.conversation;
  }

  /** Called by the worker's call control when this controller replaces one of the same call on this worker. */
  takeOver(state: CarriedState): void {
    this.continuity.resumeWith(state);
  }

  // ---- end -------------------------------------------------------------------------------------

  private onEnd(summary: CallSummary): void {
    this.ended = true;
    this.outbound?.stop();
    this.runner.close();
    this.gate.dispose();
    clearTimeout(this.dtmfTimer);
    clearTimeout(this.itemsTimer);
    clearTimeout(this.greetingTimer);
    clearTimeout(this.capTimer);
    clearTimeout(this.graceTimer);
    clearInterval(this.silenceTimer);
    clearTimeout(this.silenceHangUpTimer);
    this.settleTransfer(undefined, { ok: false, reason: 'the call ended' });
    const stats = this.call?.voiceLive?.stats;
    const facts = {
      reason: summary.reason,
      framesIn: summary.framesIn,
      framesOut: summary.framesOut,
      bargeIns: summary.bargeIns,
      voiceLiveReconnects: stats?.reconnects ?? 0,
      framesDropped: stats?.droppedAudioChunks ?? 0,
      callConnectionId: this.callConnectionId ?? summary.callConnectionId,
    };
    if (this.continuity.isStored && !this.isFinalEnd(summary)) {
      // The call itself goes on (this worker drains, its media dropped, Voice Live failed): ACS is asked to
      // stream again, and the worker that gets it continues the conversation and this record from the session.
      this.finalFacts = facts;
      this.deps.handOver?.(this.continuity.current());
      const handOver = this.continuity.flush().then((saved) => {
        this.log.info({ saved, reason: summary.reason, ...this.continuity.stats }, 'call handed over: state left in its bus session for the next worker');
      });
      void handOver.finally(() => void this.subscription?.close());
      this.deps.onFinished?.(this);
      return;
    }
    this.continuity.close();
    void this.continuity.clear().finally(() => void this.subscription?.close());
    if (this.continuity.isStored) this.log.info({ ...this.continuity.stats }, 'carried call state: cost for this call');
    const record = this.record.build(facts);
    if (record.outbound) {
      const { outcome, voicemailMessage, recognisedMs } = record.outbound;
      this.deps.metrics?.outboundAnswers.inc({ outcome, voicemail_message: voicemailMessage ?? 'n/a' });
      if (recognisedMs !== undefined) this.deps.metrics?.voicemailRecognition.observe(recognisedMs / 1000);
    }
    if (this.deps.outbox) this.deps.outbox.add(record);
    else this.log.info({ outcome: record.outcome, durationMs: record.durationMs, cost: record.cost.total }, 'call record (no Service Bus configured)');
    this.deps.onFinished?.(this);
  }
}
