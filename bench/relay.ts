/**
 * Relay benchmark: `npm run bench:relay -- --calls C --seconds S [--profile] [--voice-live-rate 24000] [--no-build] [--bare] [--pin]
 *   [--worker-node-args=--max-semi-space-size=4]`
 *
 * `--delta-ms 100` makes the echo peer answer with one delta per 100 ms of audio (Voice Live's deltas are
 * longer than a frame); the default answers every 20 ms append with its own delta.
 *
 * `--pin` runs the worker on CPU 1 and the load generator on CPU 0 (other processes on the machine still share both).
 *
 * `--bare` runs, instead of the worker, the least a relay can do on this machine: the same two protocols
 * translated by string slicing, with no validation, pacing, metrics or Voice Live client. It is the floor
 * against which the worker's cost is read.
 *
 * C simulated calls stream real-time 20 ms frames through the worker (a child process, so its CPU and
 * memory are measured alone) to an echo Voice Live peer in this process, which answers appends with the same
 * audio as `response.audio.delta`s, in turns (800 ms of echo, then 200 ms without). Each frame carries its call
 * and sequence number in its first bytes, so relay-added latency is measured per frame in each direction on one
 * clock:
 *   up   = ACS client sends the frame  -> peer receives the append
 *   down = peer sends the delta        -> ACS client receives the frame
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { WebSocket, WebSocketServer } from 'ws';
import { AcsMediaClient } from '../lab/acs/media-client.js';

const { values: args } = parseArgs({
  options: {
    calls: { type: 'string', default: '50' },
    seconds: { type: 'string', default: '10' },
    rate: { type: 'string', default: '16000' },
    'voice-live-rate': { type: 'string' },
    profile: { type: 'boolean', default: false },
    'no-build': { type: 'boolean', default: false },
    bare: { type: 'boolean', default: false },
    'worker-node-args': { type: 'string', default: '' },
    /** Runs the worker as if the optional native `bufferutil` were not installed (ws then masks in JavaScript). */
    'no-buffer-util': { type: 'boolean', default: false },
    /** Worker on CPU 1, this process (ACS clients, echo peer) on CPU 0, as the issue's targets assume (needs taskset). */
    pin: { type: 'boolean', default: false },
    /** Audio per Voice Live delta (a multiple of 20): the echo sends one delta per this many ms of appends. */
    'delta-ms': { type: 'string', default: '20' },
  },
});
const CALLS = Number(args.calls);
const SECONDS = Number(args.seconds);
const RATE = Number(args.rate) as 16000 | 24000;
const FRAME_BYTES = (RATE / 50) * 2;
/** The first second of each call is warm-up (JIT, every call starting at once), then a pause, then the measured seconds. */
const WARMUP_FRAMES = 50;
const FRAMES = WARMUP_FRAMES + SECONDS * 50;

// ---- the echo Voice Live peer (a thread of this process) ----------------------------------------

/** Wall-clock milliseconds comparable across this process's threads. */
const now = (): number => performance.timeOrigin + performance.now();

// Shared with the peer thread: when each frame was sent by ACS and echoed by Voice Live, per call and sequence.
const sentAtShared = new SharedArrayBuffer(CALLS * FRAMES * 8);
const echoSentAtShared = new SharedArrayBuffer(CALLS * FRAMES * 8);
const sentAt = new Float64Array(sentAtShared);
const echoSentAt = new Float64Array(echoSentAtShared);
/** [appends received, measuring flag, deltas sent] */
const peerState = new Int32Array(new SharedArrayBuffer(12));

/** Voice Live sends the delta -> ACS receives the frame (includes any wait for the playout lead). */
const downLatencies: number[] = [];
/** The same for the first frame of each agent turn: the delay the relay adds before the caller hears a reply. */
const downFirstLatencies: number[] = [];
let framesReceived = 0;
let measuring = false;

function readTag(base64: string): { call: number; seq: number } {
  const head = Buffer.from(base64.slice(0, 12), 'base64');
  return { call: head.readUInt32LE(0), seq: head.readUInt32LE(4) };
}

/**
 * Echo peer, in plain JavaScript on its own thread so that its work and the ACS clients' do not queue behind
 * each other: every `input_audio_buffer.append` comes straight back as a `response.audio.delta`.
 */
const PEER_THREAD = `
const { parentPort, workerData } = require('node:worker_threads');
const { createServer } = require('node:http');
const { WebSocketServer } = require(workerData.wsPath);
const { CALLS, FRAMES } = workerData;
const sentAt = new Float64Array(workerData.sentAtShared);
const echoSentAt = new Float64Array(workerData.echoSentAtShared);
const state = new Int32Array(workerData.peerStateShared);
const now = () => performance.timeOrigin + performance.now();
const up = [];
const APPEND = '"type":"input_audio_buffer.append"';
const http = createServer((req, res) => res.writeHead(426).end());
const wss = new WebSocketServer({ server: http, perMessageDeflate: false });
wss.on('connection', (ws) => {
  const id = 'resp_' + Math.random().toString(36).slice(2);
  const pending = [], pendingSeqs = [];
  const head = '{"type":"response.audio.delta","response_id":"' + id + '","item_id":"item_' + id + '","output_index":0,"content_index":0,"delta":"';
  ws.send(JSON.stringify({ type: 'session.created', event_id: 'e0', session: { id } }));
  ws.on('message', (data) => {
    const text = data.toString();
    if (text.includes(APPEND)) {
      const at = now();
      const start = text.indexOf('"audio":"') + 9;
      const audio = text.slice(start, text.indexOf('"', start));
      Atomics.add(state, 0, 1);
      const tag = Buffer.from(audio.slice(0, 12), 'base64');
      const call = tag.readUInt32LE(0), seq = tag.readUInt32LE(4);
      const valid = call < CALLS && seq < FRAMES;
      if (valid && seq >= workerData.WARMUP_FRAMES && Atomics.load(state, 1) === 1) up.push(at - sentAt[call * FRAMES + seq]);
      // The agent talks in turns: 800 ms of echo, 200 ms of silence (no deltas), as a model's replies come.
      if (seq % 50 >= 40) return;
      if (workerData.DELTA_FRAMES <= 1) {
        Atomics.add(state, 2, 1);
        ws.send(head + audio + '"}');
        if (valid) echoSentAt[call * FRAMES + seq] = now();
        return;
      }
      // Longer deltas, as a model sends them: several frames' audio in one event.
      pending.push(Buffer.from(audio, 'base64'));
      pendingSeqs.push(valid ? call * FRAMES + seq : -1);
      if (pending.length < workerData.DELTA_FRAMES && seq % 50 !== 39) return;
      Atomics.add(state, 2, pending.length);
      ws.send(head + Buffer.concat(pending).toString('base64') + '"}');
      const at2 = now();
      for (const index of pendingSeqs) if (index >= 0) echoSentAt[index] = at2;
      pending.length = 0;
      pendingSeqs.length = 0;
      return;
    }
    const event = JSON.parse(text);
    if (event.type === 'session.update') {
      ws.send(JSON.stringify({ type: 'session.updated', event_id: 'e1', session: Object.assign({ id }, event.session) }));
      ws.send(JSON.stringify({ type: 'response.created', event_id: 'e2', response: { id, status: 'in_progress', output: [] } }));
    }
  });
  ws.on('error', () => undefined);
});
http.listen(0, '127.0.0.1', () => parentPort.postMessage({ port: http.address().port }));
parentPort.on('message', (message) => {
  if (message === 'results') parentPort.postMessage({ up: Float64Array.from(up) });
  if (message === 'close') { for (const c of wss.clients) c.terminate(); http.close(() => process.exit(0)); }
});
`;

async function startEchoPeer(): Promise<{ url: string; upLatencies(): Promise<Float64Array>; close(): Promise<void> }> {
  const thread = new Worker(PEER_THREAD, {
    eval: true,
    workerData: { CALLS, FRAMES, WARMUP_FRAMES, DELTA_FRAMES: Number(args['delta-ms']) / 20, sentAtShared, echoSentAtShared, peerStateShared: peerState.buffer, wsPath: createRequire(join(process.cwd(), 'package.json')).resolve('ws') },
  });
  const port = await new Promise<number>((resolve, reject) => {
    thread.once('message', (m: { port: number }) => resolve(m.port));
    thread.once('error', reject);
  });
  return {
    url: `http://127.0.0.1:${port}`,
    upLatencies: () =>
      new Promise((resolve) => {
        thread.once('message', (m: { up: Float64Array }) => resolve(m.up));
        thread.postMessage('results');
      }),
    close: () =>
      new Promise((resolve) => {
        thread.once('exit', () => resolve());
        thread.postMessage('close');
      }),
  };
}

// ---- the worker (child process) ---------------------------------------------------------------

interface ProcSample {
  cpuSeconds: number;
  userSeconds: number;
  rssBytes: number;
}

function sampleProc(pid: number): ProcSample {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return { cpuSeconds: ticks / 100, userSeconds: Number(fields[11]) / 100, rssBytes: rssKb * 1024 };
}

/** Whole-machine CPU time from /proc/stat (ticks), to report the hypervisor's steal during the run. */
function sampleMachine(): { totalTicks: number; stealTicks: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  return { totalTicks: fields.reduce((a, b) => a + b, 0), stealTicks: fields[7] ?? 0 };
}

/** The worker's own view from its `/metrics`: relay-latency buckets and event-loop delay (none for `--bare`). */
async function sampleWorkerMetrics(port: number): Promise<Map<string, number>> {
  const values = new Map<string, number>();
  if (args.bare) return values;
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  for (const line of text.split('\n')) {
    const bucket = /^worker_relay_latency_seconds_bucket\{le="([^"]+)",direction="(inbound|outbound)"\} (\S+)$/.exec(line);
    if (bucket) values.set(`${bucket[2]} ${bucket[1]}`, Number(bucket[3]));
    const lag = /^(nodejs_eventloop_lag_p(?:50|99)_seconds) (\S+)$/.exec(line);
    if (lag) values.set(lag[1]!, Number(lag[2]));
  }
  return values;
}

/** "p50 <= a ms, p99 <= b ms" from the difference of two cumulative histograms (bucket bounds, not exact values). */
function histogramSummary(before: Map<string, number>, after: Map<string, number>, direction: string): string {
  const prefix = `${direction} `;
  const buckets = [...after.entries()]
    .filter(([key]) => key.startsWith(prefix))
    .map(([key, value]) => ({ le: key.slice(prefix.length), count: value - (before.get(key) ?? 0) }));
  const total = buckets.find((b) => b.le === '+Inf')?.count ?? 0;
  if (total === 0) return `${direction} n/a`;
  const bound = (q: number) => {
    const bucket = buckets.find((b) => b.count >= q * total)!;
    return bucket.le === '+Inf' ? '> 250 ms' : `<= ${Number(bucket.le) * 1000} ms`;
  };
  return `${direction} p50 ${bound(0.5)}, p99 ${bound(0.99)} (${total} sampled)`;
}

/** prom-client samples the event loop with a 10 ms timer and reports the whole interval; the delay is what exceeds it. */
function eventLoopDelayMs(metrics: Map<string, number>, quantile: 'p50' | 'p99'): string {
  const seconds = metrics.get(`nodejs_eventloop_lag_${quantile}_seconds`);
  return seconds === undefined ? 'n/a' : Math.max(0, seconds * 1000 - 10).toFixed(1);
}

const BARE_RELAY = `
const { createServer } = require('node:http');
const { WebSocketServer, WebSocket } = require(process.env.WS_PATH);
const http = createServer((req, res) => res.writeHead(404).end());
const wss = new WebSocketServer({ server: http, perMessageDeflate: false });
const AUDIO = '"data":"', DELTA = '"delta":"';
wss.on('connection', (acs) => {
  const vl = new WebSocket(process.env.VOICE_LIVE_ENDPOINT.replace('http', 'ws') + '/voice-live/realtime?model=m', { perMessageDeflate: false });
  vl.on('open', () => vl.send(JSON.stringify({ type: 'session.update', session: { input_audio_sampling_rate: 16000 } })));
  acs.on('message', (data) => {
    const text = data.toString();
    const at = text.indexOf(AUDIO);
    if (at < 0 || vl.readyState !== 1) return;
    const end = text.indexOf('"', at + 8);
    vl.send('{"type":"input_audio_buffer.append","audio":"' + text.slice(at + 8, end) + '"}');
  });
  vl.on('message', (data) => {
    const text = data.toString();
    const at = text.indexOf(DELTA);
    if (at < 0) return;
    acs.send('{"kind":"audioData","audioData":{"data":"' + text.slice(at + 9, text.indexOf('"', at + 9)) + '"}}');
  });
  acs.on('close', () => vl.close());
  vl.on('error', () => undefined);
});
http.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ address: '127.0.0.1:' + http.address().port })));
`;

async function startWorker(voiceLiveUrl: string, profileDir: string | undefined): Promise<{ child: ChildProcess; port: number; exited: Promise<number | null> }> {
  // The built worker, as `npm run start:worker` runs it in production (no TypeScript loader in the process).
  const nodeArgs = [...(args['worker-node-args'] ? args['worker-node-args'].split(' ') : []), ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []), ...(args.bare ? ['-e', BARE_RELAY] : ['dist/worker/main.js'])];
  // taskset execs node: the pid (read from /proc below) stays the worker's.
  const child = spawn(args.pin ? 'taskset' : process.execPath, args.pin ? ['-c', '1', process.execPath, ...nodeArgs] : nodeArgs, {
    env: {
      PATH: process.env.PATH ?? '',
      PORT: '0',
      HOST: '127.0.0.1',
      VOICE_LIVE_ENDPOINT: voiceLiveUrl,
      VOICE_LIVE_API_KEY: 'bench-key',
      VOICE_LIVE_MODEL: 'gpt-realtime',
      MEDIA_AUTH: 'none',
      LOG_LEVEL: 'info',
      DRAIN_TIMEOUT_S: '5',
      ...(args['no-buffer-util'] ? { WS_NO_BUFFER_UTIL: '1' } : {}),
      WS_PATH: createRequire(join(process.cwd(), 'package.json')).resolve('ws'),
      ...(args['voice-live-rate'] ? { VOICE_LIVE_AUDIO_RATE: args['voice-live-rate'] } : {}),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const match = /"address":"[^"]*:(\d+)"/.exec(out);
      if (match) resolve(Number(match[1]));
    });
    void exited.then(() => reject(new Error(`worker exited before listening: ${out}`)));
  });
  return { child, port, exited };
}

// ---- run ---------------------------------------------------------------------------------------

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function summary(name: string, values: number[]): string {
  if (values.length === 0) return `${name.padEnd(5)} n/a (resampled audio carries no frame tags)`;
  const sorted = Float64Array.from(values).sort();
  const list = Array.from(sorted);
  return `${name.padEnd(5)} p50 ${percentile(list, 50).toFixed(2)} ms  p99 ${percentile(list, 99).toFixed(2)} ms  max ${(list.at(-1) ?? NaN).toFixed(2)} ms  (${list.length} frames)`;
}

function frameFor(call: number, seq: number): Buffer {
  const frame = Buffer.alloc(FRAME_BYTES);
  for (let i = 8; i < FRAME_BYTES; i += 2) frame.writeInt16LE(Math.round(3000 * Math.sin((2 * Math.PI * 440 * (seq * (FRAME_BYTES / 2) + i / 2)) / RATE)), i);
  frame.writeUInt32LE(call, 0);
  frame.writeUInt32LE(seq, 4);
  return frame;
}

function summariseProfile(dir: string): string {
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) return '(no profile written)';
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as {
    nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
    samples: number[];
    timeDeltas: number[];
  };
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const node = byId.get(id)!;
    const dt = profile.timeDeltas[i] ?? 0;
    total += dt;
    const url = node.callFrame.url.replace(/^.*\/(node_modules\/|work\/main\/)/, '');
    const key = `${node.callFrame.functionName || '(anonymous)'} ${url ? `${url}:${node.callFrame.lineNumber + 1}` : ''}`.trim();
    self.set(key, (self.get(key) ?? 0) + dt);
  });
  return [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 25)
    .map(([key, us]) => `${((100 * us) / total).toFixed(1).padStart(5)}%  ${key}`)
    .join('\n') + `\n(profile: ${join(dir, file)})`;
}

function build(): void {
  if (args.bare || (args['no-build'] && existsSync('dist/worker/main.js'))) return;
  process.stdout.write('building the worker (tsc -p tsconfig.build.json)...\n');
  // Emit happens even if unrelated files have type errors; only the worker's output matters here.
  spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'ignore' });
  if (!existsSync('dist/worker/main.js')) throw new Error('build did not produce dist/worker/main.js');
}

async function main(): Promise<void> {
  build();
  const peer = await startEchoPeer();
  const profileDir = args.profile ? mkdtempSync(join(tmpdir(), 'relay-prof-')) : undefined;
  const worker = await startWorker(peer.url, profileDir);
  // Every thread of this process (the peer's included, started above) on the other core.
  if (args.pin && spawnSync('taskset', ['-a', '-p', '-c', '0', String(process.pid)], { stdio: 'ignore' }).status !== 0) throw new Error('taskset failed');
  const pid = worker.child.pid!;
  await new Promise((r) => setTimeout(r, 500));
  const baseline = sampleProc(pid);

  const clients: AcsMediaClient[] = [];
  for (let call = 0; call < CALLS; call++) {
    const client = await AcsMediaClient.connect({
      url: `ws://127.0.0.1:${worker.port}/ws/bench-${call}`,
      record: false,
      onMessage: (text, at) => {
        const start = text.indexOf('"data":"') + 8;
        if (start < 8) return;
        framesReceived++;
        const tag = readTag(text.slice(start, start + 12));
        if (tag.call >= CALLS || tag.seq >= FRAMES) return;
        const echoedAt = echoSentAt[tag.call * FRAMES + tag.seq]!;
        if (!(echoedAt > 0)) return;
        if (!measuring || tag.seq < WARMUP_FRAMES) return;
        downLatencies.push(performance.timeOrigin + at - echoedAt);
        if (tag.seq % 50 === 0) downFirstLatencies.push(performance.timeOrigin + at - echoedAt);
      },
    });
    client.sendMetadata(RATE);
    clients.push(client);
  }
  // Let every Voice Live session open before the clock starts.
  await new Promise((r) => setTimeout(r, 1000 + CALLS * 5));
  const frames = clients.map((_, call) => Array.from({ length: 50 }, (_, seq) => frameFor(call, seq)));

  let framesSent = 0;
  const connected = sampleProc(pid);
  let peakRss = connected.rssBytes;
  const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, sampleProc(pid).rssBytes)), 250);
  const seqOf = new Uint32Array(CALLS);
  /** Streams frames [seqOf, until) of every call in real time; calls are spread across the 20 ms period. */
  const stream = (until: number) =>
    new Promise<void>((resolve) => {
      const begin = performance.now();
      const next = new Float64Array(CALLS).map((_, call) => begin + (call * 20) / CALLS);
      const tick = () => {
        const tickAt = performance.now();
        let pending = false;
        for (let call = 0; call < CALLS; call++) {
          const seq = seqOf[call]!;
          if (seq >= until) continue;
          pending = true;
          if (next[call]! > tickAt) continue;
          const frame = frames[call]![seq % 50]!;
          frame.writeUInt32LE(seq, 4);
          sentAt[call * FRAMES + seq] = now();
          clients[call]!.sendAudio(frame);
          framesSent++;
          seqOf[call] = seq + 1;
          // A late tick does not burst to catch up (ACS's clock does not either): at most 1.33x real time.
          next[call] = Math.max(next[call]! + 20, tickAt + 15);
        }
        if (!pending) return resolve();
        setTimeout(tick, 1);
      };
      tick();
    });

  // Warm-up, then a pause long enough for any backlog it left in the playout queue to play out.
  Atomics.store(peerState, 1, 1);
  measuring = true;
  await stream(WARMUP_FRAMES);
  await new Promise((r) => setTimeout(r, 1500));
  const warmupFrames = framesSent;
  const workerMetricsBefore = await sampleWorkerMetrics(worker.port);
  const before = sampleProc(pid);
  const machineBefore = sampleMachine();
  const generatorBefore = process.cpuUsage();
  const startedAt = performance.now();
  await stream(FRAMES);
  const elapsedS = (performance.now() - startedAt) / 1000;
  const generatorCpu = process.cpuUsage(generatorBefore);
  const machineAfter = sampleMachine();
  const stealPercent = (100 * (machineAfter.stealTicks - machineBefore.stealTicks)) / (machineAfter.totalTicks - machineBefore.totalTicks);
  await new Promise((r) => setTimeout(r, 500));
  measuring = false;
  Atomics.store(peerState, 1, 0);
  clearInterval(rssTimer);
  const upLatencies = Array.from(await peer.upLatencies());
  const appendsReceived = Atomics.load(peerState, 0);
  const deltasSent = Atomics.load(peerState, 2);
  const after = sampleProc(pid);
  peakRss = Math.max(peakRss, after.rssBytes);
  const workerMetricsAfter = await sampleWorkerMetrics(worker.port);

  for (const client of clients) await client.close();
  await new Promise((r) => setTimeout(r, 300));
  worker.child.kill('SIGTERM');
  await worker.exited;
  await peer.close();

  const cpuS = after.cpuSeconds - before.cpuSeconds;
  // Audio relayed while measuring, in call-seconds (a saturated load generator stretches wall time).
  const callSeconds = (framesSent - warmupFrames) / 50;
  const lines = [
    `relay benchmark${args.bare ? ' (BARE relay: the floor, not the worker)' : ''}${args['worker-node-args'] ? ` (node ${args['worker-node-args']})` : ''}: ${CALLS} calls x ${SECONDS} s (+1 s warm-up) in ${elapsedS.toFixed(1)} s, ACS ${RATE} Hz, Voice Live ${args['voice-live-rate'] ?? RATE} Hz${args['voice-live-rate'] ? ' (resampling)' : ' (pass-through)'}${args['delta-ms'] !== '20' ? `, ${args['delta-ms']} ms deltas` : ''}${args.pin ? ', pinned' : ''}`,
    summary('up', upLatencies),
    summary('down', downFirstLatencies) + '  first frame of each agent turn',
    summary('down', downLatencies) + '  every frame (includes waiting behind the playout lead)',
    `frames  sent ${framesSent}  at Voice Live ${appendsReceived}  echoed ${deltasSent}  back at ACS ${framesReceived}  lost up ${framesSent - appendsReceived}  lost down ${deltasSent - framesReceived}`,
    `worker CPU ${cpuS.toFixed(2)} s over ${callSeconds.toFixed(0)} call-seconds = ${((1000 * cpuS) / callSeconds).toFixed(3)} ms per call-second (${((100 * cpuS) / elapsedS).toFixed(0)}% of a core; user ${(after.userSeconds - before.userSeconds).toFixed(2)} s, kernel ${(cpuS - (after.userSeconds - before.userSeconds)).toFixed(2)} s)`,
    ...(args.bare
      ? []
      : [
          `inside the worker (its /metrics, message handled to message sent): ${histogramSummary(workerMetricsBefore, workerMetricsAfter, 'inbound')}; ${histogramSummary(workerMetricsBefore, workerMetricsAfter, 'outbound')}; event-loop delay beyond its 10 ms sampling timer p50 ${eventLoopDelayMs(workerMetricsAfter, 'p50')} ms, p99 ${eventLoopDelayMs(workerMetricsAfter, 'p99')} ms`,
        ]),
    `machine: hypervisor steal ${stealPercent.toFixed(1)}% of CPU time during the run, load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`,
    `load generator (ACS clients and echo peer, one process) CPU ${((generatorCpu.user + generatorCpu.system) / 1e6).toFixed(2)} s = ${((generatorCpu.user + generatorCpu.system) / 1e4 / elapsedS).toFixed(0)}% of a core`,
    `worker RSS baseline ${(baseline.rssBytes / 1048576).toFixed(1)} MiB, calls connected ${(connected.rssBytes / 1048576).toFixed(1)} MiB = ${((connected.rssBytes - baseline.rssBytes) / 1024 / CALLS).toFixed(0)} KiB per call, peak streaming ${(peakRss / 1048576).toFixed(1)} MiB = ${((peakRss - baseline.rssBytes) / 1024 / CALLS).toFixed(0)} KiB per call`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
  if (profileDir) process.stdout.write(`\nhottest functions (self time, worker):\n${summariseProfile(profileDir)}\n`);
}

main().catch((error: Error) => {
  process.stderr.write(`${error.stack ?? error.message}\n`);
  process.exit(1);
});
