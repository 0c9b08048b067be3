import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { AcsMediaClient } from '../../lab/acs/media-client.js';
import { startVoiceLivePeer, type VoiceLivePeer } from '../../lab/voice-live/peer.js';

let peer: VoiceLivePeer | undefined;
afterEach(async () => {
  await peer?.close();
  peer = undefined;
});

function startProcess(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'worker/main.ts'], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, out: () => stdout, err: () => stderr };
}

describe('worker process', () => {
  it('prints the configuration problems by variable name and exits 1', async () => {
    const p = startProcess({ VOICE_LIVE_ENDPOINT: 'ftp://x', MEDIA_AUTH: 'acs' });
    expect(await p.exited).toBe(1);
    expect(p.err()).toContain('VOICE_LIVE_ENDPOINT: must be a https or http URL');
  });

  it('on SIGTERM stops taking calls, lets the live call finish, then exits 0', async () => {
    peer = await startVoiceLivePeer({ apiKey: 'k' });
    const p = startProcess({ PORT: '0', HOST: '127.0.0.1', VOICE_LIVE_ENDPOINT: peer.url, VOICE_LIVE_API_KEY: 'k', VOICE_LIVE_MODEL: 'gpt-realtime', MEDIA_AUTH: 'none', DRAIN_TIMEOUT_S: '20' });
    const start = Date.now();
    while (!/worker listening/.test(p.out())) {
      if (Date.now() - start > 10_000) throw new Error(`worker did not start: ${p.out()} ${p.err()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const port = /"address":"127\.0\.0\.1:(\d+)"/.exec(p.out())![1];
    const call = await AcsMediaClient.connect({ url: `ws://127.0.0.1:${port}/ws/sig` });
    call.sendMetadata(16000);
    await peer.nextSession();
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toMatch(/^worker_active_calls 1$/m);
    expect(metrics).toMatch(/^process_cpu_seconds_total \d/m);
    expect(metrics).toMatch(/^nodejs_eventloop_lag_p99_seconds \d/m);
    p.child.kill('SIGTERM');
    while (!/draining/.test(p.out())) await new Promise((r) => setTimeout(r, 20));
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(503);
    expect(call.socket.readyState).toBe(call.socket.OPEN);
    await call.close();
    expect(await p.exited).toBe(0);
  });
});
