/**
 * No-input handling: when the caller says nothing for a while after the agent has finished, the agent checks
 * that they are still there; after `maxPrompts` such check-ins with no answer it gives up (the controller says
 * goodbye and hangs up), so an abandoned line does not hold a Voice Live session open until the call cap.
 *
 * The clock only runs while nothing is going on: the agent responding or audible, the caller speaking, a tool
 * or a transfer under way all hold it at zero (`isBusy`). Time is read on each `tick`, which the owner calls
 * on a timer; the clock is injected so tests control it.
 */
export interface CallerSilenceOptions {
  /** Quiet time before each check-in. */
  promptAfterMs: number;
  /** Check-ins before giving up; 0 = give up at the first timeout. */
  maxPrompts: number;
  isBusy(): boolean;
  /** `prompt` counts from 1. */
  onPrompt(prompt: number, silentMs: number): void;
  onGiveUp(silentMs: number): void;
  now?: () => number;
}

export class CallerSilenceWatch {
  private readonly now: () => number;
  private quietSinceMs: number;
  private silentSinceMs: number;
  private prompts = 0;
  private gaveUp = false;

  constructor(private readonly options: CallerSilenceOptions) {
    if (!(options.promptAfterMs > 0)) throw new RangeError('CallerSilenceWatch: promptAfterMs must be positive');
    if (!Number.isInteger(options.maxPrompts) || options.maxPrompts < 0) throw new RangeError('CallerSilenceWatch: maxPrompts must be a whole number >= 0');
    this.now = options.now ?? (() => performance.now());
    this.quietSinceMs = this.now();
    this.silentSinceMs = this.quietSinceMs;
  }

  /** Check-ins made since the caller last spoke. */
  get promptsSinceCallerSpoke(): number {
    return this.prompts;
  }

  /** The caller spoke or pressed a key: the count of check-ins starts again. */
  callerActive(): void {
    this.prompts = 0;
    this.quietSinceMs = this.now();
    this.silentSinceMs = this.quietSinceMs;
  }

  tick(): void {
    if (this.gaveUp) return;
    const now = this.now();
    if (this.options.isBusy()) {
      this.quietSinceMs = now;
      return;
    }
    if (now - this.quietSinceMs < this.options.promptAfterMs) return;
    this.quietSinceMs = now;
    const silentMs = now - this.silentSinceMs;
    if (this.prompts < this.options.maxPrompts) {
      this.prompts++;
      this.options.onPrompt(this.prompts, silentMs);
    } else {
      this.gaveUp = true;
      this.options.onGiveUp(silentMs);
    }
  }
}
