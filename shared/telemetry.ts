import type { TokenCredential } from '@azure/core-auth';
import type { Logger } from './log.js';

export interface TelemetryOptions {
  /** `APPLICATIONINSIGHTS_CONNECTION_STRING`; telemetry stays off when it is unset. */
  connectionString: string | undefined;
  /**
   * `APPLICATIONINSIGHTS_AUTHENTICATION_STRING`, the Functions host's own convention: `Authorization=AAD` (with an
   * optional `ClientId=<user-assigned identity>`) sends telemetry with a Microsoft Entra token, as a resource
   * with local authentication switched off requires.
   */
  authenticationString?: string | undefined;
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
  const credential = await entraCredential(options.authenticationString);
  appInsights.useAzureMonitor({
    azureMonitorExporterOptions: { connectionString: options.connectionString, ...(credential ? { credential } : {}) },
    enableAutoCollectExceptions: true,
    enableAutoCollectPerformance: true,
  });
  options.logger?.info({ roleName: options.roleName, entraAuth: credential !== undefined }, 'Application Insights telemetry on');
  return async () => {
    await appInsights.flushAzureMonitor().catch(() => undefined);
    await appInsights.shutdownAzureMonitor().catch(() => undefined);
  };
}

/** The credential an `Authorization=AAD[;ClientId=…]` authentication string asks for, or undefined for key-based ingestion. */
export async function entraCredential(authenticationString: string | undefined): Promise<TokenCredential | undefined> {
  const fields = parseAuthenticationString(authenticationString);
  if (fields.authorization?.toUpperCase() !== 'AAD') return undefined;
  const { ManagedIdentityCredential, DefaultAzureCredential } = await import('@azure/identity');
  return fields.clientId ? new ManagedIdentityCredential({ clientId: fields.clientId }) : new DefaultAzureCredential();
}

export function parseAuthenticationString(value: string | undefined): { authorization?: string; clientId?: string } {
  const fields: { authorization?: string; clientId?: string } = {};
  for (const part of (value ?? '').split(';')) {
    const [key, ...rest] = part.split('=');
    const text = rest.join('=').trim();
    if (!key || !text) continue;
    if (key.trim().toLowerCase() === 'authorization') fields.authorization = text;
    if (key.trim().toLowerCase() === 'clientid') fields.clientId = text;
  }
  return fields;
}
