import { describe, expect, it } from 'vitest';
import { BusError, type OutgoingMessage } from '../../shared/bus.js';
import { buildCallRecord, type CallRecord } from '../../shared/call-record.js';
import { CallRecordCollector } from './collector.js';
import { RecordOutbox, type RecordSender } from './outbox.js';

const prices = { currency: 'USD', audioInputPer1M: 0, audioOutputPer1M: 0, textInputPer1M: 0, textOutputPer1M: 0, cachedInputPer1M: 0, callPerMinute: 0 };
const record = (callId: string): CallRecord =>
  buildCallRecord({
    ...new CallRecordCollector({ callId, recordTranscripts: true, prices }).build({ reason: 'x', framesIn: 0, framesOut: 0, bargeIns: 0, voiceLiveReconnects: 0, framesDropped: 0 }),
  });

/** A sender that is "down" until told otherwise, recording what it was given. */
function sender(): RecordSender & { up: boolean; sent: OutgoingMessage[]; attempts: number; reject?: BusError } {
  const s = {
    up: false,
    sent: [] as OutgoingMessage[],
    attempts: 0,
    reject: undefined as BusError | undefined,
    async publish(message: OutgoingMessage) {
      s.attempts++;
      if (s.reject) throw s.reject;
      if (!s.up) throw new BusError('BUS_UNAVAILABLE', 'down');
      s.sent.push(message);
    },
  };
  return s;
}

const waitUntil = async (condition: () => boolean) => {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > 3000) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe('record outbox', () => {
  it('keeps records while the bus is down and publishes each once when it is back', async () => {
    const bus = sender();
    const outbox = new RecordOutbox(bus, { retryDelayMs: 10, maxRetryDelayMs: 20 });
    outbox.add(record('a'));
    outbox.add(record('b'));
    await waitUntil(() => bus.attempts >= 3);
    expect(outbox.size).toBe(2);
    bus.up = true;
    expect(await outbox.flush(2000)).toBe(0);
    expect(bus.sent.map((m) => m.messageId)).toEqual(['a:record', 'b:record']);
  });

  it('flush gives up after its timeout and says how many are still waiting', async () => {
    const outbox = new RecordOutbox(sender(), { retryDelayMs: 10 });
    outbox.add(record('a'));
    expect(await outbox.flush(50)).toBe(1);
    outbox.close();
  });

  it('drops a record Service Bus refuses for good instead of retrying forever', async () => {
    const bus = sender();
    bus.reject = new BusError('BUS_REJECTED', 'too big');
    const outbox = new RecordOutbox(bus, { retryDelayMs: 10 });
    outbox.add(record('a'));
    expect(await outbox.flush(1000)).toBe(0);
    expect(bus.attempts).toBe(1);
  });
});
