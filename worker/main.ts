import { ConfigError } from '../shared/config/env.js';
import { loadWorkerConfig } from '../shared/config/worker.js';
import { createLogger } from '../shared/log.js';
import { setupTelemetry } from '../shared/telemetry.js';
import { startCallControl } from './call-control/index.js';
import { WorkerMetrics } from './metrics.js';
import { WorkerServer } from './server.js';
import { VoiceLiveClient } from './voice-live/client.js';

/** The worker process: configuration once, telemetry, the server, and a graceful drain on SIGTERM. */
async function main(): Promise<void> {
  let config;
  try {
    config = loadWorkerConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const logger = createLogger({ component: 'worker', level: config.logLevel });
  const stopTelemetry = await setupTelemetry({
    connectionString: config.applicationInsightsConnectionString,
    authenticationString: config.applicationInsightsAuthenticationString,
    roleName: 'worker',
    logger,
  });
  // Process metrics too (CPU, memory, event-loop delay, GC): what an operator reads first when calls degrade.
  const metrics = new WorkerMetrics({ defaultMetrics: true });
  if (config.applicationInsightsConnectionString) {
    // Nothing scrapes /metrics in Container Apps: the worker's metrics ride on the MeterProvider useAzureMonitor installed.
    // Loaded only here, as setupTelemetry loads the SDK: without a connection string none of it is in memory.
    const [{ metrics: openTelemetryMetrics }, { exportPromMetrics }] = await Promise.all([import('@opentelemetry/api'), import('./metrics-export.js')]);
    const { instrumentNames } = exportPromMetrics(metrics.registry, openTelemetryMetrics.getMeter('worker'), { logger });
    logger.info({ instruments: instrumentNames.length }, 'worker metrics exported to Application Insights');
  }
  // One managed identity for Voice Live, Call Automation and Service Bus, loaded only when something uses it:
  // with keys and connection strings (local runs) the identity stack stays out of memory.
  const { acs, serviceBus } = config.callControl;
  const needsIdentity =
    !config.voiceLive.apiKey || config.voiceLive.target.kind !== 'model' || (acs !== undefined && 'endpoint' in acs) || (serviceBus !== undefined && 'fullyQualifiedNamespace' in serviceBus);
  const credential = needsIdentity
    ? new (await import('@azure/identity')).DefaultAzureCredential(config.azureClientId ? { managedIdentityClientId: config.azureClientId } : {})
    : undefined;

  const callControl = await startCallControl({
    config: config.callControl,
    logger: logger.child({ component: 'call-control' }),
    ...(credential ? { credential: () => credential } : {}),
    profiles: config.agentProfiles,
    metrics,
  });
  const server = new WorkerServer({
    config,
    logger,
    metrics,
    ...(credential ? { credential } : {}),
    createVoiceLiveClient: (options) => new VoiceLiveClient(options),
    hooksFor: (callId, profile) => callControl.hooksFor(callId, profile),
    idleTimeoutMs: config.mediaIdleTimeoutMs,
    serviceBusCheck: () => callControl.checkServiceBus(),
  });
  const address = await server.listen(config.port, config.host);
  logger.info(
    {
      address: `${address.address}:${address.port}`,
      mediaAuth: config.mediaAuth.mode,
      voiceLive: config.voiceLive.target.kind,
      ...(config.agentProfiles.size > 0 ? { agentProfiles: [...config.agentProfiles.keys()] } : {}),
    },
    'worker listening',
  );

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, drainTimeoutMs: config.drainTimeoutMs }, 'shutting down after live calls end');
    const drainDeadline = Date.now() + config.drainTimeoutMs;
    server
      .drain(config.drainTimeoutMs)
      .then(async ({ endedByTimeout }) => {
        // Call records still waiting for Service Bus get what is left of the drain time (at least a few seconds).
        const { unpublishedRecords } = await callControl.close(Math.max(5000, drainDeadline - Date.now()));
        logger.info({ endedByTimeout, unpublishedRecords }, 'drained; exiting');
        await stopTelemetry();
        logger.flush?.();
        process.exit(0);
      })
      .catch((error: Error) => {
        logger.error({ err: { message: error.message } }, 'drain failed');
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((error: Error) => {
  process.stderr.write(`worker failed to start: ${error.stack ?? error.message}\n`);
  process.exit(1);
});
