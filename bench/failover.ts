import { CALL_EVENTS, loseReplica, oneTurn, stateHolds } from '../lab/failover.js';
import { startLab, type Lab } from '../lab/lab.js';

/**
 * `npm run bench:failover`: what a caller experiences when the worker holding the call is lost, measured
 * through the whole lab (worker replicas as processes, the ingress stand-in, the ACS emulator, the Functions
 * app's media restart with backoff), and what carrying the conversation costs per call in Service Bus
 * session state. The gap is from the media socket dropping to the call's media being connected again (the
 * caller hears silence in between). TRIALS (default 3) runs of each case.
 */
const TRIALS = Number(process.env.TRIALS ?? 3);
const ECHO = 'You said this';

async function callWithOneTurn(lab: Lab) {
  const call = await lab.placeCall();
  await call.waitFor('MediaStreamingStarted', 15_000);
  await call.timeline.waitFor((e) => e.type === 'agent-audio', 15_000, 'the greeting');
  await oneTurn(call);
  await stateHolds(lab, call.callId, ECHO);
  return call;
}

async function measure(name: string, options: Parameters<typeof startLab>[0], how: { signal: NodeJS.Signals; restartAfterMs?: number }): Promise<number[]> {
  const gaps: number[] = [];
  for (let trial = 0; trial < TRIALS; trial++) {
    const lab = await startLab({ ...options, logLevel: 'silent' });
    try {
      const call = await callWithOneTurn(lab);
      const { mediaGapMs } = await loseReplica(lab, call, how);
      await oneTurn(call);
      if (call.state !== 'connected') throw new Error(`${name}: the call did not survive (${call.state})`);
      gaps.push(mediaGapMs);
    } finally {
      await lab.close();
    }
  }
  return gaps;
}

async function stateCost(turns: number): Promise<{ writes: number; perMinute: number; lastBytes: number; largestBytes: number; callS: number }> {
  const lab = await startLab({ workers: 1, worker: 'child-process', logLevel: 'silent' });
  try {
    const call = await lab.placeCall();
    await call.waitFor('MediaStreamingStarted', 15_000);
    await call.timeline.waitFor((e) => e.type === 'agent-audio', 15_000, 'the greeting');
    const startedAt = Date.now();
    for (let turn = 0; turn < turns; turn++) {
      await oneTurn(call);
      // A caller pauses between turns as people do.
      await new Promise((resolve) => setTimeout(resolve, 2500));
    }
    const callS = (Date.now() - startedAt) / 1000;
    const writes = lab.serviceBus.sessionStateWrites(CALL_EVENTS, call.callId);
    return {
      writes: writes.length,
      perMinute: Math.round((writes.length / callS) * 60 * 10) / 10,
      lastBytes: writes.at(-1)?.bytes ?? 0,
      largestBytes: Math.max(0, ...writes.map((w) => w.bytes)),
      callS: Math.round(callS),
    };
  } finally {
    await lab.close();
  }
}

const summary = (gaps: number[]) => {
  const sorted = [...gaps].sort((a, b) => a - b);
  return `median ${sorted[Math.floor(sorted.length / 2)]} ms (min ${sorted[0]}, max ${sorted.at(-1)}; ${sorted.length} runs)`;
};

async function main(): Promise<void> {
  const healthy = await measure('other replica healthy', { workers: 2 }, { signal: 'SIGKILL' });
  process.stdout.write(`worker killed, another replica healthy:      ${summary(healthy)}\n`);
  const restarted = await measure('single replica restarted', { worker: 'child-process' }, { signal: 'SIGKILL', restartAfterMs: 2000 });
  process.stdout.write(`only worker killed, back after 2 s:          ${summary(restarted)}\n`);
  const drained = await measure('drain', { workers: 2 }, { signal: 'SIGTERM' });
  process.stdout.write(`worker drained (SIGTERM, drain timeout 1 s): ${summary(drained)}\n`);
  const cost = await stateCost(6);
  process.stdout.write(
    `carried state, 6 turns over ${cost.callS} s: ${cost.writes} writes (${cost.perMinute}/min), last ${cost.lastBytes} B, largest ${cost.largestBytes} B\n`,
  );
}

main().catch((error: Error) => {
  process.stderr.write(`bench:failover failed: ${error.stack ?? error.message}\n`);
  process.exit(1);
});
