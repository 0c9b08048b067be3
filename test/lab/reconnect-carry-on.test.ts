import { afterEach, describe, expect, it } from 'vitest';
import { startLab, type Lab } from '../../lab/lab.js';
import type { PeerSession } from '../../lab/voice-live/index.js';
import { agentAudio, itemsOf, sleep, textOf } from './voice-live-items.js';

/**
 * Voice Live drops a session mid-call (a network blip, a service restart): the worker opens a new one with the
 * conversation replayed. What the dropped session owed the caller is carried on, as at a forced renewal: a reply
 * the drop cut is finished from where it stopped, a turn left without an answer is answered.
 */

let lab: Lab | undefined;
afterEach(async () => {
  await lab?.close();
  lab = undefined;
});

async function callOnFirstSession(): Promise<PeerSession> {
  lab = await startLab({ logLevel: 'silent', voiceLiveMode: 'scripted', greeting: false });
  const call = await lab.placeCall();
  const first = await lab.voiceLive!.nextSession(15_000);
  await first.waitFor('session.update', undefined, 10_000);
  await call.waitFor('MediaStreamingStarted', 10_000);
  return first;
}

async function nextConfiguredSession(): Promise<PeerSession> {
  const next = await lab!.voiceLive!.nextSession(10_000);
  await next.waitFor('session.update', undefined, 5_000);
  return next;
}

describe('a Voice Live drop mid-call: the new session carries on', () => {
  it('the agent was speaking: the new session gets the reply as far as it came and is asked to finish it', async () => {
    const first = await callOnFirstSession();
    const words = Array.from({ length: 60 }, (_, i) => `word${i}`);
    const speaking = first.respondWithAudio(agentAudio(6000), { transcript: words.join(' '), realTime: true, chunkMs: 100 });
    await sleep(1500);
    first.drop(1011, 'server hiccup');
    await speaking.catch(() => undefined);
    const second = await nextConfiguredSession();
    const create = await second.waitFor('response.create', undefined, 5000);
    expect(create.response).toBeUndefined();
    const items = itemsOf(second);
    expect(items.map((i) => i.role)).toEqual(['assistant', 'system']);
    const said = textOf(items[0]!);
    expect(said.length).toBeGreaterThan(0);
    expect(words.join(' ').startsWith(said)).toBe(true);
    expect(said.split(' ').length).toBeLessThan(words.length);
    expect(textOf(items[1]!)).toMatch(/cut off mid-sentence.*Continue it from exactly there/);
    const types = second.received.map((r) => r.type);
    expect(types.lastIndexOf('conversation.item.create')).toBeLessThan(types.indexOf('response.create'));
  }, 30_000);

  it('the caller had asked something not yet answered: the new session gets the question and is asked to answer it', async () => {
    const first = await callOnFirstSession();
    first.speechStarted();
    first.speechStopped({ transcript: 'What time do you close today?' });
    await sleep(100);
    first.drop(1011, 'server hiccup');
    const second = await nextConfiguredSession();
    await second.waitFor('response.create', undefined, 5000);
    expect(itemsOf(second)).toEqual([{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'What time do you close today?' }] }]);
  }, 30_000);

  it('nothing was owed (a quiet moment): the new session is only given the conversation, and asked for nothing', async () => {
    const first = await callOnFirstSession();
    first.speechStarted();
    first.speechStopped({ transcript: 'Thanks.' });
    await first.respondWithAudio(agentAudio(200), { transcript: 'You are welcome.' });
    await sleep(300);
    first.drop(1011, 'server hiccup');
    const second = await nextConfiguredSession();
    await sleep(500);
    expect(itemsOf(second).map((i) => i.role)).toEqual(['user', 'assistant']);
    expect(second.received.some((r) => r.type === 'response.create')).toBe(false);
  }, 30_000);
});
