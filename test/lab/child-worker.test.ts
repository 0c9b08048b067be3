import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { startLab } from '../../lab/lab.js';

describe('the lab with its worker as a child process', () => {
  it('lab.close() returns after the child worker was killed (SIGKILL), as after a normal stop', async () => {
    const lab = await startLab({ worker: 'child-process', greeting: false, logLevel: 'silent' });
    const child = lab.workerProcess!;
    child.kill('SIGKILL');
    await once(child, 'exit');
    expect(child.signalCode).toBe('SIGKILL');
    // Before the fix this never settled: stopChild waited for an `exit` that had already fired.
    const closed = await Promise.race([lab.close().then(() => 'closed'), new Promise((r) => setTimeout(() => r('still waiting'), 10_000))]);
    expect(closed).toBe('closed');
  }, 60_000);
});
