import type { EmulatedCall, PlaceCallOptions } from './acs/emulator.js';
import { analyseCall, speechEnds, speechOnsets, type CallAnalysis } from './call-analysis.js';
import { resampleLinear } from './audio/signal.js';
import type { Pcm16Audio } from './audio/wav.js';

export interface ScriptedCallOptions {
  /** What the caller says, from the moment media starts. Any rate: converted to the call's. */
  caller: Pcm16Audio;
  /** After the caller's audio ends, wait until the agent has been quiet this long (default 1500 ms)... */
  quietMs?: number;
  /** ...but no longer than this (default 15 s). */
  maxTailMs?: number;
  from?: string;
  /** How long to wait for the call to connect and media to start (default 20 s). */
  connectTimeoutMs?: number;
}

export interface ScriptedCallResult {
  call: EmulatedCall;
  sampleRateHz: number;
  /** The caller's audio at the call rate and when (timeline clock) it started. */
  caller: Int16Array;
  callerStartMs: number;
  /** What the caller heard, in real time (silence where nothing played), and when it starts. */
  heard: Int16Array;
  heardStartMs: number;
  analysis: CallAnalysis;
}

/** Places a call, plays the caller's audio, records what the caller hears, hangs up and reads the timeline. */
export async function runScriptedCall(placeCall: (o?: PlaceCallOptions) => Promise<EmulatedCall>, options: ScriptedCallOptions): Promise<ScriptedCallResult> {
  const call = await placeCall(options.from ? { from: options.from } : {});
  const connectTimeoutMs = options.connectTimeoutMs ?? 20_000;
  const started = await Promise.race([
    call.waitFor('MediaStreamingStarted', connectTimeoutMs),
    call.ended().then((state) => {
      throw new Error(`the call ended (${state}) before media started`);
    }),
  ]);
  void started;
  const sampleRateHz = call.sampleRateHz!;
  const frameSamples = sampleRateHz / 50;
  const heardFrames: { slot: number; frame: Int16Array }[] = [];
  const heardStartMs = call.timeline.elapsedMs();
  let lastHeardMs = heardStartMs;
  call.on('heard', (frame) => {
    const now = call.timeline.elapsedMs();
    lastHeardMs = now;
    heardFrames.push({ slot: Math.round((now - heardStartMs) / 20), frame });
  });

  const caller = resampleLinear(options.caller.samples, options.caller.sampleRateHz, sampleRateHz);
  // When each frame of the caller's audio really left: the call's 20 ms clock may be catching up, so a frame can
  // leave earlier or later than its place in the audio says.
  const sentAtMs = new Map<number, number>();
  let nextOffset = 0;
  call.on('callerFrameSent', (offsetSamples) => {
    sentAtMs.set(offsetSamples, call.timeline.elapsedMs());
    nextOffset = offsetSamples + frameSamples;
  });
  const callerStartMs = call.timeline.elapsedMs();
  const callerBaseOffset = nextOffset;
  call.say(caller);
  const callerMs = (caller.length / sampleRateHz) * 1000;

  const quietMs = options.quietMs ?? 1500;
  const deadline = callerStartMs + callerMs + (options.maxTailMs ?? 15_000);
  await sleep(callerMs + 100);
  const callerEndMs = callerStartMs + callerMs;
  // Done when the agent has been quiet for quietMs after the caller's audio, and no caller turn is still open.
  const turnOpen = () => {
    const vad = call.timeline.entries.filter((e) => e.type === 'input_audio_buffer.speech_started' || e.type === 'input_audio_buffer.speech_stopped');
    return vad.at(-1)?.type === 'input_audio_buffer.speech_started';
  };
  while (!call.isOver) {
    const now = call.timeline.elapsedMs();
    const quiet = now - Math.max(lastHeardMs, callerEndMs) >= quietMs && call.media?.queuedAgentMs === 0 && !turnOpen();
    if (now >= deadline || quiet) break;
    await sleep(50);
  }
  if (!call.isOver) await call.hangUp();
  await call.ended();

  const slots = heardFrames.length ? heardFrames.at(-1)!.slot + 1 : 0;
  const heard = new Int16Array(slots * frameSamples);
  let nextFree = 0;
  for (const { slot, frame } of heardFrames) {
    // Frames arrive on a 20 ms clock with timer jitter: keep them contiguous, never overlapping.
    const at = Math.max(slot, nextFree);
    if ((at + 1) * frameSamples > heard.length) break;
    heard.set(frame, at * frameSamples);
    nextFree = at + 1;
  }
  const onsets = speechOnsets(caller, sampleRateHz).map((ms) => {
    const frameOffset = callerBaseOffset + Math.floor((ms * sampleRateHz) / 1000 / frameSamples) * frameSamples;
    return sentAtMs.get(frameOffset) ?? ms + callerStartMs;
  });
  // The caller's speech really ended when the frame with its last loud audio left (the audio is in the frame, so
  // the frame leaves once that audio has been spoken).
  const ends = speechEnds(caller, sampleRateHz).map((ms) => {
    const frameOffset = callerBaseOffset + (Math.ceil((ms * sampleRateHz) / 1000 / frameSamples) - 1) * frameSamples;
    return sentAtMs.get(frameOffset) ?? ms + callerStartMs;
  });
  return { call, sampleRateHz, caller, callerStartMs, heard, heardStartMs, analysis: analyseCall(call.timeline.entries, onsets, ends) };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
