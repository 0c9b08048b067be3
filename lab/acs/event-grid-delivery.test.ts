import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { EventGridDelivery, type DeliveryAttempt } from './event-grid-delivery.js';

/** Event Grid's retry policy against a real local webhook. */
describe('Event Grid delivery', () => {
  const closers: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    while (closers.length) await closers.pop()!();
  });

  async function webhook(answer: (attempt: number, res: import('node:http').ServerResponse) => void): Promise<{ url: string; headers: IncomingHttpHeaders[] }> {
    const headers: IncomingHttpHeaders[] = [];
    const server: Server = createServer((req, res) => {
      headers.push(req.headers);
      req.resume();
      answer(headers.length - 1, res);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, headers };
  }

  const event = { id: 'evt-1', eventType: 'Microsoft.Communication.IncomingCall', dataVersion: '1.0' };
  const deliveryTo = (url: string, options: Partial<ConstructorParameters<typeof EventGridDelivery>[0]> = {}) => {
    const delivery = new EventGridDelivery({ webhookUrl: () => url, subscriptionName: 'sub', timeScale: 0.001, ...options });
    closers.push(() => delivery.close());
    return delivery;
  };
  const collect = () => {
    const attempts: DeliveryAttempt[] = [];
    return { attempts, onAttempt: (a: DeliveryAttempt) => attempts.push(a) };
  };
  const until = async (check: () => boolean) => {
    const deadline = Date.now() + 5000;
    while (!check()) {
      if (Date.now() > deadline) throw new Error('condition not met in time');
      await new Promise((r) => setTimeout(r, 5));
    }
  };

  it('retries an attempt that timed out, and one whose connection was refused', async () => {
    const hook = await webhook((attempt, res) => {
      if (attempt === 0) return; // never answered: the attempt times out
      res.writeHead(200).end();
    });
    const { attempts, onAttempt } = collect();
    await deliveryTo(hook.url, { attemptTimeoutMs: 100 }).deliver(event, onAttempt);
    await until(() => attempts.length === 2);
    expect(attempts.map((a) => [a.deliveryCount, a.status, a.outcome])).toEqual([
      [0, undefined, 'retrying'],
      [1, 200, 'delivered'],
    ]);
    expect(attempts[0]!.error).toMatch(/abort|timeout/i);
    expect(hook.headers.map((h) => h['aeg-delivery-count'])).toEqual(['0', '1']);

    const refused = collect();
    const first = await deliveryTo('http://127.0.0.1:9/').deliver(event, refused.onAttempt);
    expect(first).toMatchObject({ outcome: 'retrying', deliveryCount: 0 });
    expect(first.error).toBeTruthy();
  });

  it('spreads each delay by at most ±10 % around the schedule', async () => {
    const hook = await webhook((_attempt, res) => res.writeHead(500).end());
    for (const [random, expected] of [[0, 9], [1, 11], [0.5, 10]] as const) {
      const first = await deliveryTo(hook.url, { random: () => random, maxDeliveryAttempts: 2 }).deliver(event);
      expect(first.nextInMs).toBe(expected); // 10 s at 1/1000
    }
  });

  it('expires the event once its time to live is over, even with attempts left', async () => {
    const hook = await webhook((_attempt, res) => res.writeHead(503).end());
    const { attempts, onAttempt } = collect();
    // At 1/100 a 70 s time to live is 700 ms: the 10 s and 30 s steps (100 + 300 ms) fit with room for slow round trips
    // on a loaded machine, the 1 min step after them (600 ms more) cannot.
    await deliveryTo(hook.url, { timeScale: 0.01, eventTimeToLiveMs: 70_000, random: () => 0.5 }).deliver(event, onAttempt);
    await until(() => attempts.some((a) => a.outcome === 'expired'));
    expect(attempts.map((a) => a.outcome)).toEqual(['retrying', 'retrying', 'expired']);
  });

  it('abandons pending retries when closed', async () => {
    const hook = await webhook((_attempt, res) => res.writeHead(503).end());
    const delivery = deliveryTo(hook.url, { timeScale: 0.01 });
    const first = await delivery.deliver(event);
    expect(first.outcome).toBe('retrying');
    delivery.close();
    await new Promise((r) => setTimeout(r, 200));
    expect(hook.headers).toHaveLength(1);
  });

  it('refuses a time scale that is not positive, naming the option', () => {
    expect(() => new EventGridDelivery({ webhookUrl: () => 'http://x', subscriptionName: 's', timeScale: 0 })).toThrow(/options\.timeScale/);
  });
});
