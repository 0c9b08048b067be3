import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLab, type Lab } from '../../lab/lab.js';
import { concat, silence, tone } from '../../lab/audio/signal.js';
import { readWav, writeWav } from '../../lab/audio/wav.js';

const repo = resolve(__dirname, '../..');
const tsx = join(repo, 'node_modules', '.bin', 'tsx');
const scratch = mkdtempSync(join(tmpdir(), 'callee-command-'));

interface Callee {
  stdout: () => string;
  /** Resolves with the output so far once it matches. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  exited: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

/** `npm run call -- <args>` as a user runs it: its own process, cwd a scratch folder, no Voice Live settings of ours. */
function callee(args: string[]): Callee {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('VOICE_LIVE_') && !key.startsWith('LAB_')));
  const child = spawn(tsx, [join(repo, 'lab/call.ts'), ...args], { cwd: scratch, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((done) => child.once('exit', (code) => done({ code, stdout, stderr })));
  const killer = setTimeout(() => child.kill('SIGKILL'), 80_000);
  void exited.then(() => clearTimeout(killer));
  return {
    stdout: () => stdout,
    exited,
    async waitFor(pattern, timeoutMs = 40_000) {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(stdout)) {
        if (child.exitCode !== null) throw new Error(`exited ${child.exitCode} before ${pattern}: ${stdout}${stderr}`);
        if (Date.now() > deadline) throw new Error(`no ${pattern} in time: ${stdout}${stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      return stdout;
    },
  };
}

/**
 * `npm run call -- --answer`: the command-line callee against a running lab (startLab here, the CLI spawned with the
 * lab's ACS address), with each outbound call placed through POST /api/calls as a user would.
 */
// Each case starts a tsx child process (seconds on a loaded machine) and lives through a call.
describe('npm run call -- --answer: a callee for outbound calls', { timeout: 90_000 }, () => {
  let lab: Lab;
  const wav = join(scratch, 'hello.wav');
  const greeting = join(scratch, 'greeting.wav');

  beforeAll(async () => {
    // A "hello" loud enough for the echo agent's turn detection, and a mailbox greeting.
    writeFileSync(wav, writeWav({ sampleRateHz: 16000, samples: concat([silence(200, 16000), tone({ frequencyHz: 350, durationMs: 900, sampleRateHz: 16000, amplitude: 0.5 }), silence(300, 16000)]) }));
    // 3.5 s: the lab's echo agent takes a first turn of 3 s or more for a mailbox greeting.
    writeFileSync(greeting, writeWav({ sampleRateHz: 16000, samples: tone({ frequencyHz: 300, durationMs: 3500, sampleRateHz: 16000, amplitude: 0.4 }) }));
    lab = await startLab({ logLevel: 'silent', acs: { outbound: { ringTimeoutMs: 1500 } } });
  }, 30_000);
  afterAll(async () => {
    await lab?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  const place = async (to: string) => {
    const response = await fetch(lab.functions.urlOf('placeCall'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ to }) });
    expect(response.status).toBe(202);
    return ((await response.json()) as { callId: string }).callId;
  };
  const status = async (callId: string) => (await (await fetch(lab.functions.urlOf('callStatus', { callId }))).json()) as Record<string, unknown>;

  /** Starts the callee, waits until it is registered, places a call to the number it printed; returns both. */
  async function callTo(args: string[]) {
    const run = callee(['--answer', '--lab', lab.acs.url, ...args]);
    const registered = await run.waitFor(/waiting for a call/);
    const number = /callee (\+\d+) and (8:acs:\S+),/.exec(registered)!;
    expect(number).not.toBeNull();
    const callId = await place(number[1]!);
    return { run, callId, number: number[1]!, rawId: number[2]! };
  }

  it('a person: answers after the delay, says the WAV, hears the agent, hangs up once it is quiet, and prints all of it; the app records a human answer', async () => {
    const out = join(scratch, 'heard.wav');
    const { run, callId } = await callTo(['--number', '+15550122001', '--answer-after', '300ms', '--play', wav, '--out', out]);
    const result = await run.exited;
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/callee \+15550122001 and 8:acs:\S+_callee-\d+, registered/);
    expect(result.stdout).toMatch(/ringing: call \S+ from \+15\*+00/);
    expect(result.stdout).toMatch(/answering\n.*media connected \(24000 Hz\)\n.*saying .*hello\.wav \(1\.4 s\)/);
    expect(result.stdout).toMatch(/the agent speaks/);
    // The agent's words reach the callee's timeline (an outbound call's worker events are found by our callId).
    expect(result.stdout).toMatch(/agent: "[^"]+"/);
    expect(result.stdout).toMatch(/the agent said [1-9]\d* things?/);
    expect(result.stdout).toMatch(/hung up by us/);
    const heard = /heard (\d+\.\d) s of agent audio/.exec(result.stdout);
    expect(Number(heard?.[1])).toBeGreaterThan(0.5);
    expect(result.stdout).toMatch(/outcome: answered \(call disconnected\).*hung up by us/);
    expect(readWav(readFileSync(out)).samples.length).toBeGreaterThan(0);
    await expect.poll(() => status(callId), { timeout: 10_000 }).toMatchObject({ state: 'ended', outcome: 'human' });
  });

  it('a mailbox: answers, plays the greeting and a beep, records the agent\'s message, and the agent hangs up; the app records a voicemail', async () => {
    const { run, callId } = await callTo(['--voicemail', greeting, '--answer-after', '200ms', '--record-for', '20s']);
    const result = await run.exited;
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/playing the greeting .*greeting\.wav \(3\.5 s\), then a beep/);
    expect(result.stdout).toMatch(/beep: recording for 20\.0 s/);
    expect(result.stdout).toMatch(/hung up by the agent/);
    expect(result.stdout).toMatch(/outcome: answered \(call disconnected\); heard \d+\.\d s of agent audio.*hung up by the agent/);
    await expect.poll(() => status(callId), { timeout: 10_000 }).toMatchObject({ state: 'ended', outcome: 'voicemail' });
  });

  it('a mailbox that stops recording first hangs up itself', async () => {
    const { run } = await callTo(['--voicemail', greeting, '--answer-after', '200ms', '--record-for', '200ms']);
    const result = await run.exited;
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/hanging up \(the mailbox stopped recording\)\n.*hung up by us/);
  });

  it.each([
    [['--busy'], /busy\n/, /outcome: busy \(call rejected\)/, { state: 'failed', outcome: 'busy', resultInformation: { code: 486 } }],
    [['--decline', '--answer-after', '200ms'], /declining/, /outcome: declined \(call rejected\)/, { state: 'failed', outcome: 'failed', resultInformation: { code: 603 } }],
    [['--no-answer'], /letting it ring/, /the lab stopped ringing: no answer after 1\.5 s[\s\S]*outcome: no answer \(call unanswered\)/, { state: 'failed', outcome: 'no_answer' }],
  ])('%j: the call is not answered, and the app records why', async (args, action, outcome, expected) => {
    const { run, callId } = await callTo(args);
    const result = await run.exited;
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(action);
    expect(result.stdout).toMatch(outcome);
    expect(result.stdout).toMatch(/ACS → app: CreateCallFailed \(answered 200\)/);
    await expect.poll(() => status(callId), { timeout: 10_000 }).toMatchObject(expected);
  });

  it('answers a call to its ACS user id as well', async () => {
    const run = callee(['--answer', '--lab', lab.acs.url, '--busy']);
    const rawId = /and (8:acs:\S+),/.exec(await run.waitFor(/waiting for a call/))![1]!;
    const callId = await place(rawId);
    expect((await run.exited).stdout).toMatch(/outcome: busy/);
    await expect.poll(() => status(callId), { timeout: 10_000 }).toMatchObject({ outcome: 'busy' });
  });

  it('answers a mistake in its flags or files with one line and exit code 2, and an unreachable lab with one line and exit code 1', async () => {
    const runs = await Promise.all(
      [
        ['--answer', '--answer-after', 'soon'],
        ['--answer', '--busy', '--decline'],
        ['--answer', '--busy', '--play', wav],
        ['--answer', '--frobnicate'],
        ['--answer', '--number', '5550122001'],
        ['--answer', '--play', join(scratch, 'missing.wav')],
        ['--answer', '--voicemail', scratch],
        ['--answer', '--lab', 'http://127.0.0.1:9', '--busy'],
      ].map((args) => callee(args).exited),
    );
    const expected: [number, RegExp][] = [
      [2, /--answer-after: "soon" is not a duration such as 2s/],
      [2, /choose one of --busy, --decline/],
      [2, /--play does not go with --busy/],
      [2, /unknown option --frobnicate/],
      [2, /--number: must be an E\.164 number/],
      [2, /no such file: .*missing\.wav/],
      [2, /is a directory, not a WAV file/],
      [1, /cannot reach the lab's ACS emulator at http:\/\/127\.0\.0\.1:9 \(ECONNREFUSED\)/],
    ];
    runs.forEach((result, index) => {
      const [code, message] = expected[index]!;
      expect(result.code, result.stderr).toBe(code);
      const lines = result.stderr.trim().split('\n');
      expect(lines, result.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(/^npm run call: /);
      expect(lines[0]).toMatch(message);
    });
  });
});
