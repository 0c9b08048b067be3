import type { TimelineEntry } from './acs/timeline.js';

export interface TurnLatency {
  /** 'greeting' for the agent's opening, else the caller turn's number (1, 2, ...). */
  turn: 'greeting' | number;
  /**
   * When the caller really stopped speaking (the last speech frame sent; media start for the greeting);
   * undefined if the caller's audio has no speech end before this turn's VAD end.
   */
  speechEndedAtMs: number | undefined;
  /** What the caller experiences: from the real end of their speech to the first agent audio heard; undefined if none. */
  firstAudioMs: number | undefined;
  /** When Voice Live's VAD ended the turn (`speech_stopped`: the speech end plus the silence it waits for); media start for the greeting. */
  vadEndedAtMs: number;
  /** VAD-based figure: from `speech_stopped` to the first agent audio; leaves out the VAD's silence wait. */
  firstAudioAfterVadMs: number | undefined;
}

export interface BargeIn {
  atMs: number;
  /** Caller speech onset (from the audio sent) to the agent's speech being detected by Voice Live. */
  detectMs: number | undefined;
  /** Caller speech onset to StopAudio at ACS (the caller stops hearing the agent). */
  reactionMs: number | undefined;
  /** Agent audio still queued at ACS and never played. */
  droppedMs: number | undefined;
}

export interface CallAnalysis {
  turns: TurnLatency[];
  bargeIns: BargeIn[];
}

/**
 * Reads a call's timeline: time to first agent audio per turn, from the real end of the caller's speech
 * (`callerSpeechEndsMs`) and from Voice Live's `speech_stopped`, and barge-in reaction times measured from the
 * caller's speech onsets (`callerOnsetsMs`). Both lists are on the timeline's clock.
 */
export function analyseCall(entries: readonly TimelineEntry[], callerOnsetsMs: readonly number[] = [], callerSpeechEndsMs: readonly number[] = []): CallAnalysis {
  const agentAudio = entries.filter((e) => e.source === 'media' && e.type === 'agent-audio').map((e) => e.atMs);
  const firstAudioAfter = (t: number) => agentAudio.find((a) => a >= t);
  const turns: TurnLatency[] = [];
  const mediaStart = entries.find((e) => e.source === 'media' && e.type === 'connected');
  if (mediaStart) {
    const first = firstAudioAfter(mediaStart.atMs);
    const firstTurnEnd = entries.find((e) => e.type === 'input_audio_buffer.speech_stopped')?.atMs ?? Infinity;
    // Audio before the caller's first turn ended is the greeting.
    const firstAudioMs = first !== undefined && first < firstTurnEnd ? round(first - mediaStart.atMs) : undefined;
    turns.push({ turn: 'greeting', speechEndedAtMs: mediaStart.atMs, firstAudioMs, vadEndedAtMs: mediaStart.atMs, firstAudioAfterVadMs: firstAudioMs });
  }
  let turn = 0;
  let previousVadEndMs = -Infinity;
  for (const e of entries) {
    if (e.source !== 'voice-live' || e.type !== 'input_audio_buffer.speech_stopped') continue;
    const first = firstAudioAfter(e.atMs);
    // The speech this turn ended: the caller's last speech end before Voice Live's VAD noticed it.
    const speechEnd = [...callerSpeechEndsMs].reverse().find((end) => end <= e.atMs && end > previousVadEndMs);
    previousVadEndMs = e.atMs;
    turns.push({
      turn: ++turn,
      speechEndedAtMs: speechEnd,
      firstAudioMs: first === undefined || speechEnd === undefined ? undefined : round(first - speechEnd),
      vadEndedAtMs: e.atMs,
      firstAudioAfterVadMs: first === undefined ? undefined : round(first - e.atMs),
    });
  }

  const bargeIns: BargeIn[] = [];
  for (const stop of entries.filter((e) => e.source === 'media' && e.type === 'StopAudio')) {
    const detected = [...entries].reverse().find((e) => e.type === 'input_audio_buffer.speech_started' && e.atMs <= stop.atMs);
    const onset = [...callerOnsetsMs].reverse().find((o) => o <= stop.atMs);
    bargeIns.push({
      atMs: stop.atMs,
      detectMs: onset !== undefined && detected ? round(detected.atMs - onset) : undefined,
      reactionMs: onset !== undefined ? round(stop.atMs - onset) : undefined,
      droppedMs: typeof stop.detail?.droppedMs === 'number' ? stop.detail.droppedMs : undefined,
    });
  }
  return { turns, bargeIns };
}

/** One line per turn for the console: the caller's figure first, the VAD-based one beside it. */
export function formatTurnLatencies(turns: readonly TurnLatency[]): string[] {
  const ms = (value: number | undefined) => (value === undefined ? '–' : `${value} ms`);
  return turns.map((t) =>
    t.turn === 'greeting'
      ? `  ${'greeting'.padEnd(9)} ${ms(t.firstAudioMs)} from media start`
      : `  ${String(t.turn).padEnd(9)} ${ms(t.firstAudioMs)} from the end of the caller's speech (VAD-based: ${ms(t.firstAudioAfterVadMs)} from speech_stopped)`,
  );
}

const SPEECH_GAP_FRAMES = 10;

function loudFrames(samples: Int16Array, sampleRateHz: number, threshold: number): boolean[] {
  const frame = sampleRateHz / 50;
  const loud: boolean[] = [];
  for (let i = 0; i + frame <= samples.length; i += frame) {
    let sum = 0;
    for (let j = i; j < i + frame; j++) sum += samples[j]! * samples[j]!;
    loud.push(Math.sqrt(sum / frame) / 32768 >= threshold);
  }
  return loud;
}

/** Start times (ms from the first sample) of speech bursts in 20 ms frames: loud after at least 200 ms of quiet. */
export function speechOnsets(samples: Int16Array, sampleRateHz: number, threshold = 0.012): number[] {
  const onsets: number[] = [];
  let quietFrames = SPEECH_GAP_FRAMES;
  loudFrames(samples, sampleRateHz, threshold).forEach((loud, index) => {
    if (loud && quietFrames >= SPEECH_GAP_FRAMES) onsets.push(index * 20);
    quietFrames = loud ? 0 : quietFrames + 1;
  });
  return onsets;
}

/** End times (ms from the first sample) of speech bursts: the end of the last loud frame before 200 ms of quiet (or the end). */
export function speechEnds(samples: Int16Array, sampleRateHz: number, threshold = 0.012): number[] {
  const ends: number[] = [];
  const frames = loudFrames(samples, sampleRateHz, threshold);
  let lastLoud: number | undefined;
  frames.forEach((loud, index) => {
    if (loud) lastLoud = index;
    else if (lastLoud !== undefined && index - lastLoud >= SPEECH_GAP_FRAMES) {
      ends.push((lastLoud + 1) * 20);
      lastLoud = undefined;
    }
  });
  if (lastLoud !== undefined) ends.push((lastLoud + 1) * 20);
  return ends;
}

const round = (ms: number) => Math.round(ms);
