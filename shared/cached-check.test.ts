import { describe, expect, it } from 'vitest';
import { CachedCheck } from './cached-check.js';

describe('CachedCheck', () => {
  it('runs the check once for any number of concurrent callers, then serves that result until it is cacheMs old', async () => {
    let nowMs = 1_000_000;
    let sessions = 0;
    let finish!: () => void;
    const readiness = new CachedCheck({
      run: () => {
        sessions++;
        return new Promise<void>((resolve) => (finish = resolve));
      },
      cacheMs: 60_000,
      nowMs: () => nowMs,
    });
    const concurrent = Array.from({ length: 5 }, () => readiness.check());
    finish();
    const first = await Promise.all(concurrent);
    expect(sessions).toBe(1);
    expect(first.every((r) => r.ok && !r.cached)).toBe(true);

    nowMs += 59_000;
    const cached = await readiness.check();
    expect(cached).toMatchObject({ ok: true, cached: true, nextCheckInS: 1 });
    expect(sessions).toBe(1);

    nowMs += 1_000;
    const again = readiness.check();
    finish();
    expect(await again).toMatchObject({ ok: true, cached: false });
    expect(sessions).toBe(2);
  });

  it('reports why the check failed, and caches a failure too (a refusing service is not asked again at once)', async () => {
    let sessions = 0;
    const readiness = new CachedCheck({
      run: async () => {
        sessions++;
        throw Object.assign(new Error('upgrade refused with HTTP 401'), { code: 'UPGRADE_REJECTED' });
      },
    });
    expect(await readiness.check()).toMatchObject({ ok: false, cached: false, error: 'UPGRADE_REJECTED: upgrade refused with HTTP 401' });
    expect(await readiness.check()).toMatchObject({ ok: false, cached: true });
    expect(sessions).toBe(1);
  });
});
