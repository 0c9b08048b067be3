import { describe, expect, it } from 'vitest';
import type { ServerEvent } from '../voice-live/events.js';
import { ResponseGate } from './response-gate.js';

const created = (id: string) => ({ type: 'response.created', response: { id } }) as unknown as ServerEvent;
const done = (id: string) => ({ type: 'response.done', response: { id } }) as unknown as ServerEvent;

function gate() {
  const sent: (Record<string, unknown> | undefined)[] = [];
  let now = 0;
  const sender = { isOpen: true, createResponse: (r?: Record<string, unknown>) => void (sender.isOpen && sent.push(r)), createConversationItem: () => undefined };
  const g = new ResponseGate(() => sender, () => now);
  return { g, sent, sender, advance: (ms: number) => (now += ms) };
}

describe('response gate', () => {
  it('sends response.create at once when nothing is active, and holds the next until that response is done', () => {
    const { g, sent } = gate();
    g.request();
    expect(sent).toEqual([undefined]);
    g.onEvent(created('r1'));
    g.request({ instructions: 'x' });
    expect(sent).toHaveLength(1);
    g.onEvent(done('r1'));
    expect(sent).toEqual([undefined, { instructions: 'x' }]);
  });

  it('merges plain requests that wait together', () => {
    const { g, sent } = gate();
    g.onEvent(created('r1'));
    g.request();
    g.request();
    g.onEvent(done('r1'));
    expect(sent).toEqual([undefined]);
  });

  it('stops waiting for a response.created that never comes', () => {
    const { g, sent, advance } = gate();
    g.request();
    g.request({ n: 2 });
    expect(sent).toHaveLength(1);
    advance(3_500);
    expect(g.isIdle).toBe(true);
    g.dispose();
  });

  it('tells who waits for a response when it is done, or at once if it already was', async () => {
    const { g } = gate();
    g.onEvent(created('r1'));
    let resolved = false;
    const waiting = g.whenDone('r1').then(() => (resolved = true));
    await Promise.resolve();
    expect(resolved).toBe(false);
    g.onEvent(done('r1'));
    await waiting;
    await g.whenDone('r1');
  });

  it('releases everyone when a new Voice Live session takes over', async () => {
    const { g } = gate();
    g.onEvent(created('r1'));
    const waiting = g.whenDone('r1');
    g.reset();
    await waiting;
    expect(g.hasActiveResponse).toBe(false);
  });

  it('holds a request while Voice Live is not open and sends it when the new session takes over', () => {
    const { g, sent, sender } = gate();
    sender.isOpen = false;
    g.request({ n: 1 });
    expect(sent).toEqual([]);
    sender.isOpen = true;
    g.reset();
    expect(sent).toEqual([{ n: 1 }]);
    g.dispose();
  });

  it('sends again, on the new session, a request whose response.created never came from the old one', () => {
    const { g, sent } = gate();
    g.request({ n: 1 });
    g.reset();
    expect(sent).toEqual([{ n: 1 }, { n: 1 }]);
    g.onEvent(created('r1'));
    g.reset();
    expect(sent).toHaveLength(2);
  });
});
