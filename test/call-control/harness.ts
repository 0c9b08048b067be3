import { randomUUID } from 'node:crypto';
import type { TokenCredential } from '@azure/core-auth';
import { Writable } from 'node:stream';
import { CallAutomationClient } from '@azure/communication-call-automation';
import type { ServiceBusClient } from '@azure/service-bus';
import { AcsMediaClient } from '../../lab/acs/media-client.js';
import { startAcsRestPeer, type AcsRestPeer } from '../../lab/acs/rest-peer.js';
import { startServiceBusPeer, testClientRetryOptions, type ServiceBusPeer } from '../../lab/servicebus/peer.js';
import { startVoiceLivePeer, type PeerSession, type VoiceLivePeer } from '../../lab/voice-live/peer.js';
import { BusPublisher, createServiceBusClient } from '../../shared/bus.js';
import { parseCallRecord, type CallRecord } from '../../shared/call-record.js';
import type { CallEventMessage } from '../../shared/call-metadata.js';
import { toBusMessage } from '../../shared/call-metadata.js';
import { loadCallControlConfig } from '../../shared/config/call-control.js';
import { resolveAgentProfiles, type AgentProfileOverrides, type WorkerConfig } from '../../shared/config/worker.js';
import { createLogger } from '../../shared/log.js';
import { createCallControl, type CallControlRuntime } from '../../worker/call-control/index.js';
import type { AgentTool } from '../../worker/tools/types.js';
import { startWorker, until, workerConfig, type RunningWorker } from '../worker/harness.js';

export const TRANSFER_TARGET = '+15550001111';
const LAB_ENTRA_TOKEN = 'call-control-lab-entra-token';

export interface LabCall {
  callId: string;
  callConnectionId: string;
  media: AcsMediaClient;
  session: PeerSession;
}

export interface CallControlLab {
  voiceLive: VoiceLivePeer;
  acs: AcsRestPeer;
  bus: ServiceBusPeer;
  busClient: ServiceBusClient;
  control: CallControlRuntime;
  worker: RunningWorker;
  logs: Record<string, unknown>[];
  /** Answers a call at the ACS peer (so Call Automation knows it), opens its media socket (`/ws/<callId>[/<profile>]`) and waits for Voice Live. */
  startCall(callId?: string, options?: { profile?: string }): Promise<LabCall>;
  /** Publishes call events as the Functions app does (session = call id, messageId = event id). */
  publish(...events: CallEventMessage[]): Promise<void>;
  records(): CallRecord[];
  close(): Promise<void>;
}

export interface LabOptions {
  env?: Record<string, string>;
  customTools?: AgentTool[];
  greeting?: boolean;
  /** AGENT_PROFILES, applied to the harness worker's default settings. */
  profiles?: Record<string, AgentProfileOverrides>;
  /** Overrides of the worker's Voice Live settings (e.g. no API key). */
  voiceLive?: Partial<WorkerConfig['voiceLive']>;
  /** The worker's Microsoft Entra credential (default: one the Voice Live peer accepts). */
  credential?: TokenCredential;
}

export async function startCallControlLab(options: LabOptions = {}): Promise<CallControlLab> {
  // A model is reached with the key, an agent (a profile's) with an Entra token: Voice Live takes no key for agents.
  const voiceLive = await startVoiceLivePeer({ apiKey: 'lab-key', acceptBearer: (token) => token === LAB_ENTRA_TOKEN, audioChunkMs: 40 });
  const acs = await startAcsRestPeer();
  const bus = await startServiceBusPeer();
  const busClient = createServiceBusClient({ connectionString: bus.connectionString }, { retryOptions: testClientRetryOptions });
  const logs: Record<string, unknown>[] = [];
  const logger = createLogger({
    component: 'worker',
    level: 'debug',
    destination: new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n')) if (line.trim()) logs.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    }),
  });
  const config = loadCallControlConfig({
    ACS_CONNECTION_STRING: acs.connectionString,
    SERVICEBUS_CONNECTION_STRING: bus.connectionString,
    TRANSFER_TARGET,
    DTMF_INTERDIGIT_MS: '50',
    TRANSFER_TIMEOUT_MS: '5000',
    // Off unless a test is about it: a slow machine must not have the agent check in on an idle test call.
    CALLER_SILENCE_PROMPT_MS: '0',
    ...options.env,
  });
  const defaults = workerConfig(voiceLive.url, {}, options.voiceLive ?? {});
  const agentProfiles = resolveAgentProfiles(options.profiles ?? {}, defaults.voiceLive);
  const control = createCallControl({
    config,
    logger,
    profiles: agentProfiles,
    busClient,
    customTools: options.customTools ?? [],
    subscriptionRetryDelayMs: 50,
    outboxOptions: { retryDelayMs: 50, maxRetryDelayMs: 200, attemptDeadlineMs: 400 },
  });
  const credential = options.credential ?? { getToken: async () => ({ token: LAB_ENTRA_TOKEN, expiresOnTimestamp: Date.now() + 3_600_000 }) };
  const worker = await startWorker({ ...defaults, agentProfiles }, { hooksFor: (callId, profile) => control.hooksFor(callId, profile), logger, credential });
  const events = new BusPublisher(busClient, 'call-events', { retryDelayMs: 20, maxRetryDelayMs: 100, attemptTimeoutMs: 500 });
  const automation = new CallAutomationClient(acs.connectionString, { allowInsecureConnection: true });
  const media: AcsMediaClient[] = [];

  return {
    voiceLive,
    acs,
    bus,
    busClient,
    control,
    worker,
    logs,
    async startCall(callId = `call-${randomUUID().slice(0, 8)}`, { profile }: { profile?: string } = {}) {
      const context = acs.createIncomingCallContext({ correlationId: callId });
      const answered = await automation.answerCall(context, 'https://functions.example/api/callbacks');
      const callConnectionId = answered.callConnectionProperties.callConnectionId!;
      const client = await AcsMediaClient.connect({ url: `${worker.url}/ws/${callId}${profile ? `/${profile}` : ''}`, callConnectionId, correlationId: callId });
      media.push(client);
      client.sendMetadata(16000);
      const session = await voiceLive.nextSession();
      await session.waitFor('session.update');
      await until(() => worker.server.calls.get(callId)?.voiceLive?.isOpen === true, 3000, 'Voice Live open');
      return { callId, callConnectionId, media: client, session };
    },
    async publish(...messages) {
      await events.publish(messages.map(toBusMessage));
    },
    records() {
      return bus.messages('call-records').map((m) => {
        const parsed = parseCallRecord(m.body);
        if (!parsed.ok) throw new Error(`bad record on the bus: ${parsed.reason}`);
        return parsed.record;
      });
    },
    async close() {
      for (const client of media) client.socket.terminate();
      await worker.close();
      await control.close(100);
      await events.close();
      await busClient.close();
      await bus.close();
      await acs.close();
      await voiceLive.close();
    },
  };
}

/** Agent audio: `ms` of a quiet, recognisable 16 kHz pattern. */
export function agentAudio(ms: number): Buffer {
  const out = Buffer.alloc((16000 / 1000) * ms * 2);
  for (let i = 0; i < out.length / 2; i++) out.writeInt16LE(((i * 37) % 2000) - 1000, i * 2);
  return out;
}

export const source = (callId: string, n: number, callConnectionId?: string) => ({
  callId,
  eventId: `${callId}-ev-${n}`,
  occurredAt: new Date(),
  ...(callConnectionId ? { callConnectionId } : {}),
});

/** The client events of one kind a Voice Live peer session received, in order. */
export function received(session: PeerSession, type: string): Record<string, unknown>[] {
  return session.received.filter((r) => r.type === type).map((r) => r.event);
}

export { until };
