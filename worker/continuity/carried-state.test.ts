import { describe, expect, it } from 'vitest';
import { CARRIED_STATE_VERSION, fitCarriedState, parseCarriedState, type CarriedState } from './carried-state.js';

const state = (turns: number): CarriedState => ({
  v: CARRIED_STATE_VERSION,
  callId: 'call-1',
  greeted: true,
  caller: { from: '+15550100001' },
  conversation: Array.from({ length: turns }, (_, i) => ({ kind: 'message' as const, role: i % 2 ? ('assistant' as const) : ('user' as const), text: `turn ${i} ${'x'.repeat(200)}` })),
  handovers: 0,
  savedAt: new Date(0).toISOString(),
});

describe('carried call state', () => {
  it('reads back what was written; nothing (a new call) and JSON null (an ended call) read as no state', () => {
    expect(parseCarriedState(JSON.parse(JSON.stringify(state(3))), 'call-1')).toEqual({ kind: 'state', state: state(3) });
    expect(parseCarriedState(null, 'call-1')).toEqual({ kind: 'none' });
    expect(parseCarriedState(undefined, 'call-1')).toEqual({ kind: 'none' });
  });

  it('carries an outbound call\'s request context (the next worker never sees call.outbound.requested); a state without it still reads', () => {
    const outbound = { ...state(1), outbound: { context: { name: 'Ada', appointment: { at: '10:00' } } } };
    expect(parseCarriedState(JSON.parse(JSON.stringify(outbound)), 'call-1')).toEqual({ kind: 'state', state: outbound });
    expect(parseCarriedState({ ...state(1), outbound: { context: 'Ada' } }, 'call-1').kind).toBe('unreadable');
    const parsed = parseCarriedState(JSON.parse(JSON.stringify(state(1))), 'call-1');
    expect(parsed.kind === 'state' && parsed.state.outbound).toBeUndefined();
  });

  it('ignores, with a reason, a state of another version, of another call, or not a state at all', () => {
    expect(parseCarriedState({ ...state(1), v: 2 }, 'call-1').kind).toBe('unreadable');
    expect(parseCarriedState(state(1), 'call-2')).toEqual({ kind: 'unreadable', reason: 'state of another call' });
    expect(parseCarriedState('hello', 'call-1').kind).toBe('unreadable');
  });

  it('stays within the size limit by leaving out the oldest turns first, keeping the latest', () => {
    const big = state(400);
    const { state: fitted, bytes } = fitCarriedState(big, 16 * 1024);
    expect(bytes).toBeLessThanOrEqual(16 * 1024);
    expect(bytes).toBe(Buffer.byteLength(JSON.stringify(fitted)));
    expect(fitted.conversation.length).toBeLessThan(400);
    expect(fitted.conversation.at(-1)).toEqual(big.conversation.at(-1));
    expect(fitCarriedState(state(3)).state).toEqual(state(3));
  });
});
