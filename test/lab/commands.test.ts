import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readWav } from '../../lab/audio/wav.js';

const repo = resolve(__dirname, '../..');
const tsx = join(repo, 'node_modules', '.bin', 'tsx');
// Each case starts tsx child processes: seconds each on a loaded machine.
const CHILD_TIMEOUT_MS = 90_000;
const scratch = mkdtempSync(join(tmpdir(), 'lab-commands-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a lab command as a user would (its own process, cwd a scratch folder), without the caller's Voice Live settings. */
function run(script: string, args: string[], timeoutMs = 60_000): Promise<Run> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('VOICE_LIVE_')));
  return new Promise((done) => {
    execFile(tsx, [join(repo, script), ...args], { cwd: scratch, env, timeout: timeoutMs }, (error, stdout, stderr) => {
      done({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

/** A WAV header with the given format and a little data. */
function wavWith(format: { audioFormat: number; bitsPerSample: number }): Buffer {
  const data = Buffer.alloc(800);
  const out = Buffer.alloc(44);
  out.write('RIFF', 0, 'ascii');
  out.writeUInt32LE(36 + data.length, 4);
  out.write('WAVEfmt ', 8, 'ascii');
  out.writeUInt32LE(16, 16);
  out.writeUInt16LE(format.audioFormat, 20);
  out.writeUInt16LE(1, 22);
  out.writeUInt32LE(16000, 24);
  out.writeUInt32LE((16000 * format.bitsPerSample) / 8, 28);
  out.writeUInt16LE(format.bitsPerSample / 8, 32);
  out.writeUInt16LE(format.bitsPerSample, 34);
  out.write('data', 36, 'ascii');
  out.writeUInt32LE(data.length, 40);
  return Buffer.concat([out, data]);
}

/** One line on stderr, no stack trace, exit code 2. */
function expectOneLineRefusal(result: Run, ...mentions: RegExp[]): void {
  expect(result.code).toBe(2);
  const lines = result.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(result.stderr).not.toMatch(/^\s+at /m);
  for (const mention of mentions) expect(lines[0]).toMatch(mention);
}

describe('npm run call answers a mistake with its file in one line and exit code 2', () => {
  it('a file that does not exist', async () => {
    expectOneLineRefusal(await run('lab/call.ts', ['--audio', 'no-such-recording.wav']), /no such file: no-such-recording\.wav/);
  }, CHILD_TIMEOUT_MS);

  it('a file that is not a WAV file', async () => {
    writeFileSync(join(scratch, 'notes.wav'), 'these are my notes, not audio\n');
    expectOneLineRefusal(await run('lab/call.ts', ['--audio', 'notes.wav']), /notes\.wav is not a WAV file/, /16-bit PCM WAV/, /ffmpeg/);
  }, CHILD_TIMEOUT_MS);

  it('a WAV file in a format it cannot play (8-bit, 32-bit float)', async () => {
    writeFileSync(join(scratch, 'eight-bit.wav'), wavWith({ audioFormat: 1, bitsPerSample: 8 }));
    expectOneLineRefusal(await run('lab/call.ts', ['--audio', 'eight-bit.wav']), /eight-bit\.wav is a WAV file this command cannot use/, /8 bits/);
    writeFileSync(join(scratch, 'float.wav'), wavWith({ audioFormat: 3, bitsPerSample: 32 }));
    expectOneLineRefusal(await run('lab/call.ts', ['--audio', 'float.wav']), /float\.wav .*format 3/);
  }, CHILD_TIMEOUT_MS);

  it('a WAV file with no audio in it', async () => {
    writeFileSync(join(scratch, 'empty.wav'), wavWith({ audioFormat: 1, bitsPerSample: 16 }).subarray(0, 44));
    expectOneLineRefusal(await run('lab/call.ts', ['--audio', 'empty.wav']), /empty\.wav holds no audio/);
  }, CHILD_TIMEOUT_MS);

  it('an output path it cannot write: a folder in the way of --out or --report, before any call is placed', async () => {
    expectOneLineRefusal(await run('lab/call.ts', ['--out', '.']), /--out file \. is a directory: give a file name/);
    writeFileSync(join(scratch, 'a-file'), '');
    expectOneLineRefusal(await run('lab/call.ts', ['--report', 'a-file/report.html']), /cannot write the report a-file\/report\.html: (EEXIST|ENOTDIR)/);
  }, CHILD_TIMEOUT_MS);

  it('a directory', async () => {
    expectOneLineRefusal(await run('lab/call.ts', ['--audio', '.']), /\. is a directory/);
  }, CHILD_TIMEOUT_MS);
});

describe('npm run load answers a usage mistake without a stack trace', () => {
  it('an unknown option or a count that is not a number: exit code 2 and the usage', async () => {
    for (const args of [['--calls', 'many'], ['--file', 'x.wav']]) {
      const result = await run('lab/load.ts', [...args, '--no-write']);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/usage: npm run load/);
      expect(result.stderr).not.toMatch(/^\s+at /m);
    }
  }, CHILD_TIMEOUT_MS);
});

describe('npm run call with no recording of its own', () => {
  it('calls the lab with the sample caller made offline (two turns, each answered), and saves the sample as a WAV', async () => {
    const result = await run('lab/call.ts', ['--report', join(scratch, 'report.html')], 110_000);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/caller: the sample recording \(eSpeak NG: "Hello, I would like to check the status of my order/);
    const turns = /time to first agent audio\n((?:\s+.+\n)+)/.exec(result.stdout)?.[1] ?? '';
    expect(turns).toMatch(/^\s+1\s+\d+ ms from the end of the caller's speech/m);
    expect(turns).toMatch(/^\s+2\s+\d+ ms from the end of the caller's speech/m);
    const sample = readWav(readFileSync(join(scratch, 'reports', 'sample-caller.wav')));
    expect(sample.samples.length / sample.sampleRateHz).toBeGreaterThan(10);
    expect(readFileSync(join(scratch, 'report.html'), 'utf8')).toMatch(/<html/i);
  }, 120_000);
});
