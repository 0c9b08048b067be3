import { DTMF_KEYS, type DtmfKey } from './acs/media-leg.js';
import type { EmulatedCall } from './acs/emulator.js';

/** One key press of a scripted call: `key` at `atMs` after the call's media started. */
export interface KeyPress {
  key: DtmfKey;
  atMs: number;
}

export class DtmfScheduleError extends Error {
  readonly code = 'BAD_DTMF_SCHEDULE';
}

/**
 * Parses `--dtmf "1@3.5s,0@9s"`: comma-separated `<key>@<time>`, the time in seconds (`3.5s`) or milliseconds
 * (`3500ms`) after media starts. Keys 0-9, * and #. The presses come back in time order.
 */
export function parseDtmfSchedule(text: string): KeyPress[] {
  const presses = text
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part.length > 0)
    .map((part) => {
      const match = /^([0-9*#])@(\d+(?:\.\d+)?)(s|ms)$/.exec(part);
      if (!match) {
        throw new DtmfScheduleError(`--dtmf: "${part.slice(0, 20)}" is not <key>@<time> (keys ${DTMF_KEYS.join(' ')}; time like 3.5s or 3500ms), e.g. "1@3.5s,0@9s"`);
      }
      const atMs = Number(match[2]) * (match[3] === 's' ? 1000 : 1);
      return { key: match[1] as DtmfKey, atMs: Math.round(atMs) };
    });
  if (presses.length === 0) throw new DtmfScheduleError('--dtmf: no key presses given, e.g. "1@3.5s,0@9s"');
  return presses.sort((a, b) => a.atMs - b.atMs);
}

/** Presses each key on the call at its time after MediaStreamingStarted; returns a cancel function. */
export function pressKeysOnSchedule(call: EmulatedCall, presses: readonly KeyPress[]): () => void {
  const timers: NodeJS.Timeout[] = [];
  let cancelled = false;
  void call
    .waitFor('MediaStreamingStarted', 30_000)
    .then(() => {
      if (cancelled) return;
      for (const press of presses) timers.push(setTimeout(() => !call.isOver && call.pressKey(press.key), press.atMs));
    })
    .catch(() => undefined);
  return () => {
    cancelled = true;
    timers.forEach(clearTimeout);
  };
}
