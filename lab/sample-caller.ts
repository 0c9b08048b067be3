import { concat, silence } from './audio/signal.js';
import type { Pcm16Audio } from './audio/wav.js';
import { speak } from './greeting.js';

/** What the sample caller says, turn by turn; the gaps leave the agent time to answer each turn. */
export const SAMPLE_CALLER_TURNS = ['Hello, I would like to check the status of my order, please.', 'Thank you, that is all I needed. Goodbye.'] as const;
// The caller waits for the greeting (the lab's takes about 5 s) before speaking, as a person would.
const LEAD_MS = 5000;
const GAP_MS = 5000;
const TAIL_MS = 1500;

export interface SampleCallerRecording extends Pcm16Audio {
  /** 'espeak-ng' when synthesised; 'tone' when the synthesiser could not run (a chime stands in for each turn). */
  readonly source: 'espeak-ng' | 'tone';
  readonly turns: readonly string[];
}

/**
 * A short caller recording made offline at first use (eSpeak NG, as the lab's greeting): two turns with room for
 * the agent's answers, so `npm run call` works with no recording of one's own.
 */
export async function sampleCallerRecording(sampleRateHz = 16000): Promise<SampleCallerRecording> {
  const spoken = await Promise.all(SAMPLE_CALLER_TURNS.map((text) => speak(text, sampleRateHz)));
  const parts: Int16Array[] = [silence(LEAD_MS, sampleRateHz)];
  spoken.forEach((turn, index) => parts.push(turn.samples, silence(index === spoken.length - 1 ? TAIL_MS : GAP_MS, sampleRateHz)));
  return {
    sampleRateHz,
    samples: concat(parts),
    source: spoken.every((turn) => turn.source === 'espeak-ng') ? 'espeak-ng' : 'tone',
    turns: SAMPLE_CALLER_TURNS,
  };
}
