import type { Logger } from './log.js';

export interface TelemetryOptions {
  /** `APPLICATIONINSIGHTS_CONNECTION_STRING`; telemetry stays off when it is unset. */
  connectionString: string | undefined;
  /** Cloud role name shown in Application Insights: `worker`, `functions`. */
  roleName: string;
  logger?: Logger;
}

/**
 * Starts Application Insights (Azure Monitor OpenTelemetry) when a connection string is configured.
 * Loaded lazily: without a connection string the SDK is never required, so local runs stay light.
 * Returns a shutdown function that flushes what is queued.
 */
export async function setupTelemetry(options: TelemetryOptions): Promise<() => Promise<void>> {
  if (!options.connectionString) return async () => {};
  process.env.OTEL_SERVICE_NAME ??= options.roleName;
  const appInsights = await import('applicationinsights');
  appInsights.useAzureMonitor({
    azureMonitorExporterOptions: { connectionString: options.connectionString },
    enableAutoCollectExceptions: true,
    enableAutoCollectPerformance: true,
  });
  options.logger?.info({ roleName: options.roleName }, 'Application Insights telemetry on');
  return async () => {
    await appInsights.flushAzureMonitor().catch(() => undefined);
    await appInsights.shutdownAzureMonitor().catch(() => undefined);
  };
}
