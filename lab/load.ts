import { readFileSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { ConfigError } from '../shared/config/env.js';
import { flagsToEnv, loadLabConfig, UsageError } from './config.js';
import { startLab, type Lab } from './lab.js';
import type { EmulatedCall } from './acs/emulator.js';
import { concat, silence, tone } from './audio/signal.js';

const USAGE = `usage: npm run load -- --calls C --seconds S [--rate R] [--no-write]
Places C calls at R calls/s (default 10) through functions -> ACS emulator -> worker (a child process) -> Voice Live
emulator; each call talks for S seconds (a 1 s burst every 3 s) and hangs up. Prints answer rate, concurrency,
latency percentiles, errors, worker CPU and memory, and writes them to BENCHMARKS.md ("Load").`;

interface CallRecord {
  call?: EmulatedCall;
  dialledAtMs: number;
  answeredMs?: number;
  mediaMs?: number;
  greetingMs?: number;
  turnMs: number[];
  heardFrames: number;
  error?: string;
}

function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

function procSample(pid: number): { cpuSeconds: number; rssBytes: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return { cpuSeconds: (Number(fields[11]) + Number(fields[12])) / 100, rssBytes: Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024 };
  } catch {
    return undefined; // not Linux, or the process is gone
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function runCall(lab: Lab, record: CallRecord, seconds: number, burst: Int16Array, stats: { held: number; peakHeld: number }): Promise<void> {
  const call = await lab.placeCall({ from: `+1555${String(Math.floor(Math.random() * 1e7)).padStart(7, '0')}` });
  record.call = call;
  call.on('heard', () => record.heardFrames++);
  const answered = await call.waitFor('answered', 20_000);
  record.answeredMs = answered.atMs;
  const media = await Promise.race([call.waitFor('connected', 20_000), call.waitFor('MediaStreamingFailed', 20_000).then(() => Promise.reject(new Error('MediaStreamingFailed')))]);
  record.mediaMs = media.atMs;
  stats.held++;
  stats.peakHeld = Math.max(stats.peakHeld, stats.held);
  try {
    const greeting = await call.waitFor('agent-audio', 10_000).catch(() => undefined);
    if (greeting) record.greetingMs = greeting.atMs - media.atMs;
    const endAt = media.atMs + seconds * 1000;
    for (let next = media.atMs + 1000; next + 2000 <= endAt; next += 3000) {
      await sleep(Math.max(0, next - call.timeline.elapsedMs()));
      if (call.isOver) break;
      call.say(burst);
      const burstEnd = call.timeline.elapsedMs() + (burst.length / (call.sampleRateHz ?? 16000)) * 1000;
      const reply = await call.timeline.waitFor((e) => e.type === 'agent-audio' && e.atMs > burstEnd, 2500, 'turn reply').catch(() => undefined);
      if (reply) record.turnMs.push(reply.atMs - burstEnd);
    }
    await sleep(Math.max(0, endAt - call.timeline.elapsedMs()));
    if (call.isOver) throw new Error(`call ended early (${call.state})`);
    await call.hangUp();
  } finally {
    stats.held--;
  }
  const disconnected = await call.waitFor('CallDisconnected', 10_000);
  if (disconnected.detail?.status !== 200) throw new Error(`CallDisconnected callback got ${String(disconnected.detail?.status)}`);
  const refused = call.timeline.entries.filter((e) => (e.source === 'callback' || e.source === 'eventgrid') && e.detail?.status !== 200);
  if (refused.length) throw new Error(`${refused[0]!.type} delivery got ${String(refused[0]!.detail?.status ?? refused[0]!.detail?.error)}`);
}

async function main(): Promise<void> {
  let flags: Record<string, string>;
  try {
    flags = flagsToEnv(process.argv.slice(2).filter((a) => a !== '--no-write'), { '--calls': 'calls', '--seconds': 'seconds', '--rate': 'rate' });
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
  const callCount = Number(flags.calls ?? 20);
  const seconds = Number(flags.seconds ?? 10);
  const rate = Number(flags.rate ?? 10);
  if (![callCount, seconds, rate].every((n) => Number.isFinite(n) && n > 0)) {
    process.stderr.write(`--calls, --seconds and --rate must be positive numbers\n${USAGE}\n`);
    process.exit(2);
  }
  const write = !process.argv.includes('--no-write');
  const config = loadLabConfig({ ...process.env, LOG_LEVEL: 'silent' });
  const lab = await startLab({ audioFormat: config.MEDIA_AUDIO_FORMAT, workerEnv: config.passThrough, logLevel: 'silent', worker: 'child-process' });
  const pid = lab.workerProcess!.pid!;
  const rateHz = config.MEDIA_AUDIO_FORMAT === 'pcm24KMono' ? 24000 : 16000;
  const burst = concat([tone({ frequencyHz: 320, durationMs: 1000, sampleRateHz: rateHz, amplitude: 0.3 }), silence(20, rateHz)]);
  const baseline = procSample(pid);
  const loadBefore = loadavg();
  const labCpuBefore = process.cpuUsage();

  const stats = { held: 0, peakHeld: 0 };
  let peakRss = baseline?.rssBytes ?? 0;
  const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, procSample(pid)?.rssBytes ?? 0)), 250);
  const records: CallRecord[] = [];
  const started = performance.now();
  const running: Promise<void>[] = [];
  for (let i = 0; i < callCount; i++) {
    await sleep(Math.max(0, (i * 1000) / rate - (performance.now() - started)));
    const record: CallRecord = { dialledAtMs: performance.now() - started, turnMs: [], heardFrames: 0 };
    records.push(record);
    running.push(runCall(lab, record, seconds, burst, stats).catch((error: Error) => void (record.error = error.message)));
  }
  await Promise.all(running);
  const elapsedS = (performance.now() - started) / 1000;
  clearInterval(rssTimer);
  const after = procSample(pid);
  const labCpu = process.cpuUsage(labCpuBefore);
  const busMessages = lab.serviceBus.messages('call-events').length;
  await lab.close();

  const ok = records.filter((r) => !r.error);
  const answeredAt = records.filter((r) => r.mediaMs !== undefined).map((r) => r.dialledAtMs + r.mediaMs!);
  const answerWindowS = answeredAt.length > 1 ? (Math.max(...answeredAt) - Math.min(...records.map((r) => r.dialledAtMs))) / 1000 : NaN;
  const pct = (values: number[]) => {
    const f = (p: number) => (percentile(values, p) === undefined ? '–' : `${Math.round(percentile(values, p)!)}`);
    return `${f(50)} / ${f(90)} / ${f(99)} / ${values.length ? Math.round(Math.max(...values)) : '–'}`;
  };
  const errors = new Map<string, number>();
  for (const r of records) if (r.error) errors.set(r.error, (errors.get(r.error) ?? 0) + 1);
  const cpuS = after && baseline ? after.cpuSeconds - baseline.cpuSeconds : undefined;
  const callSeconds = ok.length * seconds;

  const rows: [string, string][] = [
    ['calls placed / completed without error', `${callCount} / ${ok.length}`],
    ['calls answered per second (dial to media up, whole run)', Number.isFinite(answerWindowS) ? (answeredAt.length / answerWindowS).toFixed(1) : '–'],
    ['concurrent calls held (peak)', String(stats.peakHeld)],
    ['dial → answer request at ACS, ms (p50 / p90 / p99 / max)', pct(records.flatMap((r) => (r.answeredMs === undefined ? [] : [r.answeredMs])))],
    ['dial → media WebSocket up, ms', pct(records.flatMap((r) => (r.mediaMs === undefined ? [] : [r.mediaMs])))],
    ['media up → first greeting audio heard, ms', pct(records.flatMap((r) => (r.greetingMs === undefined ? [] : [r.greetingMs])))],
    ['end of caller burst → agent audio heard, ms (includes the end-of-turn silence of the VAD)', pct(records.flatMap((r) => r.turnMs))],
    ['errors', errors.size ? [...errors].map(([m, n]) => `${n}× ${m}`).join('; ') : 'none'],
    ['worker CPU', cpuS === undefined ? 'unavailable (needs /proc)' : `${cpuS.toFixed(2)} s = ${((100 * cpuS) / elapsedS).toFixed(0)}% of a core, ${callSeconds ? ((1000 * cpuS) / callSeconds).toFixed(2) : '–'} ms per call-second`],
    ['worker RSS baseline / peak', baseline ? `${(baseline.rssBytes / 1048576).toFixed(1)} / ${(peakRss / 1048576).toFixed(1)} MiB (${stats.peakHeld ? ((peakRss - baseline.rssBytes) / 1024 / stats.peakHeld).toFixed(0) : '–'} KiB per held call)` : 'unavailable'],
    ['lab process CPU (ACS, Functions, Voice Live, Service Bus emulators)', `${((labCpu.user + labCpu.system) / 1e6).toFixed(2)} s`],
    ['messages on call-events', String(busMessages)],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  process.stdout.write(`load: ${callCount} calls at ${rate}/s, ${seconds} s each, ${elapsedS.toFixed(1)} s\n${rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`).join('\n')}\n`);

  if (write) {
    const machine = `${cpus().length} cores (${cpus()[0]?.model.trim() ?? 'unknown CPU'}), Node ${process.version}, load average ${loadBefore.map((l) => l.toFixed(2)).join(' ')} before`;
    const section = [
      '## Load',
      '',
      '<!-- load:generated: npm run load rewrites this section -->',
      `Measured ${new Date().toISOString().slice(0, 10)} on ${machine}: \`npm run load -- --calls ${callCount} --seconds ${seconds} --rate ${rate}\`.`,
      'Every call goes the whole way: Event Grid IncomingCall → Functions → ACS emulator → worker (child process, MEDIA_AUTH=acs) → Voice Live emulator (echo agent) and back, with callbacks and Service Bus messages. The emulators and the driver share one process (its CPU is listed): with many calls it, more than the worker, sets the latencies; the CPU and memory of the worker are its own. Local figures on a shared machine, not Azure numbers.',
      '',
      '| figure | value |',
      '|---|---|',
      ...rows.map(([k, v]) => `| ${k} | ${v.replace(/\|/g, '\\|')} |`),
      '',
    ].join('\n');
    const path = resolve(__dirname, '..', 'BENCHMARKS.md');
    const current = existsSync(path) ? readFileSync(path, 'utf8') : '# Benchmarks\n';
    const start = current.indexOf('## Load\n');
    let next: string;
    if (start === -1) next = `${current.replace(/\s*$/, '\n')}\n${section}`;
    else {
      const end = current.indexOf('\n## ', start + 1);
      next = `${current.slice(0, start)}${section}${end === -1 ? '' : current.slice(end + 1)}`;
    }
    const temp = `${path}.load-${process.pid}.tmp`;
    writeFileSync(temp, next);
    renameSync(temp, path);
    process.stdout.write(`wrote the "Load" section of ${path}\n`);
  }
  process.exit(ok.length === callCount ? 0 : 1);
}

main().catch((error: Error) => {
  process.stderr.write(error instanceof ConfigError || error instanceof UsageError ? `${error.message}\n` : `load failed: ${error.stack ?? error.message}\n`);
  process.exit(1);
});
