/**
 * Memory held per call by the caller audio the worker keeps while the first Voice Live session opens
 * (`npm run bench:held-audio -- [--calls 200] [--rate 24000]`).
 *
 * Each simulated call is a real VoiceLiveClient whose connect never completes (a TCP server that accepts and stays
 * silent), fed the full held window (3 s) of 20 ms frames parsed from ACS AudioData messages as the worker parses
 * them. The figure is the growth of the V8 heap plus external memory after a forced GC, divided by the calls.
 */
import { createServer, type Socket } from 'node:net';
import { parseArgs } from 'node:util';
import { parseAcsMessage } from '../worker/acs-media.js';
import { VoiceLiveClient } from '../worker/voice-live/client.js';

const { values } = parseArgs({ options: { calls: { type: 'string', default: '200' }, rate: { type: 'string', default: '24000' } } });
const calls = Number(values.calls);
const rateHz = Number(values.rate) as 16000 | 24000;
const maybeGc = (globalThis as { gc?: () => void }).gc;
if (!maybeGc) throw new Error('run with --expose-gc');
const gc: () => void = maybeGc;

async function main(): Promise<void> {
  const sockets: Socket[] = [];
  const server = createServer((socket) => sockets.push(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;

  const frameBytes = (rateHz / 50) * 2;
  const message = (seed: number) => {
    const pcm = Buffer.alloc(frameBytes);
    for (let i = 0; i < frameBytes / 2; i++) pcm.writeInt16LE(((seed * 7919 + i * 31) % 60000) - 30000, i * 2);
    return `{"kind":"AudioData","audioData":{"timestamp":"2026-01-01T00:00:00.000Z","participantRawID":"4:+15550000000","data":"${pcm.toString('base64')}","silent":false}}`;
  };

  const measure = () => {
    gc();
    gc();
    const m = process.memoryUsage();
    return m.heapUsed + m.external + m.arrayBuffers;
  };

  const clients: VoiceLiveClient[] = [];
  for (let c = 0; c < calls; c++) {
    clients.push(
      new VoiceLiveClient({
        endpoint: `http://127.0.0.1:${port}`,
        apiVersion: '2026-07-15',
        target: { kind: 'model', model: 'gpt-realtime' },
        auth: { apiKey: 'bench' },
        session: { voice: { type: 'openai', name: 'alloy' }, turnDetection: { type: 'server_vad' }, noiseSuppression: false, echoCancellation: false, inputRateHz: rateHz, outputRateHz: rateHz },
        callId: `bench-${c}`,
        connectTimeoutInMs: 60_000,
      }),
    );
  }
  for (const client of clients) void client.connect().catch(() => undefined);
  await new Promise((resolve) => setTimeout(resolve, 200));
  const before = measure();
  const framesPerCall = 150; // 3 s of 20 ms frames: the default bound
  for (const client of clients) {
    for (let f = 0; f < framesPerCall; f++) {
      const parsed = parseAcsMessage(message(f), false);
      if (!parsed.ok || parsed.message.kind !== 'audio' || !parsed.message.base64) throw new Error('bad frame');
      client.appendAudio(parsed.message.base64);
    }
  }
  const after = measure();
  const perCallBytes = (after - before) / calls;
  const pcmBytes = framesPerCall * frameBytes;
  console.log(
    JSON.stringify({ calls, rateHz, heldMs: framesPerCall * 20, pcmBytesPerCall: pcmBytes, measuredBytesPerCall: Math.round(perCallBytes), measuredKiBPerCall: Math.round(perCallBytes / 1024) }),
  );
  if (clients.some((c) => c.stats.heldAudioChunks !== framesPerCall || c.stats.heldAudioOverflow !== 0)) throw new Error('frames were not all held');
  await Promise.all(clients.map((c) => c.close('bench done')));
  for (const s of sockets) s.destroy();
  server.close();
}

main().catch((error: Error) => {
  console.error(error);
  process.exit(1);
});
