import { afterEach, describe, expect, it } from 'vitest';
import { startLab, type Lab } from '../../lab/lab.js';
import type { PeerSession } from '../../lab/voice-live/index.js';
import { agentAudio, itemsOf, sleep, textOf } from './voice-live-items.js';

/**
 * Voice Live ends a session after 60 minutes; the worker opens the next one early and switches to it. Here the
 * emulator's sessions expire after 6 s and the worker renews 4 s ahead (VOICE_LIVE_RENEW_BEFORE_EXPIRY_MS), so the
 * new session is ready about 2 s into the call and a switch that cannot wait is forced at 5.2 s (expiry minus a
 * fifth of the lead).
 */
const SESSION_MS = 6000;
const RENEW_LEAD_MS = '4000';

let lab: Lab | undefined;
afterEach(async () => {
  await lab?.close();
  lab = undefined;
});

/** A call through the lab and its first Voice Live session; then the standby session, once it is configured. */
async function callWithStandby(): Promise<{ first: PeerSession; standby: () => Promise<PeerSession> }> {
  lab = await startLab({
    logLevel: 'silent',
    voiceLiveMode: 'scripted',
    voiceLiveSessionExpiresInMs: SESSION_MS,
    workerEnv: { VOICE_LIVE_RENEW_BEFORE_EXPIRY_MS: RENEW_LEAD_MS },
  });
  const call = await lab.placeCall();
  const first = await lab.voiceLive!.nextSession(15_000);
  await first.waitFor('session.update', undefined, 10_000);
  await call.waitFor('MediaStreamingStarted', 10_000);
  return {
    first,
    standby: async () => {
      const second = await lab!.voiceLive!.nextSession(10_000);
      await second.waitFor('session.update', undefined, 5_000);
      return second;
    },
  };
}

describe('session renewal through the lab (short sessions)', () => {
  it('caller speaking: a question asked while renewal is pending is answered by the old session before the switch, and both reach the new one', async () => {
    const { first, standby } = await callWithStandby();
    first.speechStarted();
    const second = await standby();
    first.speechStopped({ transcript: 'Yes, what is your address?' });
    await sleep(300);
    // The question waits for its answer: no switch yet.
    expect(first.closed).toBe(false);
    expect(itemsOf(second)).toEqual([]);
    await first.respondWithAudio(agentAudio(400), { transcript: 'It is one Main Street.' });
    await second.waitFor('conversation.item.create', (e) => (e.item as { role?: string }).role === 'assistant', 3000);
    expect(itemsOf(second)).toEqual([
      { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Yes, what is your address?' }] },
      { type: 'message', role: 'assistant', content: [{ type: 'text', text: 'It is one Main Street.' }] },
    ]);
    await expect.poll(() => first.closed, { timeout: 3000 }).toBe(true);
  }, 30_000);

  it('caller speaking: a question the old session never answered before the forced switch is handed to the new session, which is asked to answer it', async () => {
    const { first, standby } = await callWithStandby();
    first.speechStarted();
    const second = await standby();
    first.speechStopped({ transcript: 'Can you repeat the opening hours?' });
    const create = await second.waitFor('response.create', undefined, 6000);
    expect(create.response).toBeUndefined();
    expect(itemsOf(second)).toEqual([{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Can you repeat the opening hours?' }] }]);
    const types = second.received.map((r) => r.type);
    expect(types.indexOf('response.create')).toBeGreaterThan(types.indexOf('conversation.item.create'));
    await expect.poll(() => first.closed, { timeout: 3000 }).toBe(true);
  }, 30_000);

  it('agent speaking until the forced switch: the new session gets the reply as far as it came and is asked to finish it', async () => {
    const { first, standby } = await callWithStandby();
    const words = Array.from({ length: 60 }, (_, i) => `word${i}`);
    // 8 s of reply streamed in real time from about 1 s: still streaming at the forced switch (5.2 s).
    const speaking = first.respondWithAudio(agentAudio(8000), { transcript: words.join(' '), realTime: true, chunkMs: 100 });
    const second = await standby();
    const create = await second.waitFor('response.create', undefined, 6000);
    await speaking;
    expect(create.response).toBeUndefined();
    const items = itemsOf(second);
    expect(items.map((i) => i.role)).toEqual(['assistant', 'system']);
    const said = textOf(items[0]!);
    // A prefix of the reply, cut where the old session stopped: not empty, not all of it.
    expect(said.length).toBeGreaterThan(0);
    expect(words.join(' ').startsWith(said)).toBe(true);
    expect(said.split(' ').length).toBeLessThan(words.length);
    expect(textOf(items[1]!)).toMatch(/cut off mid-sentence.*Continue it from exactly there/);
    const types = second.received.map((r) => r.type);
    expect(types.lastIndexOf('conversation.item.create')).toBeLessThan(types.indexOf('response.create'));
    expect(first.closed).toBe(true);
  }, 30_000);

  it('after a switch, a barge-in cuts the replayed reply to what the caller heard, in its place on the new session', async () => {
    const { first, standby } = await callWithStandby();
    // The caller is speaking when the new session is ready, so the switch waits for the answer.
    first.speechStarted();
    const second = await standby();
    first.speechStopped({ transcript: 'When are you open?' });
    const transcript = 'Our opening hours are nine to five on weekdays and ten to two on Saturdays, closed on Sundays.';
    // 3 s of reply, all sent at once: the switch follows its response.done, while the caller still hears it.
    await first.respondWithAudio(agentAudio(3000), { transcript });
    const replayed = await second.waitFor('conversation.item.create', (e) => (e.item as { role?: string }).role === 'assistant', 3000);
    const replayedId = (replayed.item as { id: string }).id;
    expect(textOf(replayed.item as Record<string, unknown>)).toBe(transcript);
    await sleep(700);
    second.speechStarted();
    const deleted = await second.waitFor('conversation.item.delete', undefined, 3000);
    expect(deleted.item_id).toBe(replayedId);
    const replacement = await second.waitFor('conversation.item.create', (e) => (e.item as { id?: string }).id !== replayedId && (e.item as { role?: string }).role === 'assistant', 3000);
    const heard = textOf(replacement.item as Record<string, unknown>);
    expect(heard.endsWith('…')).toBe(true);
    expect(transcript.startsWith(heard.slice(0, -1))).toBe(true);
    expect(heard.length).toBeLessThan(transcript.length * 0.8);
    // No truncate of an item the new session never had.
    expect(second.received.filter((r) => r.type === 'conversation.item.truncate')).toEqual([]);
  }, 30_000);

  it('a barge-in on the old session after the new one was prepared: the new session gets the reply cut to what was heard, not as it was prepared', async () => {
    const { first, standby } = await callWithStandby();
    const transcript = 'We deliver on weekdays between eight and six, and on Saturdays between nine and one, never on Sundays.';
    // 4 s of reply, all sent at once: still playing when the new session is prepared (about 2 s in).
    await first.respondWithAudio(agentAudio(4000), { transcript });
    // A turn whose answer is pending keeps the switch waiting (no speech_started: the reply is not interrupted).
    first.speechStopped({ transcript: 'Hm.' });
    const second = await standby();
    const prepared = await second.waitFor('conversation.item.create', (e) => (e.item as { role?: string }).role === 'assistant', 3000);
    expect(textOf(prepared.item as Record<string, unknown>)).toBe(transcript);
    // Now the caller talks over the reply on the old session, then gets an answer there: the switch follows.
    first.speechStarted();
    await first.waitFor('conversation.item.truncate', undefined, 3000);
    first.speechStopped({ transcript: 'Sorry, when on Saturdays?' });
    await first.respondWithAudio(agentAudio(300), { transcript: 'Nine to one.' });
    const deleted = await second.waitFor('conversation.item.delete', undefined, 3000);
    expect(deleted.item_id).toBe((prepared.item as { id: string }).id);
    const replacement = await second.waitFor('conversation.item.create', (e) => (e.item as { role?: string }).role === 'assistant' && textOf(e.item as Record<string, unknown>) !== transcript, 3000);
    const heard = textOf(replacement.item as Record<string, unknown>);
    expect(heard.endsWith('…')).toBe(true);
    expect(transcript.startsWith(heard.slice(0, -1))).toBe(true);
  }, 30_000);
});
