import type { Identifier, EmulatedCall } from './emulator.js';
import { maskPhoneNumber } from '../../shared/privacy.js';
import { concat, silence } from '../audio/signal.js';
import type { PeerExchange, PeerResponse } from './rest-peer.js';

/**
 * Outbound calls in the ACS emulator: `createCall` (POST /calling/callConnections, as the real
 * `CallAutomationClient.createCall` sends it) rings a scripted callee. The callee answers (a person who speaks, or a
 * voicemail system that plays a greeting and a beep), is busy, declines, or never answers. ACS then reports the
 * outcome through callbacks: CallConnected, ParticipantsUpdated and the media stream as for an answered inbound
 * call, or CreateCallFailed with a resultInformation.
 */

/** What the person (or machine) at the called number does. Audio is produced at the call's media rate. */
export type CalleeScript =
  | {
      kind: 'human';
      answerAfterMs?: number;
      /** Spoken once media flows (default: a short tone standing in for "Hello?"). */
      speech?: (sampleRateHz: number) => Int16Array;
      /** The callee hangs up this long after answering; default: stays until the app hangs up. */
      hangUpAfterMs?: number;
    }
  | {
      kind: 'voicemail';
      answerAfterMs?: number;
      /** The mailbox greeting, played once media flows; a beep follows it. */
      greeting: (sampleRateHz: number) => Int16Array;
      beepMs?: number;
      /** The mailbox records this long after the beep, then hangs up (default 30 s). */
      recordForMs?: number;
    }
  | { kind: 'busy'; afterMs?: number }
  | { kind: 'decline'; afterMs?: number }
  | { kind: 'noAnswer' }
  /** Someone outside the script decides (the softphone page, `npm run call -- --answer`): see `addCallee`. */
  | { kind: 'live'; ring(ringing: RingingCall): void };

/** How a live callee's ringing ended. `cancelled`: the call ended some other way while it rang. */
export type RingOutcome = 'answered' | 'declined' | 'busy' | 'unanswered' | 'cancelled';

/** An outbound call ringing at a live callee, who picks up, declines, is busy, or lets it ring out. */
export interface RingingCall {
  readonly call: EmulatedCall;
  /** Picks up: CallConnected, ParticipantsUpdated and media, as a scripted 'human' (who says nothing of their own). */
  accept(): void;
  /** CreateCallFailed with the decline result. */
  decline(): void;
  /** CreateCallFailed with the busy result. */
  busy(): void;
  /** Resolves once the ringing stops, saying how; a call that rings out past the ring timeout is `unanswered`. */
  readonly settled: Promise<RingOutcome>;
}

/** A live callee's addresses: calls to either ring it until `remove()`. */
export interface LiveCallee {
  /** `8:acs:<resource id>_<name>-<n>`: the ACS user id to call. */
  readonly rawId: string;
  /** A lab phone number (+1555 012 nnnn unless one was asked for). */
  readonly phoneNumber: string;
  remove(): void;
}

export class CalleeRegistrationError extends Error {
  readonly code = 'CALLEE_REGISTRATION';
}

/**
 * The `resultInformation` of CreateCallFailed per outcome. UNCONFIRMED: ACS documents that CreateCallFailed carries
 * resultInformation, and PSTN end codes of the form code = SIP status, subCode = 560000 + SIP status for normal
 * clearing (560000); the busy, decline and no-answer values below follow that pattern (SIP 486, 603, 408) and have not
 * been seen from the service. docs/fidelity says so; code that reads them must also accept others.
 */
export const CREATE_CALL_FAILURES = {
  busy: { code: 486, subCode: 560486, message: 'Callee is busy (lab; code and subCode unconfirmed).' },
  decline: { code: 603, subCode: 560603, message: 'Callee declined the call (lab; code and subCode unconfirmed).' },
  noAnswer: { code: 408, subCode: 560408, message: 'Callee did not answer (lab; code and subCode unconfirmed).' },
} as const;

export interface OutboundCallsOptions {
  /** The callee for targets without a script: answers after 500 ms with a short tone. */
  defaultCallee?: CalleeScript;
  /** How long a callee that never answers rings before ACS gives up (the service's limit is undocumented). */
  ringTimeoutMs?: number;
}

/** What the emulator lends the outbound module: its call registry, connect step and callbacks. */
export interface OutboundCallsHost {
  /** Registers a call placed with createCall (ids from the REST peer's answer). */
  register(init: { callConnectionId: string; serverCallId: string; correlationId: string; from: string; to: string; remote: Identifier; callbackUri: string; mediaStreamingOptions: Record<string, unknown> | undefined }): EmulatedCall;
  /** The callee answered: CallConnected, ParticipantsUpdated, then media as for an answered call. */
  connect(call: EmulatedCall, operationContext: string | undefined): Promise<void>;
  /** The emulated ACS resource's id: live callees' ACS user ids are minted under it. */
  readonly resourceId: string;
  /** The call was not set up: CreateCallFailed, then the call is over in this state. */
  fail(call: EmulatedCall, resultInformation: { code: number; subCode: number; message: string }, operationContext: string | undefined, state: 'rejected' | 'unanswered'): Promise<void>;
}

export interface OutboundCalls {
  /**
   * Scripts the callee at `target` (an E.164 number or an ACS raw id) for the calls placed from now on; a list is
   * used one entry per call, the last one repeating (busy, then answers: a retry test).
   */
  script(target: string, callee: CalleeScript | readonly CalleeScript[]): void;
  /**
   * Registers a live callee under a new ACS user id and a lab number (or `phoneNumber`, if no other live callee has
   * it): each call to either rings `ring`, until `remove()`.
   */
  addCallee(ring: (ringing: RingingCall) => void, options?: { name?: string; phoneNumber?: string }): LiveCallee;
  /** The beforeRespond step for createCall. */
  onCreateCall(exchange: PeerExchange, next: () => Promise<PeerResponse>): Promise<PeerResponse>;
}


/** A live greeting is handed to the media this often, this far ahead of its own clock. */
const LIVE_FEED_MS = 40;
const LIVE_LEAD_MS = 100;

/** A sine tone at `frequencyHz`, `ms` long: the callee's "Hello?" stand-in and the mailbox beep. */
export function tone(sampleRateHz: number, frequencyHz: number, ms: number, amplitude = 8000): Int16Array {
  const samples = new Int16Array(Math.round((sampleRateHz * ms) / 1000));
  for (let i = 0; i < samples.length; i++) samples[i] = Math.round(amplitude * Math.sin((2 * Math.PI * frequencyHz * i) / sampleRateHz));
  return samples;
}

export function createOutboundCalls(host: OutboundCallsHost, options: OutboundCallsOptions = {}): OutboundCalls {
  const scripts = new Map<string, CalleeScript[]>();
  const defaultCallee = options.defaultCallee ?? { kind: 'human', answerAfterMs: 500 };
  const ringTimeoutMs = options.ringTimeoutMs ?? 60_000;
  let calleesAdded = 0;
  const liveAddresses = new Set<string>();

  function calleeFor(target: Identifier): CalleeScript {
    const queue = scripts.get(target.phoneNumber?.value ?? '') ?? scripts.get(target.rawId);
    if (!queue?.length) return defaultCallee;
    return queue.length > 1 ? queue.shift()! : queue[0]!;
  }

  async function onCreateCall({ body }: PeerExchange, next: () => Promise<PeerResponse>): Promise<PeerResponse> {
    const response = await next();
    if (response.status !== 201) return response;
    const properties = response.body as { callConnectionId: string; serverCallId: string; correlationId: string };
    const target = (body.targets as Identifier[])[0]!;
    const from = (body.sourceCallerIdNumber as { value?: string } | undefined)?.value ?? (body.source as { id?: string } | undefined)?.id ?? 'app';
    const call = host.register({
      ...properties,
      from,
      to: target.phoneNumber?.value ?? target.rawId,
      remote: target,
      callbackUri: body.callbackUri as string,
      mediaStreamingOptions: body.mediaStreamingOptions as Record<string, unknown> | undefined,
    });
    const operationContext = typeof body.operationContext === 'string' ? body.operationContext : undefined;
    const callee = calleeFor(target);
    call.timeline.add('acs', 'ringing-callee', { to: maskPhoneNumber(call.to), callee: callee.kind });
    // ACS answers createCall first; the callee's outcome follows through callbacks.
    setImmediate(() => ring(call, callee, operationContext));
    return response;
  }

  function ring(call: EmulatedCall, callee: CalleeScript, operationContext: string | undefined): void {
    const timers: NodeJS.Timeout[] = [];
    const later = (ms: number, task: () => void) => {
      const timer = setTimeout(() => {
        if (!call.isOver) task();
      }, ms);
      timer.unref();
      timers.push(timer);
    };
    void call.ended().then(() => timers.forEach(clearTimeout));

    switch (callee.kind) {
      case 'busy':
        return later(callee.afterMs ?? 200, () => void host.fail(call, CREATE_CALL_FAILURES.busy, operationContext, 'rejected'));
      case 'decline':
        return later(callee.afterMs ?? 2000, () => void host.fail(call, CREATE_CALL_FAILURES.decline, operationContext, 'rejected'));
      case 'noAnswer':
        return later(ringTimeoutMs, () => {
          call.timeline.add('acs', 'unanswered', { afterMs: ringTimeoutMs });
          void host.fail(call, CREATE_CALL_FAILURES.noAnswer, operationContext, 'unanswered');
        });
      case 'live':
        return ringLive(call, callee, operationContext, later);
      case 'human':
      case 'voicemail':
        return later(callee.answerAfterMs ?? 500, () => {
          call.timeline.add('caller', callee.kind === 'human' ? 'answered' : 'voicemail-answered');
          void host.connect(call, operationContext);
          void speakOnceMediaFlows(call, callee, later);
        });
    }
  }

  function ringLive(call: EmulatedCall, callee: Extract<CalleeScript, { kind: 'live' }>, operationContext: string | undefined, later: (ms: number, task: () => void) => void): void {
    let settle!: (outcome: RingOutcome) => void;
    const settled = new Promise<RingOutcome>((resolve) => (settle = resolve));
    let ringing = true;
    /** Ends the ringing once, while the call is still up; later answers are ignored. */
    const stop = (outcome: RingOutcome, then: () => void) => {
      if (!ringing || call.isOver) return;
      ringing = false;
      settle(outcome);
      then();
    };
    later(ringTimeoutMs, () =>
      stop('unanswered', () => {
        call.timeline.add('acs', 'unanswered', { afterMs: ringTimeoutMs });
        void host.fail(call, CREATE_CALL_FAILURES.noAnswer, operationContext, 'unanswered');
      }),
    );
    void call.ended().then(() => {
      if (ringing) {
        ringing = false;
        settle('cancelled');
      }
    });
    callee.ring({
      call,
      settled,
      accept: () =>
        stop('answered', () => {
          call.timeline.add('caller', 'answered');
          void host.connect(call, operationContext);
        }),
      decline: () =>
        stop('declined', () => {
          call.timeline.add('caller', 'declined');
          void host.fail(call, CREATE_CALL_FAILURES.decline, operationContext, 'rejected');
        }),
      busy: () =>
        stop('busy', () => {
          call.timeline.add('caller', 'busy');
          void host.fail(call, CREATE_CALL_FAILURES.busy, operationContext, 'rejected');
        }),
    });
  }

  function addCallee(ring: (ringing: RingingCall) => void, wanted: { name?: string; phoneNumber?: string } = {}): LiveCallee {
    const name = wanted.name ?? 'callee';
    if (!/^[a-z][a-z0-9-]{0,31}$/.test(name)) throw new CalleeRegistrationError(`name: must be 1-32 lowercase letters, digits or dashes, starting with a letter`);
    if (wanted.phoneNumber !== undefined && !/^\+\d{6,15}$/.test(wanted.phoneNumber)) throw new CalleeRegistrationError('number: must be an E.164 number such as +15550120001');
    if (wanted.phoneNumber !== undefined && liveAddresses.has(wanted.phoneNumber)) throw new CalleeRegistrationError(`number: ${wanted.phoneNumber} is already taken by another callee`);
    const n = ++calleesAdded;
    const rawId = `8:acs:${host.resourceId}_${name}-${n}`;
    let phoneNumber = wanted.phoneNumber;
    for (let candidate = n; phoneNumber === undefined || liveAddresses.has(phoneNumber); candidate++) phoneNumber = `+1555012${String(candidate % 10_000).padStart(4, '0')}`;
    const script: CalleeScript[] = [{ kind: 'live', ring }];
    for (const address of [rawId, phoneNumber]) {
      scripts.set(address, script);
      liveAddresses.add(address);
    }
    const number = phoneNumber;
    return {
      rawId,
      phoneNumber: number,
      remove() {
        for (const address of [rawId, number]) {
          // Only its own entries: a test may have scripted the number since.
          if (scripts.get(address) === script) scripts.delete(address);
          liveAddresses.delete(address);
        }
      },
    };
  }

  async function speakOnceMediaFlows(call: EmulatedCall, callee: Extract<CalleeScript, { kind: 'human' | 'voicemail' }>, later: (ms: number, task: () => void) => void) {
    try {
      await call.timeline.waitFor((e) => e.source === 'media' && e.type === 'connected', 30_000, 'media connected');
    } catch {
      return; // media never came: the callee stays on the line silently until someone hangs up
    }
    if (call.isOver) return;
    const rateHz = call.sampleRateHz ?? 16000;
    if (callee.kind === 'human') {
      const speech = callee.speech?.(rateHz) ?? concat([silence(300, rateHz), tone(rateHz, 440, 600), silence(200, rateHz)]);
      call.timeline.add('caller', 'speaks', { ms: Math.round((speech.length / rateHz) * 1000) });
      call.say(speech);
      if (callee.hangUpAfterMs !== undefined) later(callee.hangUpAfterMs, () => void call.hangUp());
      return;
    }
    const greeting = callee.greeting(rateHz);
    const beep = tone(rateHz, 1000, callee.beepMs ?? 400);
    const greetingMs = Math.round((greeting.length / rateHz) * 1000);
    call.timeline.add('caller', 'voicemail-greeting', { ms: greetingMs });
    playLive(call, concat([greeting, beep]), rateHz);
    later(greetingMs, () => call.timeline.add('caller', 'voicemail-beep'));
    later(greetingMs + (callee.beepMs ?? 400) + (callee.recordForMs ?? 30_000), () => void call.hangUp());
  }

  /**
   * A mailbox plays its greeting on its own clock, whoever listens: fed to the media as it plays (a little ahead), so
   * what plays while no media flows (the worker was lost, ACS restarts the stream) is not heard by anyone, and the
   * rest reaches whichever worker has the media next.
   */
  function playLive(call: EmulatedCall, audio: Int16Array, rateHz: number): void {
    const startedAt = performance.now();
    let sent = 0;
    const feed = () => {
      if (call.isOver) return clearInterval(timer);
      const due = Math.min(audio.length, Math.round(((performance.now() - startedAt + LIVE_LEAD_MS) * rateHz) / 1000));
      if (due > sent) call.say(audio.subarray(sent, due));
      sent = due;
      if (sent >= audio.length) clearInterval(timer);
    };
    const timer = setInterval(feed, LIVE_FEED_MS);
    timer.unref();
    feed();
  }

  return {
    script(target, callee) {
      scripts.set(target, Array.isArray(callee) ? [...callee] : [callee as CalleeScript]);
    },
    addCallee,
    onCreateCall,
  };
}
