import { DefaultAzureCredential } from '@azure/identity';
import { AcsTokenVerifier } from '../shared/acs-auth.js';
import { BusPublisher, checkSendLink, createServiceBusClient } from '../shared/bus.js';
import { createCallAutomationClient } from '../shared/call-automation-client.js';
import type { FunctionsConfig } from '../shared/config/functions.js';
import { createLogger, type Logger } from '../shared/log.js';
import { createFunctionsState, systemClock, type FunctionsDependencies } from './context.js';
import { createOutboundDependencies } from './outbound/outbound-dependencies.js';

export interface BuiltDependencies extends FunctionsDependencies {
  /** Closes the Service Bus sender and client. */
  close(): Promise<void>;
}

/**
 * Builds the real clients from configuration: managed identity (`DefaultAzureCredential`, user-assigned
 * when AZURE_CLIENT_ID is set) for ACS and Service Bus in Azure; connection strings as the local fallback.
 * Nothing connects here: the first request opens connections.
 */
export function createFunctionsDependencies(config: FunctionsConfig, options: { logger?: Logger } = {}): BuiltDependencies {
  const logger = options.logger ?? createLogger({ component: 'functions', level: config.LOG_LEVEL });
  const needsCredential = Boolean(config.ACS_ENDPOINT || config.SERVICEBUS_FULLY_QUALIFIED_NAMESPACE);
  const credential = needsCredential
    ? new DefaultAzureCredential(config.AZURE_CLIENT_ID ? { managedIdentityClientId: config.AZURE_CLIENT_ID } : {})
    : undefined;

  const callAutomation = createCallAutomationClient(
    config.ACS_ENDPOINT && credential ? { endpoint: config.ACS_ENDPOINT, credential } : { connectionString: config.ACS_CONNECTION_STRING as string },
  );

  const busClient =
    config.SERVICEBUS_FULLY_QUALIFIED_NAMESPACE && credential
      ? createServiceBusClient({ fullyQualifiedNamespace: config.SERVICEBUS_FULLY_QUALIFIED_NAMESPACE, credential })
      : createServiceBusClient({ connectionString: config.SERVICEBUS_CONNECTION_STRING as string });
  const publisher = new BusPublisher(busClient, config.CALL_EVENTS_QUEUE, { deadlineMs: config.PUBLISH_DEADLINE_MS, logger });

  const outbound = createOutboundDependencies(busClient, config);

  const tokenVerifier = new AcsTokenVerifier({
    audience: config.ACS_RESOURCE_ID,
    ...(config.ACS_TOKEN_ISSUER ? { issuer: config.ACS_TOKEN_ISSUER } : {}),
    ...(config.ACS_JWKS_URL ? { jwksUrl: config.ACS_JWKS_URL } : {}),
  });

  return {
    config,
    callAutomation,
    publisher,
    tokenVerifier,
    logger,
    clock: systemClock,
    state: createFunctionsState(),
    outbound,
    checkServiceBus: () => checkSendLink(busClient, config.CALL_EVENTS_QUEUE),
    close: async () => {
      await publisher.close();
      await outbound.close();
      await busClient.close();
    },
  };
}
