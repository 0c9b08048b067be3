import type { TokenCredential } from '@azure/core-auth';
import { DefaultAzureCredential } from '@azure/identity';
import { AcsTokenVerifier } from '../shared/acs-auth.js';
import { BusPublisher, checkSendLink, createServiceBusClient } from '../shared/bus.js';
import { createCallAutomationClient } from '../shared/call-automation-client.js';
import type { Env } from '../shared/config/env.js';
import { loadFunctionsConfig } from '../shared/config/functions.js';
import { loadWorkerConfig } from '../shared/config/worker.js';
import { createLogger, type Logger } from '../shared/log.js';
import { createRoutes } from '../functions/routes.js';
import { createFunctionsState, type Clock, type FunctionsDependencies } from '../functions/context.js';
import { createOutboundCallHandler } from '../functions/outbound/place-call.js';
import { createOutboundDependencies } from '../functions/outbound/outbound-dependencies.js';
import { startQueueTriggerConsumer } from './outbound-consumer.js';
import { WorkerServer } from '../worker/server.js';
import { VoiceLiveClient } from '../worker/voice-live/client.js';
import type { CallSessionHooks } from '../worker/call-session.js';
import { startCallControl } from '../worker/call-control/index.js';
import { WorkerMetrics } from '../worker/metrics.js';
import { loadCallControlConfig } from '../shared/config/call-control.js';
import { startAcsTokenIssuer, type AcsTokenIssuer } from './acs-token-issuer.js';
import { startEntraTokenIssuer, type EntraTokenIssuer } from './entra-token-issuer.js';
import { startAcsEmulator, type AcsEmulator, type AcsEmulatorOptions, type EmulatedCall, type PlaceCallOptions } from './acs/emulator.js';
import { startFunctionsHost, type FunctionsHost } from './functions-host.js';
import { prepareFunctionsAppProcess } from './functions-app-process.js';
import { startIngress, type Ingress } from './ingress.js';
import { startServiceBusPeer, type PeerMessage, type ServiceBusPeer } from './servicebus/peer.js';
import { startVoiceLivePeer, type VoiceLivePeer } from './voice-live/index.js';
import { greeting } from './greeting.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve as resolvePath } from 'node:path';
import { freePort } from './free-port.js';

export type LabComponent = 'functions' | 'worker' | 'acs' | 'tokenIssuer' | 'voiceLive' | 'serviceBus';

export interface LabOptions {
  host?: string;
  /** Ports per component; every one defaults to 0 (any free port), so several labs can run side by side in tests. */
  ports?: Partial<Record<LabComponent, number>>;
  /** The ACS media format the Functions app asks for (default pcm24KMono, as the official samples). */
  audioFormat?: 'pcm16KMono' | 'pcm24KMono';
  /** The audio channel type the Functions app asks for, and the worker is told (default mixed). */
  audioChannel?: 'mixed' | 'unmixed';
  /**
   * The Voice Live emulator's mode (default `echo-agent`, which greets with offline speech and plays each
   * caller turn back). `scripted` leaves every server event to the test (`lab.voiceLive.nextSession()`).
   * Ignored when `workerEnv.VOICE_LIVE_ENDPOINT` is set: then the worker uses the real Voice Live.
   */
  voiceLiveMode?: 'echo-agent' | 'scripted';
  /**
   * Voice Live emulator sessions report `expires_at` this far ahead and are closed then (default 60 min, as the
   * service): with VOICE_LIVE_RENEW_BEFORE_EXPIRY_MS in `workerEnv`, session renewal can be tried in seconds.
   */
  voiceLiveSessionExpiresInMs?: number;
  /** Spoken greeting at the start of each echo-agent call (default on). */
  greeting?: boolean | string;
  /** Extra worker settings (any VOICE_LIVE_* variable, PLAYOUT_LEAD_MS, ...). */
  workerEnv?: Env;
  /** Extra Functions settings (screening lists, ...). */
  functionsEnv?: Env;
  /**
   * How many Functions instances take the outbound-calls queue (default 1), as Azure scales the app out: each with its
   * own Service Bus client and memory, competing for messages. In-process Functions only (not with `functionsApp`).
   */
  functionsInstances?: number;
  /**
   * The in-process Functions handlers' clock (default the system's): a test of calling hours shifts it to a chosen
   * local time; queue schedules keep their distance from it (functions/outbound/request-queue.ts).
   */
  functionsClock?: Clock;
  logLevel?: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Where component logs go (default stdout). */
  logDestination?: NodeJS.WritableStream;
  /**
   * `in-process` (default) puts the worker's Voice Live events on call timelines; `child-process` runs
   * `worker/main.ts` as its own process (as in Azure), so its CPU and memory can be measured alone.
   */
  worker?: 'in-process' | 'child-process';
  /**
   * Worker replicas (default 1). Two or more run as child processes behind a stand-in for the Container Apps
   * ingress (lab/ingress.ts), which spreads new media sockets over the ready ones; `lab.workers` can kill,
   * drain and restart each, to try what a caller experiences when a replica dies.
   */
  workers?: number;
  /**
   * The worker's call control (tools end_call / transfer_to_human, the call's Service Bus session, call records
   * on `call-records`), wired to the ACS emulator and the Service Bus peer, in-process or in each child worker. Default on;
   * TRANSFER_TARGET defaults to +15550109999 (a number ending in 0000 makes the emulator fail the transfer).
   */
  callControl?: boolean;
  /** ACS emulator settings for tests: Event Grid's time scale, the official-SDK judge of every payload. */
  acs?: Pick<AcsEmulatorOptions, 'eventGridTimeScale' | 'eventGridMaxDeliveryAttempts' | 'judge' | 'outbound'>;
  /**
   * Microsoft Entra on the outbound API: a local Entra stand-in (`lab.entra`) and OUTBOUND_AUTH_ENTRA_* set to it, so
   * POST/GET /api/calls take its access tokens (with an app role) instead of the function key. Default off.
   */
  entra?: boolean;
  /**
   * A built Functions app to run instead of the source tree's route table: the folder `npm run package:functions`
   * makes (what azd zips), served in its own process with the lab's settings as its app settings.
   */
  functionsApp?: string;
  /**
   * How a child-process worker is started (default: `worker/main.ts` through tsx from the source tree). A test of
   * the worker image gives the image's command, its runtime stage's folder and ENV, and its user.
   */
  workerCommand?: WorkerCommand;
}

export interface WorkerCommand {
  command: string;
  args: string[];
  cwd: string;
  env?: Env;
  uid?: number;
  gid?: number;
}

export interface Lab {
  readonly tokenIssuer: AcsTokenIssuer;
  /** The Entra stand-in, with `entra: true`. */
  readonly entra: EntraTokenIssuer | undefined;
  readonly serviceBus: ServiceBusPeer;
  /** Undefined when the worker talks to the real Voice Live. */
  readonly voiceLive: VoiceLivePeer | undefined;
  /** The in-process worker; undefined when it runs as a child process (see `workerProcess`). */
  readonly worker: WorkerServer | undefined;
  /** The (first) child worker process, as it is now (a restart replaces it). */
  readonly workerProcess: ChildProcess | undefined;
  /** The child worker replicas (empty with an in-process worker). */
  readonly workers: LabWorker[];
  /** The stand-in for the Container Apps ingress, with two or more workers. */
  readonly ingress: Ingress | undefined;
  readonly functions: FunctionsHost;
  readonly acs: AcsEmulator;
  readonly urls: { functions: string; incomingCallWebhook: string; worker: string; acs: string; voiceLive: string; serviceBus: string; tokenIssuer: string };
  /** Dials the agent: IncomingCall through Event Grid to the Functions app, which answers; returns the ringing call. */
  placeCall(options?: PlaceCallOptions): Promise<EmulatedCall>;
  /** Messages on `call-events` for a call (session = callId), in the order the bus accepted them. */
  busMessages(callId: string, queue?: string): PeerMessage[];
  close(): Promise<void>;
}

/** One worker replica run as a child process, on a port that survives its restarts. */
export interface LabWorker {
  readonly url: string;
  readonly process: ChildProcess;
  /** Ends the process with `signal` (SIGKILL: a crash; SIGTERM: a drain, as at a deploy) and waits for it to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts the process again on the same port and waits until it is ready. */
  restart(): Promise<void>;
}

const RESOURCE_ID = '6f1c2a7e-0b5d-4c59-9a3e-1ab2c3d4e5f6';
const LAB_VOICE_LIVE_KEY = 'lab-voice-live-key';
const LAB_ENTRA_TOKEN = 'lab-entra-token';
/** The emulator's stand-in for a managed identity's token (in-process worker only: a child process has no way to get it). */
const labCredential: TokenCredential = { getToken: async () => ({ token: LAB_ENTRA_TOKEN, expiresOnTimestamp: Date.now() + 3_600_000 }) };

/** The worker settings talk to a Foundry agent (by default or on a profiled line), which takes no API key. */
function usesAgents(env: Env): boolean {
  return Boolean(env.VOICE_LIVE_AGENT_NAME || env.VOICE_LIVE_AGENT_ID || /"agentName"\s*:/.test(env.AGENT_PROFILES ?? ''));
}
const CALL_EVENTS_QUEUE = 'call-events';
const CALL_RECORDS_QUEUE = 'call-records';
const OUTBOUND_STATUS_QUEUE = 'outbound-call-status';
/** Voice Live events worth a line on a call's timeline (audio deltas are counted by the media leg instead). */
const TIMELINE_EVENTS = new Set([
  'session.created',
  'session.updated',
  'input_audio_buffer.speech_started',
  'input_audio_buffer.speech_stopped',
  'conversation.item.input_audio_transcription.completed',
  'response.created',
  'response.audio_transcript.done',
  'response.done',
  'response.function_call_arguments.done',
  'error',
]);

/**
 * The whole system on 127.0.0.1, in this process: ACS token issuer, Service Bus peer, Voice Live emulator
 * (or the real Voice Live), the media worker with MEDIA_AUTH=acs, the Functions route table behind a local
 * Functions host, and the ACS emulator delivering calls to it. Use it from tests:
 *
 *   const lab = await startLab();
 *   const call = await lab.placeCall();
 *   await call.waitFor('MediaStreamingStarted');
 *   ...
 *   await lab.close();
 */
export async function startLab(options: LabOptions = {}): Promise<Lab> {
  const host = options.host ?? '127.0.0.1';
  const ports = options.ports ?? {};
  const level = options.logLevel ?? 'warn';
  const log = (component: string): Logger => createLogger({ component, level, ...(options.logDestination ? { destination: options.logDestination } : {}) });
  const realVoiceLive = Boolean(options.workerEnv?.VOICE_LIVE_ENDPOINT);
  const voiceLiveMode = options.voiceLiveMode ?? 'echo-agent';
  const greets = !realVoiceLive && voiceLiveMode === 'echo-agent' && options.greeting !== false;
  const workerEnv: Env = {
    ...(greets ? greetingEnv(options.workerEnv ?? {}) : {}),
    ...options.workerEnv,
    ...(options.audioChannel ? { MEDIA_AUDIO_CHANNEL: options.audioChannel } : {}),
  };
  const closers: (() => Promise<unknown>)[] = [];
  const close = async () => {
    for (const closer of closers.splice(0).reverse()) await closer().catch(() => undefined);
  };

  try {
    const tokenIssuer = await startAcsTokenIssuer({ audience: RESOURCE_ID, port: ports.tokenIssuer ?? 0 });
    closers.push(() => tokenIssuer.close());
    const serviceBus = await startServiceBusPeer({ port: ports.serviceBus ?? 0, host, logger: log('lab.servicebus') });
    closers.push(() => serviceBus.close());
    const entra = options.entra ? await startEntraTokenIssuer() : undefined;
    if (entra) closers.push(() => entra.close());

    let voiceLive: VoiceLivePeer | undefined;
    if (!realVoiceLive) {
      // The echo agent speaks the greeting when the worker asks for its opening response (see greetingEnv).
      // Synthesis blocks the event loop for about a second: do it before any call is live; the peer
      // resamples it if a session asks for another rate.
      const rateHz = Number(workerEnv.VOICE_LIVE_AUDIO_RATE ?? ((options.audioFormat ?? 'pcm24KMono') === 'pcm24KMono' ? 24000 : 16000));
      const spoken = greets ? await greeting(rateHz, typeof options.greeting === 'string' ? options.greeting : undefined) : undefined;
      voiceLive = await startVoiceLivePeer({
        mode: voiceLiveMode,
        apiKey: LAB_VOICE_LIVE_KEY,
        acceptBearer: (token) => token === LAB_ENTRA_TOKEN,
        ...(options.voiceLiveSessionExpiresInMs !== undefined ? { sessionExpiresInMs: options.voiceLiveSessionExpiresInMs } : {}),
        port: ports.voiceLive ?? 0,
        ...(spoken ? { greeting: { samples: spoken.samples, sampleRateHz: spoken.sampleRateHz, transcript: spoken.text } } : {}),
      });
      const peer = voiceLive;
      closers.push(() => peer.close());
    }

    const functionsApp = options.functionsApp ? await prepareFunctionsAppProcess({ appRoot: options.functionsApp, host, port: ports.functions ?? 0 }) : undefined;
    const functions: FunctionsHost = functionsApp ?? (await startFunctionsHost({ port: ports.functions ?? 0, host, logger: log('lab.functions-host') }));
    closers.push(() => functions.close());
    const acs = await startAcsEmulator({
      eventGridWebhookUrl: () => functions.urlOf('incomingCall'),
      tokenIssuer,
      port: ports.acs ?? 0,
      logger: log('lab.acs'),
      ...options.acs,
    });
    closers.push(() => acs.close());
    // An outbound call's id is ours, not ACS's: the emulator knows it from the media URL it was given (/ws/<callId>),
    // the latest attempt first.
    const callOf = (callId: string) =>
      acs.calls.get(callId) ?? [...acs.calls.values()].reverse().find((c) => c.direction === 'outbound' && c.mediaOptions?.transportUrl.split('/').includes(callId));
    /** The worker's settings in the lab, in-process or as a child process: media auth by the token issuer. */
    const labWorkerEnv = (port: number): Env => ({
      ...workerEnv,
      ...(voiceLive ? { VOICE_LIVE_ENDPOINT: voiceLive.url, ...(usesAgents(workerEnv) ? {} : { VOICE_LIVE_API_KEY: LAB_VOICE_LIVE_KEY }) } : {}),
      PORT: String(port),
      HOST: host,
      LOG_LEVEL: level,
      MEDIA_AUTH: 'acs',
      ACS_RESOURCE_ID: RESOURCE_ID,
      ACS_TOKEN_ISSUER: tokenIssuer.issuer,
      ACS_JWKS_URL: tokenIssuer.jwksUrl,
    });
    const workerConfig = loadWorkerConfig({
      VOICE_LIVE_MODEL: realVoiceLive ? undefined : 'gpt-realtime',
      VOICE_LIVE_TRANSCRIPTION_MODEL: 'azure-speech',
      ...labWorkerEnv(ports.worker ?? 0),
    });
    const replicas = Math.max(1, options.workers ?? 1);
    const childWorkers = options.worker === 'child-process' || replicas > 1;
    /** Call control as worker/main.ts builds it from these variables. */
    const callControlEnv: Env =
      options.callControl !== false
        ? { TRANSFER_TARGET: '+15550109999', OUTBOUND_STATUS_QUEUE: OUTBOUND_STATUS_QUEUE, ...workerEnv, ACS_CONNECTION_STRING: acs.connectionString, SERVICEBUS_CONNECTION_STRING: serviceBus.connectionString }
        : {};
    /** One registry for the in-process worker and its call control, as worker/main.ts builds them. */
    const workerMetrics = new WorkerMetrics();
    const callControl =
      options.callControl !== false && !childWorkers
        ? await startCallControl({
            config: loadCallControlConfig({
              TRANSFER_TARGET: '+15550109999',
              // The worker writes a voicemail outcome into the outbound status store, as in Azure.
              OUTBOUND_STATUS_QUEUE: OUTBOUND_STATUS_QUEUE,
              ...workerEnv,
              ACS_CONNECTION_STRING: acs.connectionString,
              SERVICEBUS_CONNECTION_STRING: serviceBus.connectionString,
            }),
            logger: log('call-control'),
            profiles: workerConfig.agentProfiles,
            metrics: workerMetrics,
          })
        : undefined;
    if (callControl) closers.push(() => callControl.close(2000));
    let worker: WorkerServer | undefined;
    const workers: LabWorker[] = [];
    let ingress: Ingress | undefined;
    let workerPort: number;
    if (childWorkers) {
      for (let index = 0; index < replicas; index++) {
        const port = index === 0 && replicas === 1 && workerConfig.port ? workerConfig.port : await freePort(host);
        const env = { VOICE_LIVE_TRANSCRIPTION_MODEL: 'azure-speech', ...workerEnvOf(workerConfig), ...callControlEnv, ...labWorkerEnv(port) };
        const replica = await startLabWorker(env, `http://${host}:${port}`, options.workerCommand);
        workers.push(replica);
        closers.push(() => stopChild(replica.process));
      }
      if (replicas > 1) {
        const started = await startIngress({ backends: workers.map((w) => w.url), host, port: ports.worker ?? 0 });
        ingress = started;
        closers.push(() => started.close());
        workerPort = started.port;
      } else {
        workerPort = Number(new URL(workers[0]!.url).port);
      }
    } else {
      // Against the emulator, an agent (no key: Voice Live takes none for agents) is reached with the lab's own token.
      const credential = voiceLive ? labCredential : workerConfig.voiceLive.apiKey ? undefined : new DefaultAzureCredential();
      const inProcess = new WorkerServer({
        config: workerConfig,
        logger: log('worker'),
        metrics: workerMetrics,
        ...(credential ? { credential } : {}),
        createVoiceLiveClient: (clientOptions) => new VoiceLiveClient(clientOptions),
        hooksFor: (callId, profile) => combineHooks(timelineHooks(() => callOf(callId)), callControl?.hooksFor(callId, profile)),
        ...(callControl ? { serviceBusCheck: () => callControl.checkServiceBus() } : {}),
      });
      workerPort = (await inProcess.listen(workerConfig.port, workerConfig.host)).port;
      worker = inProcess;
      closers.push(() => inProcess.drain(500));
    }
    const workerUrl = `ws://${host}:${workerPort}`;



    const functionsSettings: Env = {
      LOG_LEVEL: level,
      // Outbound calls in the lab: from the emulator's number, to the lab's +1555 numbers and ACS users.
      OUTBOUND_CALLER_NUMBERS: '+15550100100',
      OUTBOUND_ALLOWED_PREFIXES: '+1555,8:acs:',
      // The lab's +1555 numbers may be in any North American zone (Guam to Alaska): a window seldom fits them all.
      OUTBOUND_CALLING_HOURS: 'always',
      ...(entra
        ? {
            OUTBOUND_AUTH_ENTRA_TENANT_ID: entra.tenantId,
            OUTBOUND_AUTH_ENTRA_AUDIENCE: `${entra.apiClientId},${entra.appIdUri}`,
            OUTBOUND_AUTH_ENTRA_AUTHORITY_HOST: entra.authorityHost,
            OUTBOUND_AUTH_ENTRA_V1_ISSUER_HOST: entra.v1IssuerHost,
          }
        : {}),
      ...(options.functionsEnv ?? {}),
      ACS_CONNECTION_STRING: acs.connectionString,
      ACS_RESOURCE_ID: RESOURCE_ID,
      ACS_TOKEN_ISSUER: tokenIssuer.issuer,
      ACS_JWKS_URL: tokenIssuer.jwksUrl,
      CALLBACK_BASE_URL: functions.url,
      WORKER_MEDIA_URL: `${workerUrl}/ws`,
      MEDIA_AUDIO_FORMAT: options.audioFormat ?? 'pcm24KMono',
      ...(options.audioChannel ? { MEDIA_AUDIO_CHANNEL: options.audioChannel } : {}),
      SERVICEBUS_CONNECTION_STRING: serviceBus.connectionString,
      CALL_EVENTS_QUEUE,
    };
    const functionsConfig = loadFunctionsConfig(functionsSettings);
    if (functionsApp) {
      // The app's own Service Bus trigger runs in its process, as the host runs it: its binding names the setting
      // SERVICEBUS (a connection string here, the managed identity in Azure) and %OUTBOUND_CALLS_QUEUE%, which the host
      // resolves from the app settings alone (the app's own default does not reach it).
      await functionsApp.start({ ...functionsSettings, SERVICEBUS: serviceBus.connectionString, OUTBOUND_CALLS_QUEUE: functionsConfig.OUTBOUND_CALLS_QUEUE });
    } else {
      const functionsLogger = log('functions');
      const clock = options.functionsClock;
      const callAutomation = createCallAutomationClient({ connectionString: acs.connectionString });
      const tokenVerifier = new AcsTokenVerifier({ audience: RESOURCE_ID, issuer: tokenIssuer.issuer, jwksUrl: tokenIssuer.jwksUrl });
      // One Functions instance: its own Service Bus client, publisher, outbound parts and memory, and the queue trigger
      // the local host does not serve (the same handler, fed by a receiver). The lab builds the clients itself (no
      // managed identity), with the same builders as the Functions app.
      const startInstance = (logger: Logger): FunctionsDependencies => {
        const busClient = createServiceBusClient({ connectionString: serviceBus.connectionString });
        const publisher = new BusPublisher(busClient, functionsConfig.CALL_EVENTS_QUEUE, { deadlineMs: functionsConfig.PUBLISH_DEADLINE_MS, logger });
        const outbound = createOutboundDependencies(busClient, functionsConfig, clock ? () => clock.now().getTime() : undefined);
        const deps: FunctionsDependencies = {
          config: functionsConfig,
          callAutomation,
          publisher,
          tokenVerifier,
          logger,
          state: createFunctionsState(),
          ...(clock ? { clock } : {}),
          checkServiceBus: () => checkSendLink(busClient, functionsConfig.CALL_EVENTS_QUEUE),
          outbound,
        };
        const trigger = startQueueTriggerConsumer({
          client: busClient,
          queueName: functionsConfig.OUTBOUND_CALLS_QUEUE,
          functionName: 'outboundCalls',
          handler: createOutboundCallHandler(deps),
          logger,
        });
        closers.push(async () => {
          await trigger.close();
          await outbound.close();
          await publisher.close();
          await busClient.close();
        });
        return deps;
      };
      // The first instance also serves the HTTP routes; the others only compete for the outbound-calls queue.
      functions.setRoutes(createRoutes(startInstance(functionsLogger)));
      for (let instance = 2; instance <= (options.functionsInstances ?? 1); instance++) startInstance(functionsLogger.child({ instance }));
    }

    const busWatcher = watchBus(serviceBus, [CALL_EVENTS_QUEUE, CALL_RECORDS_QUEUE], callOf);
    closers.push(async () => clearInterval(busWatcher));

    return {
      tokenIssuer,
      entra,
      serviceBus,
      voiceLive,
      worker,
      get workerProcess() {
        return workers[0]?.process;
      },
      workers,
      ingress,
      functions,
      acs,
      urls: {
        functions: functions.url,
        incomingCallWebhook: functions.urlOf('incomingCall').replace(/code=[^&]+/, 'code=***'),
        worker: workerUrl,
        acs: acs.url,
        voiceLive: voiceLive?.url ?? workerConfig.voiceLive.endpoint,
        serviceBus: `amqp://${host}:${serviceBus.port}`,
        tokenIssuer: tokenIssuer.issuer,
      },
      placeCall: (callOptions) => acs.placeCall(callOptions),
      busMessages: (callId, queue = CALL_EVENTS_QUEUE) => serviceBus.messages(queue).filter((m) => m.sessionId === callId),
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** Both sets of hooks, in order; session settings pass through each. */
function combineHooks(first: CallSessionHooks, second: CallSessionHooks | undefined): CallSessionHooks {
  if (!second) return first;
  const both = [first, second];
  return {
    sessionSettings: (settings, call) => both.reduce((s, h) => (h.sessionSettings ? h.sessionSettings(s, call) : s), settings),
    onStart: (call) => both.forEach((h) => h.onStart?.(call)),
    greetingAllowed: (call) => {
      const waits = both.map((h) => h.greetingAllowed?.(call)).filter((p): p is Promise<boolean> => p !== undefined);
      return waits.length > 0 ? Promise.all(waits).then((allowed) => allowed.every(Boolean)) : undefined;
    },
    onVoiceLiveEvent: (event, call) => both.forEach((h) => h.onVoiceLiveEvent?.(event, call)),
    onDtmf: (tone, call) => both.forEach((h) => h.onDtmf?.(tone, call)),
    onBargeIn: (info, call) => both.forEach((h) => h.onBargeIn?.(info, call)),
    onEnd: (summary) => both.forEach((h) => h.onEnd?.(summary)),
  };
}

/** Puts the worker's view of a call (Voice Live events, barge-ins, end) on the call's timeline. */
function timelineHooks(call: () => EmulatedCall | undefined): CallSessionHooks {
  return {
    onVoiceLiveEvent(event) {
      if (!TIMELINE_EVENTS.has(event.type)) return;
      const e = event as Record<string, unknown>;
      const detail: Record<string, unknown> = {};
      for (const key of ['transcript', 'audio_start_ms', 'audio_end_ms', 'item_id'] as const) if (e[key] !== undefined) detail[key] = e[key];
      const response = e.response as { id?: string; status?: string } | undefined;
      if (response?.id) detail.responseId = response.id;
      if (response?.status) detail.status = response.status;
      const error = e.error as { code?: string; message?: string } | undefined;
      if (error) detail.error = error.code ?? error.message;
      call()?.timeline.add('voice-live', event.type, Object.keys(detail).length ? detail : undefined);
    },
    onBargeIn(info) {
      call()?.timeline.add('voice-live', 'barge-in', { heardMs: Math.round(info.heardMs), itemId: info.itemId });
    },
    onEnd(summary) {
      call()?.timeline.add('voice-live', 'session-ended', { reason: summary.reason, bargeIns: summary.bargeIns });
    },
  };
}

/** Adds each message the bus accepts for a call (by session id, or the record's callId) to that call's timeline. */
function watchBus(peer: ServiceBusPeer, queues: readonly string[], callOf: (callId: string) => EmulatedCall | undefined): NodeJS.Timeout {
  const seen = new Map<string, number>();
  const timer = setInterval(() => {
    for (const queue of queues) {
      const messages = peer.messages(queue);
      for (let index = seen.get(queue) ?? 0; index < messages.length; index++) {
        const message = messages[index]!;
        const body = message.body as { type?: unknown; callId?: unknown } | undefined;
        const callId = message.sessionId ?? (typeof body?.callId === 'string' ? body.callId : undefined);
        const type = typeof body?.type === 'string' ? body.type : queue === CALL_RECORDS_QUEUE ? 'call-record' : 'message';
        if (callId) callOf(callId)?.timeline.add('bus', type, { queue });
      }
      seen.set(queue, messages.length);
    }
  }, 50);
  timer.unref();
  return timer;
}

/**
 * The worker greets each caller by asking Voice Live for an opening response (as it would in Azure with
 * VOICE_LIVE_GREETING_INSTRUCTION), which the echo agent answers with the spoken greeting. Nothing is added
 * when the settings already choose a greeting (the worker refuses two).
 */
function greetingEnv(env: Env): Env {
  if (env.VOICE_LIVE_GREETING || env.VOICE_LIVE_GREETING_INSTRUCTION || env.CALLER_GREETING) return {};
  return { VOICE_LIVE_GREETING_INSTRUCTION: 'Greet the caller in one short sentence.' };
}

/** The model/agent settings the lab chose, as variables for a worker process. */
function workerEnvOf(config: ReturnType<typeof loadWorkerConfig>): Record<string, string> {
  const target = config.voiceLive.target;
  if (target.kind === 'model') return { VOICE_LIVE_MODEL: target.model };
  if (target.kind === 'agent-classic') return { VOICE_LIVE_AGENT_ID: target.agentId, VOICE_LIVE_AGENT_PROJECT: target.projectName };
  return { VOICE_LIVE_AGENT_NAME: target.agentName, VOICE_LIVE_AGENT_PROJECT: target.projectName };
}


async function startLabWorker(env: Record<string, string | undefined>, baseUrl: string, command?: WorkerCommand): Promise<LabWorker> {
  let child = await spawnWorker(env, baseUrl, command);
  return {
    url: baseUrl,
    get process() {
      return child;
    },
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill(signal);
      await exited;
    },
    async restart() {
      if (child.exitCode === null && child.signalCode === null) throw new Error(`worker ${baseUrl} is still running: kill it first`);
      child = await spawnWorker(env, baseUrl, command);
    },
  };
}

/** Starts `worker/main.ts` (through tsx, as npm scripts do) and waits for /readyz. */
async function spawnWorker(env: Record<string, string | undefined>, baseUrl: string, command?: WorkerCommand): Promise<ChildProcess> {
  const root = resolvePath(__dirname, '..');
  const child = command
    ? spawn(command.command, command.args, {
        cwd: command.cwd,
        env: { PATH: process.env.PATH, ...command.env, DRAIN_TIMEOUT_S: '1', ...env },
        stdio: ['ignore', 'ignore', 'pipe'],
        ...(command.uid === undefined ? {} : { uid: command.uid }),
        ...(command.gid === undefined ? {} : { gid: command.gid }),
      })
    : spawn(process.execPath, ['--import', 'tsx', 'worker/main.ts'], {
        cwd: root,
        env: { DRAIN_TIMEOUT_S: '1', ...env },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`worker process exited (${child.exitCode}): ${stderr}`);
    const ready = await fetch(`${baseUrl}/readyz`).then((r) => r.ok, () => false);
    if (ready) return child;
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`worker process not ready after 30 s: ${stderr}`);
}

function stopChild(child: ChildProcess): Promise<void> {
  // A process killed by a signal has no exit code, only a signal code: either means `exit` has fired already.
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
