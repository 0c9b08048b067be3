import { ConfigError } from '../shared/config/env.js';
import { loadWorkerConfig } from '../shared/config/worker.js';
import { createLogger } from '../shared/log.js';
import { WorkerServer } from '../worker/server.js';
import { VoiceLiveClient } from '../worker/voice-live/client.js';
import { startVoiceLivePeer } from './voice-live/peer.js';

/**
 * The local lab, for now: a Voice Live test peer in echo-agent mode and the media worker (MEDIA_AUTH=none)
 * on 127.0.0.1:8080. One line per component; Ctrl-C stops both.
 */
async function main(): Promise<void> {
  const peer = await startVoiceLivePeer({ mode: 'echo-agent', apiKey: 'lab-key' });
  process.stdout.write(`voice-live peer  ${peer.url}  (echo-agent)\n`);

  let config;
  try {
    config = loadWorkerConfig({
      PORT: '8080',
      HOST: '127.0.0.1',
      VOICE_LIVE_ENDPOINT: peer.url,
      VOICE_LIVE_API_KEY: 'lab-key',
      VOICE_LIVE_MODEL: 'gpt-realtime',
      MEDIA_AUTH: 'none',
      LOG_LEVEL: 'warn',
    });
  } catch (error) {
    if (error instanceof ConfigError) process.stderr.write(`${error.message}\n`);
    await peer.close();
    process.exit(1);
  }
  const logger = createLogger({ component: 'worker', level: config.logLevel });
  const worker = new WorkerServer({ config, logger, createVoiceLiveClient: (options) => new VoiceLiveClient(options) });
  const address = await worker.listen(config.port, config.host);
  process.stdout.write(`media worker     ws://${address.address}:${address.port}/ws  (MEDIA_AUTH=none; /healthz /readyz /metrics)\n`);

  const stop = async () => {
    await worker.drain(1000);
    await peer.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

main().catch((error: Error) => {
  process.stderr.write(`lab failed to start: ${error.stack ?? error.message}\n`);
  process.exit(1);
});
