import { afterEach, describe, expect, it } from 'vitest';
import { CALL_RECORD_MAX_BYTES } from '../../shared/call-record.js';
import { received, startCallControlLab, until, type CallControlLab } from './harness.js';

let lab: CallControlLab | undefined;
afterEach(async () => {
  await lab?.close();
  lab = undefined;
});

const SERVICE_BUS_STANDARD_MAX_BYTES = 256 * 1024;
const recordBytes = (lab: CallControlLab) => Buffer.byteLength(JSON.stringify(lab.bus.messages('call-records')[0]!.body));

describe('what the model sends is bounded where it reaches logs, replies and the call record', () => {
  it('a 300 KB tool name: the model is told there is no such tool in a short reply, no log line carries it, the record stays small', async () => {
    lab = await startCallControlLab();
    const call = await lab.startCall();
    const name = 'lookup_'.repeat(300_000 / 7);
    await call.session.callFunction(name, { q: 'x' });
    const output = await call.session.waitFor('conversation.item.create', (e) => (e.item as { type?: string }).type === 'function_call_output', 5000);
    const reply = (output.item as { output: string }).output;
    expect(reply.length).toBeLessThan(1000);
    expect(JSON.parse(reply).error).toMatch(/^There is no tool named lookup_lookup_.*… \[\d+ more characters\]\.$/);
    call.media.socket.close();
    await until(() => lab!.records().length === 1, 5000, 'record');
    const tool = lab.records()[0]!.tools[0]!;
    expect(tool.status).toBe('unknown_tool');
    expect(tool.name.length).toBeLessThan(120);
    expect(recordBytes(lab)).toBeLessThan(10_000);
    const longest = Math.max(...lab.logs.map((line) => JSON.stringify(line).length));
    expect(longest).toBeLessThan(10_000);
    expect(received(call.session, 'response.create').length).toBeGreaterThan(0);
  });

  it('a very long call: the record fits one Service Bus Standard message, its transcript cut in the middle with a count of what was left out', async () => {
    lab = await startCallControlLab();
    const call = await lab.startCall();
    const turns = 400;
    for (let i = 0; i < turns; i++) {
      call.session.speechStarted();
      call.session.speechStopped({ transcript: `Turn ${i}: ${'and then I said something rather long about my order '.repeat(20)}` });
    }
    // Every caller turn has reached the worker (one debug line each) before the call ends.
    await until(() => lab!.logs.filter((line) => line.msg === 'caller said').length === turns, 10_000, 'caller turns');
    call.media.socket.close();
    await until(() => lab!.records().length === 1, 10_000, 'record');
    const record = lab.records()[0]!;
    expect(recordBytes(lab)).toBeLessThanOrEqual(CALL_RECORD_MAX_BYTES);
    expect(CALL_RECORD_MAX_BYTES).toBeLessThan(SERVICE_BUS_STANDARD_MAX_BYTES);
    expect(record.trimmed!.transcriptEntries).toBeGreaterThan(0);
    expect(record.transcript!.length + record.trimmed!.transcriptEntries).toBe(turns);
    // The start and the end of the call are kept.
    expect(record.transcript![0]!.text).toMatch(/^Turn 0: /);
    expect(record.transcript!.at(-1)!.text).toMatch(new RegExp(`^Turn ${turns - 1}: `));
    expect(record.turns.length + record.trimmed!.turns).toBe(turns);
  }, 30_000);
});
