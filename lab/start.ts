import { ConfigError } from '../shared/config/env.js';
import { loadLabConfig, UsageError, type LabConfig } from './config.js';
import { startLab, type Lab } from './lab.js';
import { startSoftphoneServer, type SoftphoneServer } from './softphone/server.js';
import { requestOutboundCall } from './softphone/request-call.js';

/**
 * `npm start`: the whole system on 127.0.0.1 with no Azure account. One line per component, one URL to
 * open. Ctrl-C stops everything.
 */
async function main(): Promise<void> {
  let config: LabConfig;
  try {
    config = loadLabConfig(process.env, process.argv.slice(2));
  } catch (error) {
    if (error instanceof ConfigError || error instanceof UsageError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }

  const realVoiceLive = Boolean(config.passThrough.VOICE_LIVE_ENDPOINT);
  let lab: Lab;
  try {
    lab = await startLab({
      host: config.LAB_HOST,
      ports: {
        functions: config.FUNCTIONS_PORT,
        worker: config.WORKER_PORT,
        acs: config.LAB_ACS_PORT,
        tokenIssuer: config.LAB_TOKEN_ISSUER_PORT,
        voiceLive: config.LAB_VOICE_LIVE_PORT,
        serviceBus: config.LAB_SERVICEBUS_PORT,
      },
      audioFormat: config.MEDIA_AUDIO_FORMAT,
      workerEnv: config.passThrough,
      functionsEnv: config.functionsPassThrough,
      logLevel: config.LOG_LEVEL,
      workers: config.LAB_WORKERS,
    });
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE') {
      process.stderr.write(`lab: a port is already in use (${e.message}). Move it with a flag or variable, e.g. --functions-port 7171 or WORKER_PORT=8181; see docs/lab.md.\n`);
      process.exit(1);
    }
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }

  let softphone: SoftphoneServer;
  try {
    softphone = await startSoftphoneServer({
      placeCall: (o) => lab.placeCall(o),
      addCallee: (ring, o) => lab.acs.outbound.addCallee(ring, o),
      requestOutboundCall: (body) => requestOutboundCall(lab.functions.urlOf('placeCall'), body),
      port: config.LAB_PORT,
      host: config.LAB_HOST,
    });
  } catch (error) {
    await lab.close();
    throw error;
  }

  const u = lab.urls;
  const lines = [
    `functions      ${u.functions}/api  (incomingCall, callbacks/{callId}, health, calls, calls/{callId}; the route table of functions/routes.ts)`,
    lab.ingress
      ? `worker         ${u.worker}/ws  (ingress over ${lab.workers.length} worker processes: ${lab.workers.map((w) => w.url.replace(/^http:\/\//, '')).join(', ')}, pids ${lab.workers.map((w) => w.process.pid).join(', ')}; kill one to see a call move)`
      : `worker         ${u.worker}/ws  (MEDIA_AUTH=acs; /healthz /readyz /metrics)`,
    `acs emulator   ${u.acs}  (Call Automation REST + Event Grid → ${u.incomingCallWebhook}; POST /lab/calls)`,
    realVoiceLive
      ? `voice live     ${u.voiceLive}  (REAL Voice Live: audio leaves this machine)`
      : `voice live     ${u.voiceLive}  (emulator: echo agent with a spoken greeting)`,
    `service bus    ${u.serviceBus}  (AMQP 1.0 peer; queues call-events, call-records)`,
    `acs tokens     ${u.tokenIssuer}/calling/keys  (JWKS the worker and callbacks verify against)`,
    '',
    `Open the softphone: ${softphone.url}`,
    '',
    'Outbound calls: the softphone takes them (it shows its number), and so does npm run call -- --answer. Place one with',
    `  curl -s -X POST '${lab.functions.urlOf('placeCall')}' -H 'content-type: application/json' -d '{"to":"+15550120001"}'`,
    `  or FUNCTIONS_BASE_URL=${u.functions} FUNCTIONS_KEY=${lab.functions.functionKey} npm run calls -- --csv people.csv`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await softphone.close();
    await lab.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

main().catch((error: Error) => {
  process.stderr.write(`lab failed to start: ${error.stack ?? error.message}\n`);
  process.exit(1);
});
