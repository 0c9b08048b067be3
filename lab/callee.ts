import { writeFileSync } from 'node:fs';
import WebSocket from 'ws';
import { loadLabConfig } from './config.js';
import { concat, resampleLinear, tone } from './audio/signal.js';
import { writeWav, type Pcm16Audio } from './audio/wav.js';
import { prepareOutputFile, readCallerRecording } from './input-file.js';
import { speak } from './greeting.js';
import { parseCalleeArgs, type CalleePlan } from './callee-options.js';
import type { TimelineEntry } from './acs/timeline.js';

/** What the callee says when no --play file is given. */
const DEFAULT_WORDS = 'Hello? Who is calling, please?';
/** A person hangs up once the agent has been quiet this long after they spoke. */
const QUIET_BEFORE_HANG_UP_MS = 3000;
/** ...and in any case this long after answering, unless --hang-up-after says otherwise. */
const PERSON_MAX_CALL_MS = 120_000;
const BEEP_MS = 400;

type ServerMessage =
  | { type: 'registered'; rawId: string; phoneNumber: string }
  | { type: 'ringing'; callId: string; from: string }
  | { type: 'timeline'; entry: TimelineEntry }
  | { type: 'format'; sampleRateHz: number }
  | { type: 'ended'; state: string; outcome: string }
  | { type: 'error'; message: string };

/** The lab could not be reached, or refused to register us: one line, exit code 1. */
export class CalleeRunError extends Error {}

/**
 * `npm run call -- --answer ...`: a callee for outbound calls against a running lab, through the ACS emulator's
 * `/lab/callee` socket. Flags and files are checked before connecting (UsageError / InputFileError: exit 2).
 */
export async function runCallee(argv: readonly string[], out: (line: string) => void = (line) => process.stdout.write(`${line}\n`)): Promise<void> {
  const options = parseCalleeArgs(argv);
  const plan = options.plan;
  const audio: Pcm16Audio | undefined =
    plan.kind === 'human' && plan.play !== undefined ? readCallerRecording(plan.play) : plan.kind === 'voicemail' ? readCallerRecording(plan.greeting) : undefined;
  const outPath = options.out === undefined ? undefined : prepareOutputFile(options.out, '--out file');
  // Synthesis blocks for a moment: before the call rings, not while it does.
  const words = plan.kind === 'human' && !audio ? await speak(DEFAULT_WORDS, 16000) : undefined;
  const config = loadLabConfig({ ...process.env, LOG_LEVEL: 'silent' });
  const lab = options.lab ?? `http://${config.LAB_HOST}:${config.LAB_ACS_PORT}`;

  const socket = new WebSocket(`${lab.replace(/^http/, 'ws')}/lab/callee`);
  socket.binaryType = 'nodebuffer';
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', (error: NodeJS.ErrnoException) =>
      reject(new CalleeRunError(`cannot reach the lab's ACS emulator at ${lab} (${error.code ?? error.message}): start the lab with npm start, or give its address with --lab`)),
    );
  });
  const send = (message: object) => socket.readyState === WebSocket.OPEN && socket.send(JSON.stringify(message));

  const heard: Int16Array[] = [];
  let heardSamples = 0;
  let sampleRateHz = 0;
  let ringingAt = 0;
  let lastHeardAt = 0;
  let spokeUntil = 0;
  let hungUpByUs = false;
  const agentSaid: string[] = [];
  const timers: NodeJS.Timeout[] = [];
  const after = (ms: number, task: () => void) => timers.push(setTimeout(task, ms));
  const at = () => `${((Date.now() - ringingAt) / 1000).toFixed(1).padStart(6)} s`;
  const hangUp = (why: string) => {
    if (hungUpByUs) return;
    hungUpByUs = true;
    out(`${at()}  hanging up (${why})`);
    send({ type: 'hangup' });
  };

  function onRinging(message: { callId: string; from: string }): void {
    ringingAt = Date.now();
    out(`${at()}  ringing: call ${message.callId} from ${message.from}`);
    switch (plan.kind) {
      case 'busy':
        out(`${at()}  busy`);
        return void send({ type: 'busy' });
      case 'decline':
        after(plan.afterMs, () => {
          out(`${at()}  declining`);
          send({ type: 'decline' });
        });
        return;
      case 'noAnswer':
        return out(`${at()}  letting it ring`);
      case 'human':
      case 'voicemail':
        after(plan.answerAfterMs, () => {
          out(`${at()}  answering${plan.kind === 'voicemail' ? ' (the mailbox)' : ''}`);
          send({ type: 'accept' });
        });
        return;
    }
  }

  /** Media flows: say what the plan says, at the call's rate, in one piece (the emulator paces it in 20 ms frames). */
  function onMedia(rateHz: number): void {
    sampleRateHz = rateHz;
    out(`${at()}  media connected (${rateHz} Hz)`);
    if (plan.kind === 'human') {
      const source = audio ?? words!;
      const samples = resampleLinear(source.samples, source.sampleRateHz, rateHz);
      socket.send(Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength));
      const ms = (samples.length / rateHz) * 1000;
      spokeUntil = Date.now() + ms;
      out(`${at()}  saying ${plan.play ?? `"${DEFAULT_WORDS}"`} (${(ms / 1000).toFixed(1)} s)`);
      after(plan.hangUpAfterMs ?? PERSON_MAX_CALL_MS, () => hangUp(plan.hangUpAfterMs === undefined ? 'the call went on too long' : '--hang-up-after'));
      const watch = setInterval(() => {
        const now = Date.now();
        if (plan.hangUpAfterMs === undefined && now - Math.max(spokeUntil, lastHeardAt) >= QUIET_BEFORE_HANG_UP_MS) {
          clearInterval(watch);
          hangUp(`the agent was quiet ${QUIET_BEFORE_HANG_UP_MS / 1000} s`);
        }
      }, 100);
      timers.push(watch);
    } else if (plan.kind === 'voicemail') {
      const greeting = resampleLinear(audio!.samples, audio!.sampleRateHz, rateHz);
      const beep = tone({ frequencyHz: 1000, durationMs: BEEP_MS, sampleRateHz: rateHz, amplitude: 0.3 });
      const both = concat([greeting, beep]);
      socket.send(Buffer.from(both.buffer, both.byteOffset, both.byteLength));
      const greetingMs = (greeting.length / rateHz) * 1000;
      out(`${at()}  playing the greeting ${plan.greeting} (${(greetingMs / 1000).toFixed(1)} s), then a beep`);
      after(greetingMs + BEEP_MS, () => out(`${at()}  beep: recording for ${(plan.recordForMs / 1000).toFixed(1)} s`));
      after(greetingMs + BEEP_MS + plan.recordForMs, () => hangUp('the mailbox stopped recording'));
    }
  }

  function onTimeline(entry: TimelineEntry): void {
    const detail = (entry.detail ?? {}) as Record<string, unknown>;
    if (entry.source === 'media' && entry.type === 'connected') return; // the `format` message says it
    if (entry.source === 'voice-live' && entry.type === 'response.audio_transcript.done' && typeof detail.transcript === 'string') {
      agentSaid.push(detail.transcript);
      return out(`${at()}  agent: "${detail.transcript}"`);
    }
    if (entry.source === 'voice-live' && entry.type === 'conversation.item.input_audio_transcription.completed' && typeof detail.transcript === 'string') {
      return out(`${at()}  the agent heard: "${detail.transcript}"`);
    }
    if (entry.source === 'media' && entry.type === 'agent-audio') return out(`${at()}  the agent speaks`);
    if (entry.source === 'acs' && entry.type === 'disconnected') {
      const reason = String(detail.reason ?? '');
      return out(`${at()}  hung up by ${reason === 'caller hung up' ? 'us' : reason.startsWith('app') ? 'the agent' : reason}`);
    }
    if (entry.source === 'acs' && entry.type === 'unanswered') return out(`${at()}  the lab stopped ringing: no answer after ${(Number(detail.afterMs) / 1000).toFixed(1)} s`);
    if (entry.source === 'callback' && (entry.type === 'CallConnected' || entry.type === 'CreateCallFailed' || entry.type === 'CallDisconnected')) {
      return out(`${at()}  ACS → app: ${entry.type}${detail.status !== undefined ? ` (answered ${String(detail.status)})` : ''}`);
    }
  }

  const ended = new Promise<{ state: string; outcome: string }>((resolve, reject) => {
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) {
        const frame = new Int16Array(data.length / 2);
        new Uint8Array(frame.buffer).set(data.subarray(0, frame.length * 2));
        heard.push(frame);
        heardSamples += frame.length;
        lastHeardAt = Date.now();
        return;
      }
      const message = JSON.parse(data.toString()) as ServerMessage;
      switch (message.type) {
        case 'registered':
          out(`callee ${message.phoneNumber} and ${message.rawId}, registered with the lab at ${lab}: ${describePlan(plan)}`);
          out(`waiting for a call to either (POST /api/calls {"to":"${message.phoneNumber}"} or npm run calls; Ctrl-C to stop)`);
          return;
        case 'ringing':
          return onRinging(message);
        case 'format':
          return onMedia(message.sampleRateHz);
        case 'timeline':
          return onTimeline(message.entry);
        case 'ended':
          return resolve(message);
        case 'error':
          if (/^cannot register/.test(message.message)) return reject(new CalleeRunError(message.message));
          return out(`lab: ${message.message}`);
      }
    });
    socket.once('close', () => reject(new CalleeRunError(`the lab at ${lab} closed the connection (was it stopped?)`)));
  });
  send({ type: 'register', name: 'callee', ...(options.number ? { number: options.number } : {}) });

  try {
    const { state, outcome } = await ended;
    const heardMs = sampleRateHz ? (heardSamples / sampleRateHz) * 1000 : 0;
    out(
      `outcome: ${outcome === 'unanswered' ? 'no answer' : outcome} (call ${state})` +
        (outcome === 'answered' ? `; heard ${(heardMs / 1000).toFixed(1)} s of agent audio; the agent said ${agentSaid.length} thing${agentSaid.length === 1 ? '' : 's'}; hung up by ${hungUpByUs ? 'us' : 'the agent'}` : ''),
    );
    if (outPath && sampleRateHz) {
      writeFileSync(outPath, writeWav({ sampleRateHz, samples: concat(heard) }));
      out(`what the callee heard: ${outPath}`);
    }
  } finally {
    for (const timer of timers) clearTimeout(timer);
    socket.close();
  }
}

function describePlan(plan: CalleePlan): string {
  switch (plan.kind) {
    case 'human':
      return `answers after ${plan.answerAfterMs / 1000} s and says ${plan.play ?? `"${DEFAULT_WORDS}"`}, hangs up ${plan.hangUpAfterMs === undefined ? `once the agent has been quiet ${QUIET_BEFORE_HANG_UP_MS / 1000} s` : `${plan.hangUpAfterMs / 1000} s after answering`}`;
    case 'voicemail':
      return `a mailbox: answers after ${plan.answerAfterMs / 1000} s, plays ${plan.greeting} and a beep, records ${plan.recordForMs / 1000} s`;
    case 'busy':
      return 'busy';
    case 'decline':
      return `declines after ringing ${plan.afterMs / 1000} s`;
    case 'noAnswer':
      return 'never answers';
  }
}
