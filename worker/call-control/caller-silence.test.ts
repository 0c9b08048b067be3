import { describe, expect, it } from 'vitest';
import { CallerSilenceWatch } from './caller-silence.js';

function watch(options: { promptAfterMs?: number; maxPrompts?: number } = {}) {
  const state = { time: 0, busy: false };
  const happened: string[] = [];
  const w = new CallerSilenceWatch({
    promptAfterMs: options.promptAfterMs ?? 1000,
    maxPrompts: options.maxPrompts ?? 2,
    isBusy: () => state.busy,
    onPrompt: (n, silentMs) => happened.push(`prompt ${n} after ${silentMs}`),
    onGiveUp: (silentMs) => happened.push(`give up after ${silentMs}`),
    now: () => state.time,
  });
  /** Moves the clock in 100 ms ticks. */
  const advance = (ms: number) => {
    for (let t = 0; t < ms; t += 100) {
      state.time += 100;
      w.tick();
    }
  };
  return { state, happened, w, advance };
}

describe('CallerSilenceWatch', () => {
  it('checks in after each quiet period, then gives up once the check-ins are used', () => {
    const { happened, advance } = watch();
    advance(3000);
    expect(happened).toEqual(['prompt 1 after 1000', 'prompt 2 after 2000', 'give up after 3000']);
    advance(5000);
    expect(happened).toHaveLength(3);
  });

  it('holds the clock while anything is going on (the agent speaking its check-in counts)', () => {
    const { state, happened, advance } = watch();
    advance(1000);
    expect(happened).toEqual(['prompt 1 after 1000']);
    state.busy = true;
    advance(4000);
    state.busy = false;
    advance(900);
    expect(happened).toHaveLength(1);
    advance(100);
    expect(happened).toEqual(['prompt 1 after 1000', 'prompt 2 after 6000']);
  });

  it('starts the count again when the caller speaks', () => {
    const { w, happened, advance } = watch();
    advance(2000);
    expect(w.promptsSinceCallerSpoke).toBe(2);
    w.callerActive();
    expect(w.promptsSinceCallerSpoke).toBe(0);
    advance(2000);
    expect(happened).toEqual(['prompt 1 after 1000', 'prompt 2 after 2000', 'prompt 1 after 1000', 'prompt 2 after 2000']);
  });

  it('with no check-ins allowed, gives up at the first timeout', () => {
    const { happened, advance } = watch({ maxPrompts: 0 });
    advance(1000);
    expect(happened).toEqual(['give up after 1000']);
  });

  it('refuses a non-positive quiet time or a fractional count', () => {
    const base = { isBusy: () => false, onPrompt: () => undefined, onGiveUp: () => undefined };
    expect(() => new CallerSilenceWatch({ ...base, promptAfterMs: 0, maxPrompts: 1 })).toThrow(/promptAfterMs/);
    expect(() => new CallerSilenceWatch({ ...base, promptAfterMs: 10, maxPrompts: 1.5 })).toThrow(/maxPrompts/);
  });
});
