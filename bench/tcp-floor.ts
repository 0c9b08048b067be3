/**
 * TCP floor: `npm run bench:tcp-floor -- --calls C --seconds S [--pin]`
 *
 * What the relay benchmark's traffic costs a Node process when it does nothing but move bytes: no WebSocket
 * framing, no JSON, no base64. C calls, each two loopback TCP connections through a child process that pipes
 * them (`a.on('data') -> b.write`, both ways). The caller side sends one message of an ACS `AudioData` frame's
 * size every 20 ms; the far side echoes 40 of every 50 (800 ms of agent audio, 200 ms without), as the echo
 * Voice Live peer of `bench/relay.ts` does. The child's CPU per call-second is the least any relay written in
 * Node can cost for this traffic on this machine (the kernel's loopback TCP path plus Node's socket streams);
 * read the relay benchmark's figures against it. Each message carries its send time, so the latency of one hop
 * through the pipe (up: caller to far side; down: far side to caller) is also the floor for the relay's.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { type AddressInfo, type Socket, connect, createServer } from 'node:net';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    calls: { type: 'string', default: '200' },
    seconds: { type: 'string', default: '10' },
    pin: { type: 'boolean', default: false },
  },
});
const CALLS = Number(args.calls);
const SECONDS = Number(args.seconds);

/** The size of a 20 ms, 16 kHz ACS AudioData message, which is also about the size of the append it becomes. */
const MESSAGE_BYTES = Buffer.byteLength(
  JSON.stringify({
    kind: 'AudioData',
    audioData: { timestamp: new Date().toISOString(), participantRawID: '8:acs:00000000-0000-0000-0000-000000000000', data: Buffer.alloc(640).toString('base64'), silent: false },
  }),
);

const PIPE = `
const net = require('node:net');
const server = net.createServer((caller) => {
  caller.setNoDelay(true);
  const far = net.connect(Number(process.env.FAR_PORT), '127.0.0.1');
  far.setNoDelay(true);
  caller.on('data', (chunk) => far.write(chunk));
  far.on('data', (chunk) => caller.write(chunk));
  caller.on('close', () => far.destroy());
  far.on('close', () => caller.destroy());
  caller.on('error', () => undefined);
  far.on('error', () => undefined);
});
server.listen(0, '127.0.0.1', () => process.send(server.address().port));
`;

function cpuTicks(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(fields[11]), system: Number(fields[12]) };
}

function machineTicks(): { total: number; steal: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  return { total: fields.reduce((a, b) => a + b, 0), steal: fields[7] ?? 0 };
}

/** Latencies (ms) of the measured seconds: a message carries its send time (`performance.now()`) in its first 8 bytes. */
const upLatencies: number[] = [];
const downLatencies: number[] = [];
let measuring = false;

/** A fresh message stamped with the time it is sent (a fresh buffer: a queued write keeps a reference to it). */
function stampedMessage(fill: number): Buffer {
  const message = Buffer.alloc(MESSAGE_BYTES, fill);
  message.writeDoubleLE(performance.now(), 0);
  return message;
}

/** Cuts a byte stream back into fixed-size messages and hands over each one's send time. */
function messageReader(onMessage: (sentAt: number) => void): (chunk: Buffer) => void {
  const stamp = Buffer.alloc(8);
  let offset = 0; // within the current message
  return (chunk) => {
    let at = 0;
    while (at < chunk.length) {
      if (offset < 8) {
        const n = Math.min(8 - offset, chunk.length - at);
        chunk.copy(stamp, offset, at, at + n);
        offset += n;
        at += n;
        continue;
      }
      const n = Math.min(MESSAGE_BYTES - offset, chunk.length - at);
      offset += n;
      at += n;
      if (offset === MESSAGE_BYTES) {
        offset = 0;
        onMessage(stamp.readDoubleLE(0));
      }
    }
  };
}

/** The far side: reads whole messages per connection and echoes those of the agent's turns. */
async function startEchoPeer(): Promise<{ port: number; echoed: () => number; close: () => void }> {
  let echoed = 0;
  const server = createServer((socket) => {
    socket.setNoDelay(true);
    let seq = 0;
    socket.on(
      'data',
      messageReader((sentAt) => {
        if (measuring) upLatencies.push(performance.now() - sentAt);
        if (seq++ % 50 < 40) {
          socket.write(stampedMessage(0x41));
          echoed++;
        }
      }),
    );
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, echoed: () => echoed, close: () => server.close() };
}

function latencySummary(name: string, values: number[]): string {
  const sorted = Float64Array.from(values).sort();
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  return `${name} p50 ${at(0.5).toFixed(2)} ms, p99 ${at(0.99).toFixed(2)} ms, max ${(sorted.at(-1) ?? NaN).toFixed(2)} ms`;
}

async function main(): Promise<void> {
  const peer = await startEchoPeer();
  const nodeArgs = ['-e', PIPE];
  const child: ChildProcess = spawn(args.pin ? 'taskset' : process.execPath, args.pin ? ['-c', '1', process.execPath, ...nodeArgs] : nodeArgs, {
    env: { PATH: process.env.PATH ?? '', FAR_PORT: String(peer.port) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const port = await new Promise<number>((resolve) => child.once('message', (m) => resolve(Number(m))));
  if (args.pin) spawn('taskset', ['-a', '-p', '-c', '0', String(process.pid)], { stdio: 'ignore' });

  let received = 0;
  const callers: Socket[] = await Promise.all(
    Array.from({ length: CALLS }, () => new Promise<Socket>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => resolve(socket));
      socket.setNoDelay(true);
      const read = messageReader((sentAt) => {
        if (measuring) downLatencies.push(performance.now() - sentAt);
      });
      socket.on('data', (chunk: Buffer) => {
        received += chunk.length;
        read(chunk);
      });
    })),
  );
  let sent = 0;
  // Every call sends on its own 20 ms clock, the calls spread over the period, as in the relay benchmark; a
  // late tick catches up (kept on the clock, so call-seconds are what the clock says).
  const begin = performance.now();
  const next = Float64Array.from({ length: CALLS }, (_, call) => begin + (call * 20) / CALLS);
  const ticker = setInterval(() => {
    const now = performance.now();
    for (let call = 0; call < CALLS; call++) {
      while (next[call]! <= now) {
        callers[call]!.write(stampedMessage(0x42));
        sent++;
        next[call]! += 20;
      }
    }
  }, 1);

  await new Promise((r) => setTimeout(r, 1000));
  const before = { cpu: cpuTicks(child.pid!), machine: machineTicks(), sent, echoed: peer.echoed() };
  measuring = true;
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  measuring = false;
  const after = { cpu: cpuTicks(child.pid!), machine: machineTicks(), sent, echoed: peer.echoed() };

  clearInterval(ticker);
  for (const socket of callers) socket.destroy();
  child.kill();
  peer.close();

  const callSeconds = (after.sent - before.sent) / 50;
  const userS = (after.cpu.user - before.cpu.user) / 100;
  const systemS = (after.cpu.system - before.cpu.system) / 100;
  const steal = (100 * (after.machine.steal - before.machine.steal)) / (after.machine.total - before.machine.total);
  process.stdout.write(
    [
      `TCP floor: ${CALLS} calls x ${SECONDS} s, ${MESSAGE_BYTES}-byte messages, ${after.sent - before.sent} up and ${after.echoed - before.echoed} echoed down through a byte pipe${args.pin ? ', pinned' : ''}`,
      `pipe CPU ${(userS + systemS).toFixed(2)} s over ${callSeconds.toFixed(0)} call-seconds = ${((1000 * (userS + systemS)) / callSeconds).toFixed(3)} ms per call-second (user ${((1000 * userS) / callSeconds).toFixed(3)}, kernel ${((1000 * systemS) / callSeconds).toFixed(3)})`,
      `one hop through the pipe (callers and echo peer on one thread of this process): ${latencySummary('up', upLatencies)}; ${latencySummary('down', downLatencies)}`,
      `machine: hypervisor steal ${steal.toFixed(1)}% of CPU time during the run; bytes back at the callers ${received}`,
    ].join('\n') + '\n',
  );
  process.exit(0);
}

main().catch((error: Error) => {
  process.stderr.write(`${error.stack ?? error.message}\n`);
  process.exit(1);
});
