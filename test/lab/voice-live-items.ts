import type { PeerSession } from '../../lab/voice-live/index.js';

/** Helpers for tests that read what the worker gave a Voice Live session (renewal, reconnect). */

const RATE_HZ = 24000;

/** `ms` of a steady, audible 24 kHz pattern: agent audio for a scripted response. */
export function agentAudio(ms: number): Int16Array {
  const samples = new Int16Array((RATE_HZ / 1000) * ms);
  for (let i = 0; i < samples.length; i++) samples[i] = Math.round(8000 * Math.sin((2 * Math.PI * 220 * i) / RATE_HZ));
  return samples;
}

export const textOf = (item: Record<string, unknown>) => (item.content as { text: string }[])[0]!.text;

/** The items a session was given, without the ids the worker gives replayed items and the lab's call-context note. */
export const itemsOf = (session: PeerSession) =>
  session.received
    .filter((r) => r.type === 'conversation.item.create')
    .map((r) => {
      const { id: _id, ...item } = r.event.item as Record<string, unknown>;
      return item;
    })
    .filter((item) => !(item.role === 'system' && textOf(item).startsWith('Call context')));

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
