import type { EmulatedCall } from './acs/emulator.js';
import { tone } from './audio/signal.js';
import type { Lab, LabWorker } from './lab.js';
import type { PeerSession } from './voice-live/index.js';

/** Driving a lab call through the loss of its worker (the failover tests and `npm run bench:failover`): a call with a conversation, a replica lost under it. */

export const CALL_EVENTS = 'call-events';

/** The caller says something (a 700 ms tone) and the echo agent answers it; resolves once the caller heard the answer begin. */
export async function oneTurn(call: EmulatedCall, sampleRateHz = 24000): Promise<void> {
  const before = call.timeline.elapsedMs();
  call.say(tone({ frequencyHz: 300, durationMs: 700, sampleRateHz, amplitude: 0.4 }));
  await call.timeline.waitFor((e) => e.source === 'media' && e.type === 'agent-audio' && e.atMs > before + 700, 15_000, 'the agent answering the turn');
}

/** Waits until the call's carried state (its Service Bus session state) holds `text`. */
export async function stateHolds(lab: Lab, callId: string, text: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(lab.serviceBus.sessionState(CALL_EVENTS, callId)?.toString('utf8') ?? '').includes(text)) {
    if (Date.now() > deadline) throw new Error(`the carried state of ${callId} never held "${text}"`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The worker replica the call's media socket was last sent to. */
export function replicaOf(lab: Lab, callId: string): LabWorker {
  const url = lab.ingress?.routesOf(callId).at(-1) ?? lab.workers[0]?.url;
  const worker = lab.workers.find((w) => w.url === url);
  if (!worker) throw new Error(`no worker replica holds ${callId}`);
  return worker;
}

/** The Voice Live sessions opened for a call, in order (the worker names the call in session.update metadata). */
export function voiceLiveSessionsOf(lab: Lab, callId: string): PeerSession[] {
  return lab.voiceLive!.sessions.filter((session) =>
    session.received.some((r) => r.type === 'session.update' && ((r.event.session as { metadata?: { callId?: string } } | undefined)?.metadata?.callId === callId)),
  );
}

/** Items a session was given by `conversation.item.create` before anything happened in it: the replayed conversation. */
export function replayedItems(session: PeerSession): { role?: string; text: string }[] {
  return session.received
    .filter((r) => r.type === 'conversation.item.create' && String(r.event.event_id ?? '').startsWith('replay_'))
    .map((r) => {
      const item = r.event.item as { role?: string; content?: { text?: string }[] };
      return { ...(item.role ? { role: item.role } : {}), text: (item.content ?? []).map((c) => c.text ?? '').join(' ') };
    });
}

/**
 * Kills (or drains) the replica holding the call and measures the caller-side gap: from the moment the call's
 * media socket dropped until it is connected again to a worker (the caller hears silence in between).
 */
export async function loseReplica(
  lab: Lab,
  call: EmulatedCall,
  how: { signal: NodeJS.Signals; restartAfterMs?: number },
): Promise<{ mediaGapMs: number }> {
  const replica = replicaOf(lab, call.callId);
  const lostAt = call.timeline.elapsedMs();
  const killed = replica.kill(how.signal);
  if (how.restartAfterMs !== undefined) {
    await killed;
    await new Promise((resolve) => setTimeout(resolve, how.restartAfterMs));
    await replica.restart();
  }
  const dropped = await call.timeline.waitFor((e) => e.source === 'media' && e.type === 'closed' && e.atMs >= lostAt, 30_000, 'media dropped');
  const back = await call.timeline.waitFor((e) => e.source === 'media' && e.type === 'connected' && e.atMs > dropped.atMs, 30_000, 'media connected again');
  await killed;
  return { mediaGapMs: Math.round(back.atMs - dropped.atMs) };
}

/** The call's second Voice Live session (the one the worker that took the call over opened), once configured. */
export async function nextVoiceLiveSession(lab: Lab, callId: string, timeoutMs = 10_000): Promise<PeerSession> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const second = voiceLiveSessionsOf(lab, callId)[1];
    if (second) return second;
    if (Date.now() > deadline) throw new Error(`no second Voice Live session for ${callId}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
