import { readWav, type Pcm16Audio } from './audio/wav.js';
import { concat, resampleLinear, silence, tone } from './audio/signal.js';

export const DEFAULT_GREETING_TEXT = 'Hello, you are through to the local lab. Say something and I will say it back.';

export interface SpokenText extends Pcm16Audio {
  /** 'espeak-ng' when synthesised, 'tone' when the synthesiser could not run (the lab still works). */
  readonly source: 'espeak-ng' | 'tone';
  readonly text: string;
}

const cache = new Map<string, Promise<SpokenText>>();

/**
 * Speech synthesised offline with eSpeak NG (compiled to WebAssembly, shipped on npm), at the asked rate.
 * Results are cached in memory per text and rate; a failed synthesis falls back to a two-tone chime.
 */
export function speak(text: string, sampleRateHz: number): Promise<SpokenText> {
  const key = `${sampleRateHz}:${text}`;
  let pending = cache.get(key);
  if (!pending) {
    pending = synthesise(text).then(
      (audio) => ({ source: 'espeak-ng' as const, text, sampleRateHz, samples: resampleLinear(audio.samples, audio.sampleRateHz, sampleRateHz) }),
      () => ({ source: 'tone' as const, text, sampleRateHz, samples: chime(sampleRateHz) }),
    );
    cache.set(key, pending);
  }
  return pending;
}

/** The lab's spoken greeting at a given rate. */
export function greeting(sampleRateHz: number, text = DEFAULT_GREETING_TEXT): Promise<SpokenText> {
  return speak(text, sampleRateHz);
}

async function synthesise(text: string): Promise<Pcm16Audio> {
  const { default: ESpeakNg } = await import('espeak-ng');
  const path = '/tmp/lab-speech.wav';
  const espeak = await ESpeakNg({
    print: () => undefined,
    printErr: () => undefined,
    arguments: ['-v', 'en-us', '-s', '160', '-w', path, text],
  });
  const audio = readWav(espeak.FS.readFile(path));
  if (audio.samples.length === 0) throw new Error('espeak-ng produced no audio');
  return audio;
}

function chime(sampleRateHz: number): Int16Array {
  return concat([
    tone({ frequencyHz: 660, durationMs: 250, sampleRateHz }),
    silence(60, sampleRateHz),
    tone({ frequencyHz: 880, durationMs: 350, sampleRateHz }),
  ]);
}
