import { afterEach, describe, expect, it } from 'vitest';
import { startLab, type Lab } from '../../lab/lab.js';
import { CALL_EVENTS, loseReplica, nextVoiceLiveSession, oneTurn, replayedItems, replicaOf, stateHolds } from '../../lab/failover.js';

/**
 * A call survives losing its worker, through the whole lab with worker replicas as child processes: the
 * replica is killed (or drained), ACS reports the media failure, the Functions app restarts media, and the
 * worker that gets it continues the conversation from the call's Service Bus session state.
 */
describe('a call survives losing its worker', () => {
  let lab: Lab | undefined;
  afterEach(async () => {
    await lab?.close();
    lab = undefined;
  });

  const ECHO = 'You said this';

  it('two workers behind the ingress: new calls are spread over both', async () => {
    lab = await startLab({ workers: 2, greeting: false, logLevel: 'silent' });
    const calls = [await lab.placeCall(), await lab.placeCall()];
    await Promise.all(calls.map((c) => c.waitFor('MediaStreamingStarted', 15_000)));
    expect(new Set(calls.map((c) => replicaOf(lab!, c.callId).url)).size).toBe(2);
    expect(lab.ingress!.backends().map((b) => b.open)).toEqual([1, 1]);
  }, 90_000);

  it('a worker killed mid-call (SIGKILL): the call continues on the other with its conversation, not greeted again', async () => {
    lab = await startLab({ workers: 2, logLevel: 'silent' });
    const call = await lab.placeCall();
    await call.waitFor('MediaStreamingStarted', 15_000);
    await call.timeline.waitFor((e) => e.type === 'agent-audio', 15_000, 'the greeting');
    await oneTurn(call);
    await stateHolds(lab, call.callId, ECHO);
    const first = replicaOf(lab, call.callId);

    const { mediaGapMs } = await loseReplica(lab, call, { signal: 'SIGKILL' });
    expect(replicaOf(lab, call.callId).url).not.toBe(first.url);
    expect(call.state).toBe('connected');

    const second = await nextVoiceLiveSession(lab, call.callId);
    // The earlier turns are in the new session before anything else happens there: greeting, caller, echo.
    await expect.poll(() => replayedItems(second!).map((i) => i.role), { timeout: 5000 }).toEqual(expect.arrayContaining(['assistant', 'user']));
    const replayed = replayedItems(second!);
    expect(replayed.some((i) => i.role === 'user' && /s of speech/.test(i.text))).toBe(true);
    expect(replayed.some((i) => i.role === 'assistant' && i.text.includes(ECHO))).toBe(true);
    // No second greeting: nothing asks the new session for a response until the caller speaks.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(second!.received.filter((r) => r.type === 'response.create')).toEqual([]);

    await oneTurn(call);
    expect(call.state).toBe('connected');
    await call.hangUp();
    await expect(call.ended()).resolves.toBe('disconnected');

    // One record for the call, continued: both workers' turns, from the call's start.
    await expect.poll(() => lab!.serviceBus.messages('call-records').filter((m) => (m.body as { callId?: string }).callId === call.callId).length, { timeout: 10_000 }).toBe(1);
    const record = lab.serviceBus.messages('call-records').find((m) => (m.body as { callId?: string }).callId === call.callId)!.body as { turns: unknown[]; outcome: { kind: string } };
    expect(record.turns.length).toBeGreaterThanOrEqual(2);
    expect(record.outcome.kind).toBe('caller_hung_up');
    // The call is over: nothing is carried any more.
    await expect.poll(() => lab!.serviceBus.sessionState(CALL_EVENTS, call.callId)?.toString('utf8'), { timeout: 5000 }).toBe('null');
    console.info(`failover gap, other replica healthy: ${mediaGapMs} ms`);
  }, 120_000);

  it('the only worker killed and restarted 2 s later: the call waits in silence, then continues', async () => {
    lab = await startLab({ worker: 'child-process', logLevel: 'silent' });
    const call = await lab.placeCall();
    await call.waitFor('MediaStreamingStarted', 15_000);
    await call.timeline.waitFor((e) => e.type === 'agent-audio', 15_000, 'the greeting');
    await oneTurn(call);
    await stateHolds(lab, call.callId, ECHO);

    const { mediaGapMs } = await loseReplica(lab, call, { signal: 'SIGKILL', restartAfterMs: 2000 });
    expect(mediaGapMs).toBeGreaterThanOrEqual(2000);
    expect(call.state).toBe('connected');
    const second = await nextVoiceLiveSession(lab, call.callId);
    await expect.poll(() => replayedItems(second!).some((i) => i.role === 'assistant' && i.text.includes(ECHO)), { timeout: 5000 }).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(second!.received.filter((r) => r.type === 'response.create')).toEqual([]);
    await oneTurn(call);
    expect(call.state).toBe('connected');
    console.info(`failover gap, single replica restarted after 2 s: ${mediaGapMs} ms`);
  }, 120_000);

  it('a drain during a deploy (SIGTERM, calls outlasting the drain timeout): no call is dropped; each continues on the other worker', async () => {
    lab = await startLab({ workers: 2, greeting: false, logLevel: 'silent' });
    const calls = [await lab.placeCall(), await lab.placeCall(), await lab.placeCall()];
    await Promise.all(calls.map((c) => c.waitFor('MediaStreamingStarted', 15_000)));
    for (const c of calls) await oneTurn(c);
    await Promise.all(calls.map((c) => stateHolds(lab!, c.callId, ECHO)));
    const draining = lab.workers[0]!;
    const onIt = calls.filter((c) => replicaOf(lab!, c.callId) === draining);
    expect(onIt.length).toBeGreaterThan(0);

    const gaps = await Promise.all(onIt.map((c, i) => (i === 0 ? loseReplica(lab!, c, { signal: 'SIGTERM' }) : waitBack(c))));
    // While the old replica drained, a new call went to the other one.
    const late = await lab.placeCall();
    await late.waitFor('MediaStreamingStarted', 15_000);
    expect(replicaOf(lab, late.callId)).not.toBe(draining);

    for (const c of [...calls, late]) expect(c.state).toBe('connected');
    for (const c of onIt) {
      expect(replicaOf(lab, c.callId)).not.toBe(draining);
      const second = await nextVoiceLiveSession(lab!, c.callId);
      await expect.poll(() => replayedItems(second!).some((i) => i.role === 'assistant' && i.text.includes(ECHO)), { timeout: 5000 }).toBe(true);
      await oneTurn(c);
    }
    console.info(`failover gap at a drain: ${gaps.map((g) => g.mediaGapMs).join(', ')} ms`);

    async function waitBack(c: (typeof calls)[number]) {
      const dropped = await c.timeline.waitFor((e) => e.source === 'media' && e.type === 'closed', 30_000, 'media dropped');
      const back = await c.timeline.waitFor((e) => e.source === 'media' && e.type === 'connected' && e.atMs > dropped.atMs, 30_000, 'media back');
      return { mediaGapMs: Math.round(back.atMs - dropped.atMs) };
    }
  }, 150_000);
});
