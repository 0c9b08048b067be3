import { describe, expect, it } from 'vitest';
import type { ServerEvent } from '../voice-live/events.js';
import { ResponseGate } from './response-gate.js';

const created = (id: string) => ({ type: 'response.created', response: { id } }) as unknown as ServerEvent;
const done = (id: string) => ({ type: 'response.done', response: { id } }) as unknown as ServerEvent;

function gate() {
  const sent: (Record<string, unknown> | undefined)[] = [];
  let now = 0;
  const g = new ResponseGate(() => ({ createResponse: (r) => void sent.push(r), createConversationItem: () => undefined }), () => now);
  return { g, sent, advance: (ms: number) => (now += ms) };
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
});
