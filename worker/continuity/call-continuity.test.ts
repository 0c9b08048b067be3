import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../shared/log.js';
import { CallContinuity } from './call-continuity.js';
import { CARRIED_STATE_VERSION, type CarriedState } from './carried-state.js';

function continuity(options: { debounceMs?: number } = {}) {
  let turns = 0;
  const resumed: CarriedState[] = [];
  const c = new CallContinuity({
    callId: 'call-1',
    logger: silentLogger,
    snapshot: () => ({ greeted: true, caller: {}, conversation: Array.from({ length: turns }, (_, i) => ({ kind: 'message' as const, role: 'user' as const, text: `t${i}` })) }),
    resume: (state) => resumed.push(state),
    ...options,
  });
  const writes: unknown[] = [];
  c.attach({ setSessionState: async (state) => (writes.push(state), true) });
  return { c, writes, resumed, turn: () => turns++ };
}

describe('a call\'s continuity', () => {
  it('writes changes debounced: several within the window make one write, with the latest state', async () => {
    const { c, writes, turn } = continuity({ debounceMs: 50 });
    turn();
    c.changed();
    turn();
    c.changed();
    c.changed();
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(writes).toHaveLength(1);
    expect((writes[0] as CarriedState).conversation).toHaveLength(2);
    expect(c.stats.writes).toBe(1);
    expect(c.stats.bytesWritten).toBe(Buffer.byteLength(JSON.stringify(writes[0])));
  });

  it('restores a state found when the session is first accepted, before saying it is ready; a later accept reads nothing again', async () => {
    const { c, resumed } = continuity();
    const stored: CarriedState = { v: CARRIED_STATE_VERSION, callId: 'call-1', greeted: true, caller: {}, conversation: [], handovers: 0, savedAt: new Date().toISOString() };
    let reads = 0;
    await c.onAccepted({ getSessionState: async () => (reads++, stored) });
    await c.ready;
    await c.onAccepted({ getSessionState: async () => (reads++, stored) });
    expect(resumed).toEqual([stored]);
    expect(reads).toBe(1);
    // The next write counts this worker as one more handover.
    expect(c.current().handovers).toBe(1);
  });

  it('is ready at once without a store, and after a failed read (the call starts afresh)', async () => {
    const none = new CallContinuity({ callId: 'c', logger: silentLogger, snapshot: () => ({ greeted: false, caller: {}, conversation: [] }), resume: () => undefined });
    none.withoutStore();
    await none.ready;
    const { c, resumed } = continuity();
    await c.onAccepted({ getSessionState: async () => Promise.reject(new Error('bus down')) }).catch(() => undefined);
    await c.ready;
    expect(resumed).toEqual([]);
  });

  it('flush writes at once; clear leaves JSON null and stops later writes, flushes included', async () => {
    const { c, writes } = continuity({ debounceMs: 10_000 });
    c.changed();
    expect(await c.flush()).toBe(true);
    await c.clear();
    c.changed();
    // A flush asked for after the call ended (a voicemail step racing the hang-up) would put the state back.
    expect(await c.flush()).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(writes.at(-1)).toBeNull();
    expect(writes).toHaveLength(2);
  });
});
