import { Writable } from 'node:stream';
import { CallAutomationClient } from '@azure/communication-call-automation';
import { HttpRequest, InvocationContext, type HttpResponseInit } from '@azure/functions';
import { startAcsRestPeer, type AcsRestPeer } from '../../lab/acs/rest-peer.js';
import { startAcsTokenIssuer, type AcsTokenIssuer } from '../../lab/acs-token-issuer.js';
import { startServiceBusPeer, type ServiceBusPeer } from '../../lab/servicebus/peer.js';
import { AcsTokenVerifier } from '../../shared/acs-auth.js';
import { BusPublisher, createServiceBusClient } from '../../shared/bus.js';
import { parseCallEventMessage, type CallEventMessage } from '../../shared/call-metadata.js';
import { loadFunctionsConfig, type FunctionsConfig } from '../../shared/config/functions.js';
import { createLogger } from '../../shared/log.js';
import { createRoutes, type RouteDefinition } from '../../functions/routes.js';

/**
 * Test support: the real handlers wired to real clients talking to local peers over 127.0.0.1 (ACS REST
 * peer, Service Bus AMQP peer, ACS token issuer). Each `instance()` is one Functions app instance with its
 * own memory, as Azure would run several.
 */
export interface Harness {
  acs: AcsRestPeer;
  bus: ServiceBusPeer;
  issuer: AcsTokenIssuer;
  config: FunctionsConfig;
  logs: string[];
  /** A new app instance; `env` overrides settings for this instance only. */
  instance(env?: Record<string, string>): AppInstance;
  /** Call-event messages put on the bus since the last `reset()`, parsed, in enqueue order. */
  published(): CallEventMessage[];
  /** Raw peer messages since the last `reset()`. */
  busMessages(): ReturnType<ServiceBusPeer['messages']>;
  /** Forgets recorded ACS requests, bus messages and logs, and closes the instances (between tests). */
  reset(): Promise<void>;
  close(): Promise<void>;
}

export interface AppInstance {
  routes: RouteDefinition[];
  invoke(name: string, init: { method?: string; body?: unknown; rawBody?: string; headers?: Record<string, string>; params?: Record<string, string> }): Promise<HttpResponseInit & { status: number }>;
}

export async function startHarness(env: Record<string, string> = {}): Promise<Harness> {
  const [acs, bus, issuer] = await Promise.all([startAcsRestPeer(), startServiceBusPeer(), startAcsTokenIssuer({ audience: '6f1b3d2a-9c4e-4b7a-8e21-5d0c7a9f4b13' })]);
  const baseEnv: Record<string, string> = {
    ACS_CONNECTION_STRING: acs.connectionString,
    ACS_RESOURCE_ID: issuer.audience,
    ACS_TOKEN_ISSUER: issuer.issuer,
    ACS_JWKS_URL: issuer.jwksUrl,
    CALLBACK_BASE_URL: 'https://func.example.net',
    WORKER_MEDIA_URL: 'wss://worker.example.net/ws',
    SERVICEBUS_CONNECTION_STRING: bus.connectionString,
    PUBLISH_DEADLINE_MS: '1500',
    ...env,
  };
  const baseConfig = loadFunctionsConfig(baseEnv);
  const config = baseConfig;
  let busOffset = 0;
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logs.push(chunk.toString('utf8'));
      done();
    },
  });
  const logger = createLogger({ component: 'functions', level: 'debug', destination });
  let closers: (() => Promise<void>)[] = [];
  const closeInstances = async () => {
    const current = closers;
    closers = [];
    await Promise.all(current.map((close) => close().catch(() => undefined)));
  };

  const instance = (overrides: Record<string, string> = {}): AppInstance => {
    const config = Object.keys(overrides).length ? loadFunctionsConfig({ ...baseEnv, ...overrides }) : baseConfig;
    const callAutomation = new CallAutomationClient(acs.connectionString, { allowInsecureConnection: true, retryOptions: { maxRetries: 0 } });
    const busClient = createServiceBusClient({ connectionString: bus.connectionString }, { retryOptions: { maxRetries: 0, timeoutInMs: 1000 } });
    const publisher = new BusPublisher(busClient, config.CALL_EVENTS_QUEUE, { deadlineMs: config.PUBLISH_DEADLINE_MS, retryDelayMs: 50, maxRetryDelayMs: 200 });
    closers.push(async () => {
      await publisher.close();
      await busClient.close();
    });
    const tokenVerifier = new AcsTokenVerifier({ audience: config.ACS_RESOURCE_ID, issuer: issuer.issuer, jwksUrl: issuer.jwksUrl });
    const routes = createRoutes({ config, callAutomation, publisher, tokenVerifier, logger });
    let invocation = 0;
    return {
      routes,
      async invoke(name, init) {
        const route = routes.find((r) => r.name === name);
        if (!route) throw new Error(`no route ${name}`);
        const body = init.rawBody ?? (init.body === undefined ? undefined : JSON.stringify(init.body));
        const request = new HttpRequest({
          method: init.method ?? 'POST',
          url: `https://func.example.net/api/${route.route.replace('{callId}', encodeURIComponent(init.params?.callId ?? ''))}`,
          ...(body === undefined ? {} : { body: { string: body } }),
          headers: { 'content-type': 'application/json', ...(init.headers ?? {}) },
          params: init.params ?? {},
        });
        const context = new InvocationContext({ invocationId: `inv-${++invocation}`, functionName: name, logHandler: () => undefined });
        const response = await route.handler(request, context);
        return { ...response, status: response.status ?? 200 };
      },
    };
  };

  return {
    acs,
    bus,
    issuer,
    config,
    logs,
    instance,
    busMessages: () => bus.messages(config.CALL_EVENTS_QUEUE).slice(busOffset),
    reset: async () => {
      await closeInstances();
      acs.requests.length = 0;
      acs.calls.clear();
      acs.recordings.clear();
      logs.length = 0;
      busOffset = bus.messages(config.CALL_EVENTS_QUEUE).length;
    },
    published: () =>
      bus.messages(config.CALL_EVENTS_QUEUE).slice(busOffset).map((m) => {
        const parsed = parseCallEventMessage(m.body);
        if (!parsed.ok) throw new Error(`bad message on the bus: ${parsed.reason}`);
        return parsed.message;
      }),
    close: async () => {
      await closeInstances();
      await Promise.all([acs.close(), bus.close(), issuer.close()]);
    },
  };
}

/**
 * A call answered at the ACS peer (connected, with media streaming to the worker), as the incoming-call handler
 * would have done; the peer's request log is cleared after it. Returns the call connection id.
 */
export async function answeredCall(h: Pick<Harness, 'acs'>, callId: string, options: { from?: string } = {}): Promise<string> {
  const client = new CallAutomationClient(h.acs.connectionString, { allowInsecureConnection: true });
  const context = h.acs.createIncomingCallContext({ correlationId: callId, ...(options.from ? { from: options.from } : {}) });
  const result = await client.answerCall(context, `https://func.example.net/api/callbacks/${callId}`, {
    mediaStreamingOptions: { transportType: 'websocket', audioChannelType: 'mixed', transportUrl: `wss://worker.example.net/ws/${callId}`, startMediaStreaming: true },
  });
  h.acs.requests.length = 0;
  return result.callConnectionProperties.callConnectionId as string;
}

/** An IncomingCall as Event Grid delivers it (Event Grid schema, one-element array). */
export function incomingCallEvent(options: { context: string; callId: string; id?: string; from?: string; to?: string; callerDisplayName?: string }) {
  const from = options.from ?? '+16041234567';
  const to = options.to ?? '+18331234567';
  return {
    id: options.id ?? `eg-${options.callId}`,
    topic: '/subscriptions/s/resourcegroups/rg/providers/microsoft.communication/communicationservices/acs',
    subject: `/caller/4:${from}/recipient/4:${to}`,
    eventType: 'Microsoft.Communication.IncomingCall',
    eventTime: '2026-01-05T10:00:00.000Z',
    dataVersion: '1.0',
    metadataVersion: '1',
    data: {
      to: { kind: 'phoneNumber', rawId: `4:${to}`, phoneNumber: { value: to } },
      from: { kind: 'phoneNumber', rawId: `4:${from}`, phoneNumber: { value: from } },
      serverCallId: `server-${options.callId}`,
      callerDisplayName: options.callerDisplayName ?? 'Ada Caller',
      incomingCallContext: options.context,
      correlationId: options.callId,
    },
  };
}

/** An ACS callback CloudEvent. */
export function callbackEvent(type: string, options: { id: string; callId: string; callConnectionId: string; data?: Record<string, unknown> }) {
  return {
    id: options.id,
    source: `calling/callConnections/${options.callConnectionId}`,
    type: `Microsoft.Communication.${type}`,
    specversion: '1.0',
    datacontenttype: 'application/json',
    time: '2026-01-05T10:00:05.000Z',
    subject: `calling/callConnections/${options.callConnectionId}`,
    data: {
      callConnectionId: options.callConnectionId,
      serverCallId: `server-${options.callId}`,
      correlationId: options.callId,
      version: '2026-03-12',
      ...options.data,
    },
  };
}
