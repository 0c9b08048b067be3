import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';

/** One answer of the stand-in `az`: what the real CLI prints and its exit code. */
export interface AzReply {
  stdout?: unknown;
  stderr?: string;
  code?: number;
}

/** Every one of `args` must occur in the call's argv; replies are played in order, the last one repeats. */
export interface AzRule {
  args: string[];
  replies: AzReply[];
}

export interface HookRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Every `az` call the hook made, argv without the leading `az`. */
  calls: string[][];
}

const repoRoot = resolve(__dirname, '..', '..');
const fakeAzDir = join(__dirname, 'fake-az');

/**
 * Runs a real hook script (`infra/hooks/<name>.mjs`) with node as a child process, the way azd does, with the
 * stand-in `az` first on PATH answering from `rules`. Only the given environment reaches the hook (plus PATH),
 * so a value the test does not set is really unset.
 */
export function runHook(script: string, rules: AzRule[], env: Record<string, string>, options: { timeoutMs?: number } = {}): Promise<HookRun> {
  return runWithFakeAz([join(repoRoot, script)], rules, env, options);
}

/** Runs `node <args>` from the repository root with the stand-in `az` first on PATH (see runHook). */
export async function runWithFakeAz(nodeArgs: string[], rules: AzRule[], env: Record<string, string>, options: { timeoutMs?: number } = {}): Promise<HookRun> {
  const dir = mkdtempSync(join(tmpdir(), 'fake-az-'));
  const scriptPath = join(dir, 'script.json');
  const logPath = join(dir, 'calls.jsonl');
  writeFileSync(scriptPath, JSON.stringify({ rules }));
  writeFileSync(logPath, '');
  try {
    const child = spawn(process.execPath, nodeArgs, {
      cwd: repoRoot,
      env: {
        PATH: `${fakeAzDir}${delimiter}${process.env.PATH ?? ''}`,
        FAKE_AZ_SCRIPT: scriptPath,
        FAKE_AZ_LOG: logPath,
        AZD_HOOK_RETRY_DELAY_MS: '1',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 15_000);
    const code = await new Promise<number | null>((done) => child.on('close', (exitCode) => done(exitCode)));
    clearTimeout(timer);
    const calls = existsSync(logPath)
      ? readFileSync(logPath, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as string[])
      : [];
    return { code, stdout, stderr, calls };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The value that follows `flag` in a call's argv. */
export function flagValue(call: readonly string[], flag: string): string | undefined {
  const at = call.indexOf(flag);
  return at >= 0 ? call[at + 1] : undefined;
}

/** The argv values after `flag` up to the next `--option`. */
export function flagValues(call: readonly string[], flag: string): string[] {
  const at = call.indexOf(flag);
  if (at < 0) return [];
  const rest = call.slice(at + 1);
  const end = rest.findIndex((arg) => arg.startsWith('--'));
  return end < 0 ? rest : rest.slice(0, end);
}
