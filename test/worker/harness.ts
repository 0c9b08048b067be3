import { Writable } from 'node:stream';
import type { WorkerConfig } from '../../shared/config/worker.js';
import { createLogger } from '../../shared/log.js';
import { WorkerServer, type WorkerServerOptions } from '../../worker/server.js';
import { VoiceLiveClient } from '../../worker/voice-live/client.js';

export type HarnessConfig = WorkerServerOptions['config'];

export function workerConfig(voiceLiveUrl: string, overrides: Partial<HarnessConfig> = {}, voiceLive: Partial<WorkerConfig['voiceLive']> = {}): HarnessConfig {
  return {
    voiceLive: {
      endpoint: voiceLiveUrl,
      apiVersion: '2026-07-15',
      target: { kind: 'model', model: 'gpt-realtime' },
      apiKey: 'lab-key',
      instructions: 'You are a test agent.',
      voice: { type: 'azure-standard', name: 'en-US-Ava:DragonHDLatestNeural' },
      turnDetection: { type: 'azure_semantic_vad', removeFillerWords: true },
      noiseSuppression: true,
      echoCancellation: true,
      transcription: { model: 'azure-speech' },
      ...voiceLive,
    },
    mediaAuth: { mode: 'none' },
    maxMessageBytes: 65536,
    playoutLeadMs: 160,
    mediaAudioChannel: 'mixed',
    ...overrides,
  };
}

export interface RunningWorker {
  server: WorkerServer;
  url: string;
  httpUrl: string;
  logs: Record<string, unknown>[];
  close(): Promise<void>;
}

/** A worker on 127.0.0.1:0 with the real Voice Live client; its log lines are captured as objects. */
export async function startWorker(config: HarnessConfig, extra: Partial<WorkerServerOptions> = {}): Promise<RunningWorker> {
  const logs: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const logger = createLogger({ component: 'worker', level: 'debug', destination });
  const server = new WorkerServer({
    config,
    logger,
    createVoiceLiveClient: (options) => new VoiceLiveClient({ ...options, reconnect: { maxAttempts: 2, initialDelayMs: 20, maxDelayMs: 50 } }),
    ...extra,
  });
  const address = await server.listen(0, '127.0.0.1');
  return {
    server,
    url: `ws://127.0.0.1:${address.port}`,
    httpUrl: `http://127.0.0.1:${address.port}`,
    logs,
    close: () => server.close(),
  };
}

export async function until(condition: () => boolean, timeoutMs = 3000, what = 'condition'): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Distinct, recognisable PCM: sample i of the pattern = (seed * 7919 + i * 31) mod 65536 as int16. */
export function patternPcm(bytes: number, seed = 1): Buffer {
  const out = Buffer.alloc(bytes);
  for (let i = 0; i < bytes / 2; i++) out.writeInt16LE((((seed * 7919 + i * 31) % 65536) - 32768) | 0, i * 2);
  return out;
}
