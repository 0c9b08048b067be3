import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLab, type Lab } from '../../lab/lab.js';

const NUMBERS = ['+15550131001', '+15550131002', '+15550131003', '+15550131004', '+15550131005'];

/**
 * A burst that tries to get past the limits: fifteen requests at once (three per number, each under its own
 * idempotency key), taken off the queue by two Functions instances with four handlers each. The caps and
 * OUTBOUND_MAX_CONCURRENT are counted under Service Bus session locks, so no interleaving of the eight handlers
 * lets one more call through.
 */
describe('outbound limits under a burst, across two Functions instances', () => {
  let lab: Lab;
  beforeAll(async () => {
    lab = await startLab({
      logLevel: 'silent',
      greeting: false,
      functionsInstances: 2,
      functionsEnv: {
        OUTBOUND_MAX_CONCURRENT: '3',
        OUTBOUND_CONCURRENCY_WAIT_MS: '300',
        OUTBOUND_MAX_CALLS_PER_DESTINATION_PER_DAY: '2',
        OUTBOUND_MAX_CALLS_PER_DAY: '9',
      },
    });
  }, 30_000);
  afterAll(async () => lab?.close());

  const status = async (callId: string) => (await (await fetch(lab.functions.urlOf('callStatus', { callId }))).json()) as { state: string; reason?: string };
  const inProgress = () => [...lab.acs.calls.values()].filter((c) => c.direction === 'outbound' && ['ringing', 'connecting', 'connected'].includes(c.state)).length;

  it('places 9 calls (2 per number at most, 9 a day), never more than 3 at once, and refuses the other 6 with the cap that stopped each', async () => {
    for (const number of NUMBERS) lab.acs.outbound.script(number, { kind: 'human', answerAfterMs: 100, hangUpAfterMs: 2500 });
    let mostAtOnce = 0;
    const sampler = setInterval(() => (mostAtOnce = Math.max(mostAtOnce, inProgress())), 20);
    try {
      const requests = NUMBERS.flatMap((to) => [1, 2, 3].map((n) => ({ to, idempotencyKey: `burst:${to}:${n}` })));
      const callIds = await Promise.all(
        requests.map(async (body) => {
          const response = await fetch(lab.functions.urlOf('placeCall'), { method: 'POST', body: JSON.stringify(body) });
          expect(response.status).toBe(202);
          return ((await response.json()) as { callId: string }).callId;
        }),
      );
      const settled = async () => (await Promise.all(callIds.map(status))).filter((s) => s.state === 'ended' || s.state === 'refused');
      await expect.poll(async () => (await settled()).length, { timeout: 90_000, interval: 500 }).toBe(15);

      const finals = await Promise.all(callIds.map(status));
      expect(finals.filter((s) => s.state === 'ended')).toHaveLength(9);
      const reasons = finals.filter((s) => s.state === 'refused').map((s) => s.reason ?? '');
      expect(reasons.filter((r) => r.includes('OUTBOUND_MAX_CALLS_PER_DESTINATION_PER_DAY'))).toHaveLength(5);
      expect(reasons.filter((r) => r.includes('OUTBOUND_MAX_CALLS_PER_DAY ('))).toHaveLength(1);
      const creates = lab.acs.requests.filter((r) => r.operation === 'createCall');
      expect(creates).toHaveLength(9);
      for (const number of NUMBERS) {
        expect(creates.filter((r) => JSON.stringify(r.body).includes(number)).length).toBeLessThanOrEqual(2);
      }
    } finally {
      clearInterval(sampler);
    }
    expect(mostAtOnce).toBeLessThanOrEqual(3);
    // The burst really pressed on the limit: three were up at once at some point.
    expect(mostAtOnce).toBe(3);
  }, 120_000);
});
