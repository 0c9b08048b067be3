import { describe, expect, it } from 'vitest';
import { Playout, type PlayoutTimers } from './playout.js';

/** A clock the test moves by hand; timers fire when time passes their deadline (late, like real ones, if asked). */
class FakeTimers implements PlayoutTimers {
  time = 0;
  private timers: { at: number; callback: () => void; id: number }[] = [];
  private nextId = 1;
  lateByMs = 0;
  now = () => this.time;
  setTimer = (callback: () => void, delayMs: number) => {
    const id = this.nextId++;
    this.timers.push({ at: this.time + delayMs + this.lateByMs, callback, id });
    return id;
  };
  clearTimer = (handle: unknown) => {
    this.timers = this.timers.filter((t) => t.id !== handle);
  };
  advance(ms: number, stepMs = 1) {
    const end = this.time + ms;
    while (this.time < end) {
      this.time = Math.min(end, this.time + stepMs);
      for (;;) {
        const due = this.timers.filter((t) => t.at <= this.time).sort((a, b) => a.at - b.at)[0];
        if (!due) break;
        this.timers = this.timers.filter((t) => t !== due);
        due.callback();
      }
    }
  }
}

const FRAME = 640; // 20 ms at 16 kHz

function setup(maxLeadMs = 160, lateByMs = 0) {
  const timers = new FakeTimers();
  timers.lateByMs = lateByMs;
  const sent: { at: number; frame: Buffer; itemId: string }[] = [];
  const playout = new Playout({ frameBytes: FRAME, maxLeadMs, timers, send: (frame, itemId) => sent.push({ at: timers.time, frame: Buffer.from(frame), itemId }) });
  return { timers, sent, playout };
}

const audio = (ms: number, fill = 1) => Buffer.alloc((ms / 20) * FRAME, fill);

describe('Playout', () => {
  it('sends up to the lead at once, then paces the rest at real time', () => {
    const { timers, sent, playout } = setup(160);
    playout.enqueue('item1', audio(1000));
    expect(sent).toHaveLength(8);
    timers.advance(1000);
    expect(sent).toHaveLength(50);
    // By the end, everything sent has had time to play except the lead.
    expect(playout.leadMs()).toBeLessThanOrEqual(160);
  });

  it('never lets the lead exceed the bound, even when timers fire late', () => {
    const { timers, sent, playout } = setup(160, 37);
    playout.enqueue('item1', audio(2000));
    let sentMs = 0;
    let count = 0;
    for (let t = 0; t < 2200; t++) {
      sentMs += (sent.length - count) * 20;
      count = sent.length;
      expect(sentMs - timers.time).toBeLessThanOrEqual(160);
      timers.advance(1);
    }
    expect(sent).toHaveLength(100);
  });

  it('cuts audio into exact frames and pads the last one of an item with silence', () => {
    const { sent, playout } = setup();
    playout.enqueue('item1', Buffer.alloc(500, 7));
    expect(sent).toHaveLength(0);
    playout.enqueue('item1', Buffer.alloc(500, 7));
    expect(sent).toHaveLength(1);
    playout.finishItem('item1');
    expect(sent).toHaveLength(2);
    expect(sent.every((s) => s.frame.length === FRAME)).toBe(true);
    expect(sent[1]!.frame.subarray(0, 360).every((b) => b === 7)).toBe(true);
    expect(sent[1]!.frame.subarray(360).every((b) => b === 0)).toBe(true);
  });

  it('keeps bytes identical through framing', () => {
    const { timers, sent, playout } = setup();
    const input = Buffer.from(Array.from({ length: 10 * FRAME }, (_, i) => (i * 31) % 256));
    for (let i = 0; i < input.length; i += 333) playout.enqueue('x', input.subarray(i, i + 333));
    playout.finishItem('x');
    timers.advance(500);
    expect(Buffer.concat(sent.map((s) => s.frame))).toEqual(input);
  });

  it('knows how much of an item the caller has heard', () => {
    const { timers, playout } = setup(160);
    playout.enqueue('a', audio(1000));
    expect(playout.heardMs('a')).toBe(0);
    timers.advance(300);
    expect(playout.heardMs('a')).toBe(300);
    expect(playout.receivedMs('a')).toBe(1000);
  });

  it('heard stops at the audio received, not the silence padding', () => {
    const { timers, playout } = setup(160);
    playout.enqueue('a', Buffer.alloc(FRAME + 320));
    playout.finishItem('a');
    timers.advance(200);
    expect(playout.heardMs('a')).toBe(30);
  });

  it('after clear, drops the queue, keeps what was heard and restarts the clock', () => {
    const { timers, sent, playout } = setup(160);
    playout.enqueue('a', audio(1000));
    timers.advance(100);
    const before = sent.length;
    playout.clear();
    expect(playout.heardMs('a')).toBe(100);
    expect(playout.isAudible()).toBe(false);
    timers.advance(500);
    expect(sent.length).toBe(before);
    expect(playout.heardMs('a')).toBe(100);
    playout.enqueue('b', audio(40));
    expect(sent.length).toBe(before + 2);
  });

  it('lists the items the caller has not heard in full, with what was heard of each', () => {
    const { timers, playout } = setup(160);
    playout.enqueue('a', audio(200));
    playout.finishItem('a');
    playout.enqueue('b', audio(200));
    timers.advance(100);
    expect(playout.unheardItems()).toEqual([
      { itemId: 'a', heardMs: 100, receivedMs: 200 },
      { itemId: 'b', heardMs: 0, receivedMs: 200 },
    ]);
    timers.advance(250);
    expect(playout.unheardItems()).toEqual([{ itemId: 'b', heardMs: 150, receivedMs: 200 }]);
  });

  it('lists an item still streaming even when the caller has heard all of it that arrived (the model is behind)', () => {
    const { timers, playout } = setup(160);
    playout.enqueue('a', audio(40));
    timers.advance(100);
    expect(playout.heardMs('a')).toBe(40);
    expect(playout.unheardItems()).toEqual([{ itemId: 'a', heardMs: 40, receivedMs: 40 }]);
    playout.finishItem('a');
    expect(playout.unheardItems()).toEqual([]);
  });

  it('plays items in order without mixing them in one frame', () => {
    const { timers, sent, playout } = setup(160);
    playout.enqueue('a', Buffer.alloc(FRAME + 100, 1));
    playout.enqueue('b', Buffer.alloc(FRAME, 2));
    timers.advance(100);
    expect(sent.map((s) => s.itemId)).toEqual(['a', 'a', 'b']);
    expect(sent[1]!.frame[99]).toBe(1);
    expect(sent[1]!.frame[100]).toBe(0);
  });

  it('resumes at once after an underrun instead of bursting to catch up', () => {
    const { timers, sent, playout } = setup(160);
    playout.enqueue('a', audio(40));
    timers.advance(1000);
    playout.enqueue('a', audio(400));
    expect(sent).toHaveLength(2 + 8);
  });
});

describe('Playout timers', () => {
  it('arms no timer while the current item waits for more audio', () => {
    const timers = new FakeTimers();
    let armed = 0;
    const setTimer = timers.setTimer;
    timers.setTimer = (callback, delayMs) => (armed++, setTimer(callback, delayMs));
    const playout = new Playout({ frameBytes: FRAME, maxLeadMs: 160, timers, send: () => undefined });
    playout.enqueue('a', Buffer.alloc(FRAME + 100));
    timers.advance(1000);
    expect(armed).toBe(0);
    playout.enqueue('a', Buffer.alloc(FRAME * 20));
    timers.advance(1000);
    expect(armed).toBeGreaterThan(0);
    expect(armed).toBeLessThanOrEqual(10);
  });
});

describe('Playout with base64 audio (sendBase64)', () => {
  /** The same audio through the bytes path and the base64 path, on one clock: the frames must be identical. */
  function both(frameBytes: number, chunkSizes: number[], finish: boolean) {
    const timers = new FakeTimers();
    const viaBytes: { at: number; frame: string; itemId: string }[] = [];
    const viaText: { at: number; frame: string; itemId: string }[] = [];
    const bytes = new Playout({ frameBytes, maxLeadMs: 160, timers, send: (frame, itemId) => viaBytes.push({ at: timers.time, frame: frame.toString('base64'), itemId }) });
    const text = new Playout({ frameBytes, maxLeadMs: 160, timers, sendBase64: (frame, itemId) => viaText.push({ at: timers.time, frame, itemId }) });
    let n = 0;
    for (const size of chunkSizes) {
      const chunk = Buffer.from(Array.from({ length: size }, () => (n++ * 31) & 0xff));
      bytes.enqueue('a', chunk);
      text.enqueueBase64('a', chunk.toString('base64'), chunk.length);
      timers.advance(7);
    }
    if (finish) {
      bytes.finishItem('a');
      text.finishItem('a');
    }
    timers.advance(3000);
    return { viaBytes, viaText, heard: [bytes.heardMs('a'), text.heardMs('a')] };
  }

  it('sends the same frames at the same times as the bytes path, whatever the delta sizes', () => {
    for (const frameBytes of [640, 960]) {
      for (const sizes of [[frameBytes, frameBytes, frameBytes], [frameBytes * 5 + 300], [333, 1000, 17, 2222, 4], [3, 3, 3, 3, 3, 3, 1001]]) {
        const { viaBytes, viaText, heard } = both(frameBytes, sizes, true);
        expect(viaText.length).toBeGreaterThan(0);
        expect(viaText, `${frameBytes}: ${sizes.join(',')}`).toEqual(viaBytes);
        expect(heard[1]).toBe(heard[0]);
      }
    }
  });

  it('keeps a trailing partial frame until the item finishes, then pads it with silence', () => {
    const { viaText } = both(960, [960 * 2 + 90], false);
    expect(viaText).toHaveLength(2);
    const finished = both(960, [960 * 2 + 90], true).viaText;
    expect(finished).toHaveLength(3);
    const last = Buffer.from(finished[2]!.frame, 'base64');
    expect(last).toHaveLength(960);
    expect(last.subarray(90).every((b) => b === 0)).toBe(true);
  });

  it('wraps runs of two or more frames sent at once in one batch, and single frames in none', () => {
    const timers = new FakeTimers();
    const events: string[] = [];
    const playout = new Playout({
      frameBytes: FRAME,
      maxLeadMs: 160,
      timers,
      send: () => events.push('frame'),
      batch: { begin: () => events.push('begin'), end: () => events.push('end') },
    });
    playout.enqueue('a', audio(100));
    expect(events).toEqual(['begin', 'frame', 'frame', 'frame', 'frame', 'frame', 'end']);
    events.length = 0;
    timers.advance(100);
    playout.enqueue('a', audio(20));
    expect(events).toEqual(['frame']);
    events.length = 0;
    playout.enqueue('a', audio(400));
    timers.advance(200);
    expect(events.filter((e) => e === 'frame').length).toBeGreaterThan(10);
    expect(events[0]).toBe('begin');
    expect(events.filter((e) => e === 'begin')).toHaveLength(events.filter((e) => e === 'end').length);
    expect(events.join(',')).not.toMatch(/begin,frame,end/);
  });

  it('needs a way to send', () => {
    expect(() => new Playout({ frameBytes: FRAME, maxLeadMs: 160 })).toThrow(TypeError);
  });
});
