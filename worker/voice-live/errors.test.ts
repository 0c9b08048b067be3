import { describe, expect, it } from 'vitest';
import { backoffDelayMs, isFatalCloseCode, isRetryableStatus } from './errors.js';

describe('backoff and error classification', () => {
  it('grows exponentially, is capped, and jitters between half and the full delay', () => {
    const options = { initialDelayMs: 100, maxDelayMs: 1000 };
    expect([1, 2, 3, 4, 5, 10].map((a) => backoffDelayMs(a, options, () => 1))).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(backoffDelayMs(3, options, () => 0)).toBe(200);
    for (let attempt = 1; attempt < 40; attempt++) expect(backoffDelayMs(attempt, options)).toBeLessThanOrEqual(1000);
  });

  it('retries throttling and server faults but not auth or bad requests', () => {
    expect([429, 500, 502, 503, 408].every(isRetryableStatus)).toBe(true);
    expect([400, 401, 403, 404].some(isRetryableStatus)).toBe(false);
    expect([1008, 4400, 4401].every(isFatalCloseCode)).toBe(true);
    expect([1000, 1001, 1006, 1011, 1009].some(isFatalCloseCode)).toBe(false);
  });
});
