import type { Message } from 'rhea';
import { describe, expect, it } from 'vitest';
import { QueueEntity, type QueueOptions } from './queue.js';

function clock(startMs = 1_000_000) {
  let nowMs = startMs;
  return { now: () => nowMs, advance: (ms: number) => (nowMs += ms) };
}

function message(fields: { id?: string; session?: string; ttlMs?: number; body?: string }): Message {
  const m: Record<string, unknown> = { body: fields.body ?? 'x' };
  if (fields.id) m.message_id = fields.id;
  if (fields.session) m.group_id = fields.session;
  if (fields.ttlMs !== undefined) m.ttl = fields.ttlMs;
  return m as unknown as Message;
}

function queue(options: Partial<QueueOptions>, c = clock()) {
  return { q: new QueueEntity({ name: 'q', ...options }, c.now), c };
}

describe('QueueEntity', () => {
  it("keeps a scheduled message's time as the next deadline after it has passed, until the broker has shown it (showDue): a re-arm between its time and the timer cannot lose the wake-up", () => {
    const { q, c } = queue({});
    const scheduled = { ...message({ id: 'later' }), message_annotations: { 'x-opt-scheduled-enqueue-time': new Date(c.now() + 300) } } as unknown as Message;
    q.enqueue(scheduled);
    const dueAt = c.now() + 300;
    expect(q.nextLockDeadlineMs()).toBe(dueAt);
    c.advance(350);
    // The broker re-arms here (another operation) before its timer ran: the deadline must still be there.
    expect(q.nextLockDeadlineMs()).toBe(dueAt);
    q.showDue();
    expect(q.nextLockDeadlineMs()).toBeUndefined();
    expect(q.nextFor({ kind: 'queue' })?.messageId).toBe('later');
  });

  it('drops a message whose messageId was seen within the duplicate detection window, and keeps it after the window', () => {
    const { q, c } = queue({ duplicateDetectionWindowMs: 1000 });
    expect(q.enqueue(message({ id: 'a' }))).toEqual({ ok: true, duplicate: false });
    c.advance(999);
    expect(q.enqueue(message({ id: 'a' }))).toEqual({ ok: true, duplicate: true });
    c.advance(1);
    expect(q.enqueue(message({ id: 'a' }))).toEqual({ ok: true, duplicate: false });
    expect(q.messages()).toHaveLength(2);
  });

  it('keeps every message when duplicate detection is off', () => {
    const { q } = queue({});
    q.enqueue(message({ id: 'a' }));
    q.enqueue(message({ id: 'a' }));
    expect(q.messages()).toHaveLength(2);
  });

  it('refuses a message without a session id on a session queue', () => {
    const { q } = queue({ requiresSession: true });
    expect(q.enqueue(message({ id: 'a' }))).toMatchObject({ ok: false, condition: 'amqp:not-allowed' });
  });

  it('expires a waiting message at the shorter of its own TTL and the queue default TTL', () => {
    const { q, c } = queue({ defaultTimeToLiveMs: 500 });
    q.enqueue(message({ id: 'short', ttlMs: 100 }));
    q.enqueue(message({ id: 'default' }));
    c.advance(100);
    expect(q.messages().map((m) => [m.messageId, m.state])).toEqual([['short', 'expired'], ['default', 'active']]);
    c.advance(400);
    expect(q.nextFor({ kind: 'queue' })).toBeUndefined();
  });

  it('locks a session for one holder at a time and frees it on release', () => {
    const { q } = queue({ requiresSession: true });
    const first = {};
    const second = {};
    expect(q.acceptSession('s1', first)).toMatchObject({ ok: true, sessionId: 's1' });
    expect(q.acceptSession('s1', second)).toMatchObject({ ok: false, condition: 'com.microsoft:session-cannot-be-locked' });
    q.releaseHolder(first);
    expect(q.acceptSession('s1', second)).toMatchObject({ ok: true });
  });

  it('gives acceptNextSession the unlocked session with the oldest waiting message, and a timeout when none is left', () => {
    const { q } = queue({ requiresSession: true });
    q.enqueue(message({ session: 's2' }));
    q.enqueue(message({ session: 's1' }));
    expect(q.acceptSession(null, {})).toMatchObject({ ok: true, sessionId: 's2' });
    expect(q.acceptSession(null, {})).toMatchObject({ ok: true, sessionId: 's1' });
    expect(q.acceptSession(null, {})).toMatchObject({ ok: false, condition: 'com.microsoft:timeout' });
  });

  it('delivers a session in enqueue order and only to its own session', () => {
    const { q } = queue({ requiresSession: true });
    q.enqueue(message({ id: '1', session: 'a' }));
    q.enqueue(message({ id: '2', session: 'b' }));
    q.enqueue(message({ id: '3', session: 'a' }));
    const holder = {};
    q.acceptSession('a', holder);
    const ids: (string | undefined)[] = [];
    for (let m = q.nextFor({ kind: 'session', sessionId: 'a' }); m; m = q.nextFor({ kind: 'session', sessionId: 'a' })) {
      q.lock(m, holder, `t${m.sequenceNumber}`, { kind: 'session', sessionId: 'a' });
      ids.push(m.messageId);
    }
    expect(ids).toEqual(['1', '3']);
  });

  it('counts each abandon as a delivery and dead-letters at maxDeliveryCount', () => {
    const { q } = queue({ maxDeliveryCount: 3 });
    q.enqueue(message({ id: 'm' }));
    const holder = {};
    for (let i = 0; i < 3; i++) {
      const m = q.nextFor({ kind: 'queue' })!;
      expect(m.deliveryCount).toBe(i);
      q.lock(m, holder, `t${i}`, { kind: 'queue' });
      expect(q.settle(`t${i}`, holder, { kind: 'abandon' })).toEqual({ ok: true });
    }
    expect(q.nextFor({ kind: 'queue' })).toBeUndefined();
    expect(q.deadLetters()).toMatchObject([
      { messageId: 'm', state: 'deadLettered', deliveryCount: 3, applicationProperties: { DeadLetterReason: 'MaxDeliveryCountExceeded' } },
    ]);
    expect(q.nextFor({ kind: 'deadLetter' })).toMatchObject({ messageId: 'm', state: 'active' });
  });

  it('returns a message whose lock expired, counting the lost lock as a delivery', () => {
    const { q, c } = queue({ lockDurationMs: 100 });
    q.enqueue(message({ id: 'm' }));
    const m = q.nextFor({ kind: 'queue' })!;
    q.lock(m, {}, 'tok', { kind: 'queue' });
    expect(q.nextLockDeadlineMs()).toBe(c.now() + 100);
    c.advance(100);
    q.expire();
    expect(m).toMatchObject({ state: 'active', deliveryCount: 1 });
    expect(q.settle('tok', undefined, { kind: 'complete' })).toMatchObject({ ok: false, condition: 'com.microsoft:message-lock-lost' });
  });

  it('ends an expired session lock, names its holder, and keeps it alive when renewed', () => {
    const { q, c } = queue({ requiresSession: true, lockDurationMs: 100 });
    const holder = {};
    q.acceptSession('s', holder);
    c.advance(60);
    expect(q.renewSessionLock('s', holder)).toEqual({ ok: true, lockedUntilMs: c.now() + 100 });
    c.advance(60);
    expect(q.expire()).toEqual([]);
    c.advance(40);
    q.messages(); // any look at the queue applies deadlines; the lost holder is still reported once
    expect(q.holdsSession('s', holder)).toBe(false);
    expect(q.takeLostSessionHolders()).toEqual([holder]);
    expect(q.takeLostSessionHolders()).toEqual([]);
    expect(q.renewSessionLock('s', holder)).toMatchObject({ ok: false, condition: 'com.microsoft:session-lock-lost' });
  });

  it('refuses to settle a message locked by another holder', () => {
    const { q } = queue({});
    q.enqueue(message({ id: 'm' }));
    q.lock(q.nextFor({ kind: 'queue' })!, {}, 'tok', { kind: 'queue' });
    expect(q.settle('tok', {}, { kind: 'complete' })).toMatchObject({ ok: false });
  });
});

describe('ISO 8601 durations of the provisioned queue settings', () => {
  it('reads days, hours, minutes and seconds, and refuses anything else with the value named', async () => {
    const { isoDurationMs } = await import('./provisioned-queues.js');
    expect(['P14D', 'PT1H', 'PT10M', 'PT1M30S', 'P1DT2H'].map(isoDurationMs)).toEqual([14 * 86_400_000, 3_600_000, 600_000, 90_000, 93_600_000]);
    for (const bad of ['P', 'PT', '10M', 'P1W', 'PT1.5H']) expect(() => isoDurationMs(bad)).toThrow(bad);
  });
});
