import type { ServiceBusReceivedMessage } from '@azure/service-bus';

/** A binding as `@azure/functions` hands it to the worker's `registerFunction` (an RpcBindingInfo). */
export interface RpcBinding {
  type: string;
  direction: string;
  [property: string]: unknown;
}

/** How the Functions host reaches Service Bus for a trigger: the setting it used, and what that setting holds. */
export type ServiceBusConnection =
  | { kind: 'connectionString'; setting: string; connectionString: string }
  | { kind: 'identity'; setting: string; fullyQualifiedNamespace: string; credential?: string; clientId?: string };

export interface ServiceBusQueueTrigger {
  function: string;
  /** The binding's name (the key of `bindings`): the inputData entry carries it. */
  bindingName: string;
  /** The queue name after `%SETTING%` expressions are resolved. */
  queueName: string;
  /** The binding's `connection` as written (the name of a setting or setting prefix). */
  connectionName: string;
  connection: ServiceBusConnection;
  dataType: 'string' | 'binary' | undefined;
}

export type Settings = Readonly<Record<string, string | undefined>>;

/** Fails as the host fails a function it cannot index or listen for: the function is in error, the host runs on. */
export class FunctionInError extends Error {
  constructor(readonly functionName: string, message: string) {
    super(`The '${functionName}' function is in error: ${message}`);
    this.name = 'FunctionInError';
  }
}

/** App settings are configuration keys: case-insensitive, `__` as the section separator (as .NET reads them). */
function lookup(settings: Settings, key: string): string | undefined {
  const wanted = key.toLowerCase();
  for (const [name, value] of Object.entries(settings)) if (name.replace(/:/g, '__').toLowerCase() === wanted && value !== undefined) return value;
  return undefined;
}

function sectionExists(settings: Settings, key: string): boolean {
  const prefix = `${key.toLowerCase()}__`;
  return lookup(settings, key) !== undefined || Object.keys(settings).some((name) => name.replace(/:/g, '__').toLowerCase().startsWith(prefix));
}

/**
 * `%NAME%` expressions replaced from the app settings, as the WebJobs name resolver's ResolveWholeString does; a
 * setting that is missing (or empty: unconfirmed, taken strictly) fails the function's indexing.
 */
export function resolveSettingExpressions(value: string, settings: Settings, where: string): string {
  return value.replace(/%([^%]+)%/g, (expression, name: string) => {
    const resolved = lookup(settings, name);
    if (resolved === undefined || resolved === '') {
      throw new Error(`Microsoft.Azure.WebJobs.Host: Error indexing method 'Functions.${where}'. Microsoft.Azure.WebJobs.Host: '${expression}' does not resolve to a value.`);
    }
    return resolved;
  });
}

/**
 * The Service Bus extension's connection lookup (Microsoft.Azure.WebJobs.Extensions.ServiceBus ServiceBusClientFactory
 * and GetWebJobsConnectionStringSectionServiceBus): `ConnectionStrings:<name>`, then `<name>`, then the same with the
 * `AzureWebJobs` prefix. A value is a connection string; a section without one must hold `fullyQualifiedNamespace`
 * (identity-based: `credential` and `clientId` choose the identity).
 */
export function resolveServiceBusConnection(connectionName: string, settings: Settings): ServiceBusConnection {
  for (const name of [connectionName, `AzureWebJobs${connectionName}`]) {
    for (const key of [`ConnectionStrings__${name}`, name]) {
      if (!sectionExists(settings, key)) continue;
      const value = lookup(settings, key);
      if (value !== undefined && value.trim() !== '') return { kind: 'connectionString', setting: key, connectionString: value };
      const fullyQualifiedNamespace = lookup(settings, `${key}__fullyQualifiedNamespace`);
      if (!fullyQualifiedNamespace?.trim()) {
        throw new Error("Connection should have an 'fullyQualifiedNamespace' property or be a string representing a connection string.");
      }
      const credential = lookup(settings, `${key}__credential`);
      const clientId = lookup(settings, `${key}__clientId`);
      return {
        kind: 'identity',
        setting: `${key}__fullyQualifiedNamespace`,
        fullyQualifiedNamespace,
        ...(credential ? { credential } : {}),
        ...(clientId ? { clientId } : {}),
      };
    }
  }
  throw new Error(`Service Bus connection '${connectionName}' does not exist. Make sure that it is a defined App Setting.`);
}

/**
 * A function's `serviceBusTrigger` binding as the host indexes it. What the lab cannot run as Azure does is refused by
 * name (a topic subscription, sessions, batches, manual completion, a dataType other than string or binary), never
 * run approximately; none of them is used by this app.
 */
export function resolveServiceBusTrigger(functionName: string, bindingName: string, binding: RpcBinding, settings: Settings): ServiceBusQueueTrigger {
  const refuse = (what: string) => new FunctionInError(functionName, `the lab's Functions host does not run ${what} (binding ${bindingName})`);
  if (binding.topicName !== undefined || binding.subscriptionName !== undefined) throw refuse('Service Bus topic triggers');
  if (binding.isSessionsEnabled === true) throw refuse('session-enabled Service Bus triggers (isSessionsEnabled)');
  if (binding.cardinality !== undefined && String(binding.cardinality).toLowerCase() !== 'one') throw refuse(`cardinality '${String(binding.cardinality)}'`);
  if (binding.autoCompleteMessages === false) throw refuse('autoCompleteMessages: false (settlement by the function)');
  if (binding.sdkBinding === true || (binding.properties as Record<string, unknown> | undefined)?.supportsDeferredBinding === 'true') throw refuse('SDK-type bindings');
  const dataType = binding.dataType === undefined ? undefined : String(binding.dataType).toLowerCase();
  if (dataType !== undefined && dataType !== 'string' && dataType !== 'binary') throw refuse(`dataType '${String(binding.dataType)}'`);
  if (typeof binding.queueName !== 'string' || binding.queueName === '') throw new FunctionInError(functionName, `binding ${bindingName} has no queueName`);
  let queueName: string;
  let connectionName: string;
  try {
    queueName = resolveSettingExpressions(binding.queueName, settings, functionName);
    connectionName = resolveSettingExpressions(typeof binding.connection === 'string' && binding.connection !== '' ? binding.connection : 'ServiceBus', settings, functionName);
  } catch (error) {
    throw new FunctionInError(functionName, (error as Error).message);
  }
  let connection: ServiceBusConnection;
  try {
    connection = resolveServiceBusConnection(connectionName, settings);
  } catch (error) {
    throw new FunctionInError(functionName, `The listener for function 'Functions.${functionName}' was unable to start. ${(error as Error).message}`);
  }
  return { function: functionName, bindingName, queueName, connectionName, connection, dataType: dataType as ServiceBusQueueTrigger['dataType'] };
}

/** The typed data of the Functions RPC protocol (the part of it this trigger sends). */
export type RpcTypedData = { string: string } | { json: string } | { bytes: Uint8Array } | { int: number };

export interface ServiceBusInvocationRequest {
  inputData: { name: string; data: RpcTypedData }[];
  triggerMetadata: Record<string, RpcTypedData>;
}

/**
 * What the host sends the Node worker for one message: the body as the extension's string converter makes it (UTF-8
 * text; `binary` gives the bytes), and the binding data of ServiceBusTriggerBindingStrategy, named as the host names
 * them (the library camel-cases them into `context.triggerMetadata`). DeliveryCount is the .NET SDK's, one more than
 * the AMQP header's count of earlier deliveries. `rawBody` is the message's data section, as received with
 * `skipParsingBodyAsJson`.
 */
export function serviceBusInvocationRequest(trigger: ServiceBusQueueTrigger, message: ServiceBusReceivedMessage): ServiceBusInvocationRequest {
  const data = bodyOf(trigger, message);
  const metadata: Record<string, RpcTypedData> = {};
  const text = (key: string, value: unknown) => {
    if (value !== undefined && value !== null) metadata[key] = { string: String(value) };
  };
  metadata.DeliveryCount = { int: (message.deliveryCount ?? 0) + 1 };
  text('DeadLetterSource', message.deadLetterSource);
  text('LockToken', message.lockToken);
  text('ExpiresAtUtc', message.expiresAtUtc?.toISOString());
  text('EnqueuedTimeUtc', message.enqueuedTimeUtc?.toISOString());
  text('MessageId', message.messageId);
  text('ContentType', message.contentType);
  text('ReplyTo', message.replyTo);
  if (message.sequenceNumber !== undefined) metadata.SequenceNumber = { int: message.sequenceNumber.toNumber() };
  text('To', message.to);
  text('Label', message.subject);
  text('Subject', message.subject);
  text('CorrelationId', message.correlationId);
  text('SessionId', message.sessionId);
  const properties = JSON.stringify(message.applicationProperties ?? {});
  metadata.UserProperties = { json: properties };
  metadata.ApplicationProperties = { json: properties };
  return { inputData: [{ name: trigger.bindingName, data }], triggerMetadata: metadata };
}

/** The extension's MessageToStringConverter (or the raw bytes with `dataType: 'binary'`); a body it cannot bind fails the invocation. */
function bodyOf(trigger: ServiceBusQueueTrigger, message: ServiceBusReceivedMessage): RpcTypedData {
  const bodyType = message._rawAmqpMessage.bodyType ?? 'data';
  const raw: unknown = message.body;
  if (bodyType === 'data') {
    const bytes = Buffer.isBuffer(raw) ? raw : raw instanceof Uint8Array ? Buffer.from(raw) : undefined;
    if (!bytes) throw new Error(`a data-section body arrived as ${typeof raw}: receive with skipParsingBodyAsJson`);
    return trigger.dataType === 'binary' ? { bytes } : { string: bytes.toString('utf8') };
  }
  if (bodyType === 'value' && typeof raw === 'string') return trigger.dataType === 'binary' ? { bytes: Buffer.from(raw, 'utf8') } : { string: raw };
  throw new Error(bodyType === 'value' ? `A message with a value type of ${typeof raw} cannot be bound to a string.` : 'A sequence body message cannot be bound to a string.');
}
