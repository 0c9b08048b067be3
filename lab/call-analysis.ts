import type { TimelineEntry } from './acs/timeline.js';

export interface TurnLatency {
  /** 'greeting' for the agent's opening, else the caller turn's number (1, 2, ...). */
  turn: 'greeting' | number;
  /** When the turn ended: media start for the greeting, the end of the caller's speech (VAD) otherwise. */
  endedAtMs: number;
  /** Time from then to the first agent audio the caller heard; undefined if none came. */
  firstAudioMs: number | undefined;
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
 * Reads a call's timeline: time to first agent audio per turn, and barge-in reaction times measured from
 * the caller's speech onsets (`callerOnsetsMs`, on the same clock as the timeline).
 */
export function analyseCall(entries: readonly TimelineEntry[], callerOnsetsMs: readonly number[] = []): CallAnalysis {
  const agentAudio = entries.filter((e) => e.source === 'media' && e.type === 'agent-audio').map((e) => e.atMs);
  const firstAudioAfter = (t: number) => agentAudio.find((a) => a >= t);
  const turns: TurnLatency[] = [];
  const mediaStart = entries.find((e) => e.source === 'media' && e.type === 'connected');
  if (mediaStart) {
    const first = firstAudioAfter(mediaStart.atMs);
    const firstTurnEnd = entries.find((e) => e.type === 'input_audio_buffer.speech_stopped')?.atMs ?? Infinity;
    // Audio before the caller's first turn ended is the greeting.
    turns.push({ turn: 'greeting', endedAtMs: mediaStart.atMs, firstAudioMs: first !== undefined && first < firstTurnEnd ? round(first - mediaStart.atMs) : undefined });
  }
  let turn = 0;
  for (const e of entries) {
    if (e.source !== 'voice-live' || e.type !== 'input_audio_buffer.speech_stopped') continue;
    const first = firstAudioAfter(e.atMs);
    turns.push({ turn: ++turn, endedAtMs: e.atMs, firstAudioMs: first === undefined ? undefined : round(first - e.atMs) });
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

/** Start times (ms from the first sample) of speech bursts in 20 ms frames: loud after at least 200 ms of quiet. */
export function speechOnsets(samples: Int16Array, sampleRateHz: number, threshold = 0.012): number[] {
  const frame = sampleRateHz / 50;
  const onsets: number[] = [];
  let quietFrames = 10;
  for (let i = 0, index = 0; i + frame <= samples.length; i += frame, index++) {
    let sum = 0;
    for (let j = i; j < i + frame; j++) sum += samples[j]! * samples[j]!;
    const loud = Math.sqrt(sum / frame) / 32768 >= threshold;
    if (loud && quietFrames >= 10) onsets.push(index * 20);
    quietFrames = loud ? 0 : quietFrames + 1;
  }
  return onsets;
}

const round = (ms: number) => Math.round(ms);
