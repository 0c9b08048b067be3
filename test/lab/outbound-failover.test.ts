import { afterEach, describe, expect, it } from 'vitest';
import { startLab, type Lab } from '../../lab/lab.js';
import type { EmulatedCall } from '../../lab/acs/emulator.js';
import { nextVoiceLiveSession, oneTurn, replicaOf, stateHolds } from '../../lab/failover.js';
import type { CallRecord } from '../../shared/call-record.js';

const LISTEN_FIRST_MS = 1500;

/**
 * An outbound call whose worker dies after the callee spoke: the worker that takes it over neither greets nor
 * "speaks first after the silence" (the callee has long spoken), and the record keeps how the call began.
 */
describe('an outbound call carried over to another worker', () => {
  let lab: Lab | undefined;
  afterEach(async () => {
    await lab?.close();
    lab = undefined;
  });

  it('does not listen first again: the new session gets no response request while the callee is quiet', async () => {
    lab = await startLab({ workers: 2, logLevel: 'silent', workerEnv: { OUTBOUND_LISTEN_FIRST_SILENCE_MS: String(LISTEN_FIRST_MS) } });
    const running = lab;
    running.acs.outbound.script('+15550108101', { kind: 'human', answerAfterMs: 100 });
    const response = await fetch(running.functions.urlOf('placeCall'), { method: 'POST', body: JSON.stringify({ to: '+15550108101' }) });
    const { callId } = (await response.json()) as { callId: string };
    const connectionId = async () => ((await (await fetch(running.functions.urlOf('callStatus', { callId }))).json()) as { callConnectionId?: string }).callConnectionId;
    await expect.poll(connectionId, { timeout: 10_000 }).toBeTruthy();
    const callConnectionId = await connectionId();
    const call = [...running.acs.calls.values()].find((c) => c.callConnectionId === callConnectionId) as EmulatedCall;
    // The callee's "Hello?" and the agent's answer to it.
    await call.timeline.waitFor((e) => e.type === 'agent-audio', 15_000, 'the agent answering the callee');
    await stateHolds(running, callId, 'You said this');
    const first = replicaOf(running, callId);

    // The replica holding the media (the ingress routes by our callId, in the media URL) dies; ACS's media fails and
    // the Functions app restarts it onto the other one.
    const lostAt = call.timeline.elapsedMs();
    await first.kill('SIGKILL');
    const dropped = await call.timeline.waitFor((e) => e.source === 'media' && e.type === 'closed' && e.atMs >= lostAt, 30_000, 'media dropped');
    await call.timeline.waitFor((e) => e.source === 'media' && e.type === 'connected' && e.atMs > dropped.atMs, 30_000, 'media connected again');
    expect(replicaOf(running, callId).url).not.toBe(first.url);
    const second = await nextVoiceLiveSession(running, callId);
    await new Promise((resolve) => setTimeout(resolve, LISTEN_FIRST_MS + 1500));
    expect(second.received.filter((r) => r.type === 'response.create')).toEqual([]);

    await oneTurn(call);
    await call.hangUp();
    const find = () => running.serviceBus.messages('call-records').find((m) => (m.body as { callId?: string }).callId === callId);
    await expect.poll(() => find() !== undefined, { timeout: 10_000 }).toBe(true);
    expect((find()!.body as CallRecord).outbound).toMatchObject({ outcome: 'human', firstWords: 'callee', attempt: 1 });
  }, 120_000);
});
