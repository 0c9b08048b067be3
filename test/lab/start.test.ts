import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';

/** `npm start` as a user runs it (here on free ports): one line per component, one URL, a working system. */
describe('npm start (lab/start.ts)', () => {
  let child: ChildProcess | undefined;
  afterAll(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
  });

  it('prints one line per component and the softphone URL, serves the page, answers a call, and stops on SIGTERM', async () => {
    const ports = ['--port', '--functions-port', '--worker-port', '--acs-port', '--token-issuer-port', '--voice-live-port', '--servicebus-port'].flatMap((flag) => [flag, '0']);
    child = spawn(process.execPath, ['--import', 'tsx', 'lab/start.ts', ...ports], { cwd: resolve(__dirname, '../..'), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const deadline = Date.now() + 40_000;
    while (!output.includes('Open the softphone:')) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`lab did not start:\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const lines = output.trim().split('\n');
    for (const component of ['functions', 'worker', 'acs emulator', 'voice live', 'service bus', 'acs tokens']) {
      expect(lines.filter((l) => l.startsWith(component))).toHaveLength(1);
    }
    expect(lines.filter((l) => /https?:\/\//.test(l) && l.startsWith('Open'))).toHaveLength(1);
    const pageUrl = /Open the softphone: (\S+)/.exec(output)![1]!;
    const acsUrl = /acs emulator\s+(\S+)/.exec(output)![1]!;
    expect(await (await fetch(pageUrl)).text()).toContain('<button id="call"');

    const placed = await fetch(`${acsUrl}/lab/calls`, { method: 'POST', body: '{}' });
    expect(placed.status).toBe(201);
    const { callId } = (await placed.json()) as { callId: string };
    let state = '';
    for (let i = 0; i < 100 && state !== 'connected'; i++) {
      state = ((await (await fetch(`${acsUrl}/lab/calls/${callId}`)).json()) as { state: string }).state;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(state).toBe('connected');

    // Outbound: the softphone takes calls, and the printed curl places one to a callee registered at /lab/callee.
    expect(await (await fetch(`${pageUrl}/config.json`)).json()).toEqual({ callee: true, outbound: true });
    const placeUrl = /curl -s -X POST '(\S+)'/.exec(output)![1]!;
    expect(output).toMatch(/FUNCTIONS_KEY=\S+ npm run calls/);
    const callee = new WebSocket(`${acsUrl.replace('http', 'ws')}/lab/callee`);
    const heard: { type: string; phoneNumber?: string; outcome?: string }[] = [];
    callee.on('message', (data) => {
      const message = JSON.parse(data.toString()) as { type: string };
      heard.push(message);
      if (message.type === 'ringing') callee.send(JSON.stringify({ type: 'busy' }));
    });
    await new Promise((r) => callee.once('open', r));
    callee.send(JSON.stringify({ type: 'register' }));
    await expect.poll(() => heard.find((m) => m.type === 'registered')?.phoneNumber, { timeout: 5000 }).toMatch(/^\+1555012/);
    const to = heard.find((m) => m.type === 'registered')!.phoneNumber;
    const requested = await fetch(placeUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ to }) });
    expect(requested.status).toBe(202);
    await expect.poll(() => heard.find((m) => m.type === 'ended')?.outcome, { timeout: 15_000 }).toBe('busy');
    callee.close();

    const exited = new Promise<number | null>((done) => child!.once('exit', (code) => done(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 60_000);

  it('--workers 2 runs two worker processes behind the ingress, says which, and stops them all on SIGTERM', async () => {
    const ports = ['--port', '--functions-port', '--worker-port', '--acs-port', '--token-issuer-port', '--voice-live-port', '--servicebus-port'].flatMap((flag) => [flag, '0']);
    const lab = spawn(process.execPath, ['--import', 'tsx', 'lab/start.ts', ...ports, '--workers', '2'], { cwd: resolve(__dirname, '../..'), stdio: ['ignore', 'pipe', 'pipe'] });
    child = lab;
    let output = '';
    lab.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    lab.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const deadline = Date.now() + 60_000;
    while (!output.includes('Open the softphone:')) {
      if (Date.now() > deadline || lab.exitCode !== null) throw new Error(`lab did not start:\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const line = output.split('\n').find((l) => l.startsWith('worker'))!;
    expect(line).toMatch(/ingress over 2 worker processes/);
    const pids = /pids (\d+), (\d+)/.exec(line)!.slice(1).map(Number);
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    expect(pids.every(alive)).toBe(true);
    const exited = new Promise<number | null>((done) => lab.once('exit', (code) => done(code)));
    lab.kill('SIGTERM');
    expect(await exited).toBe(0);
    await expect.poll(() => pids.filter(alive), { timeout: 10_000 }).toEqual([]);
  }, 90_000);
});
