import type { TokenCredential } from '@azure/core-auth';
import type { RetryOptions, ServiceBusClient } from '@azure/service-bus';
import { BusPublisher, checkSendLink, createServiceBusClient } from '../../shared/bus.js';
import type { CallControlConfig } from '../../shared/config/call-control.js';
import type { Logger } from '../../shared/log.js';
import type { CallRecord } from '../../shared/call-record.js';
import type { CarriedState } from '../continuity/carried-state.js';
import type { CallSessionHooks } from '../call-session.js';
import { RecordOutbox, type RecordOutboxOptions } from '../call-record/outbox.js';
import { endCallTool, reportVoicemailTool, transferToHumanTool } from '../tools/builtin.js';
import { voicemailMessageOf } from '../../shared/config/call-control.js';
import { loadCustomTools } from '../tools/loader.js';
import { ToolRegistry } from '../tools/registry.js';
import type { AgentTool } from '../tools/types.js';
import { createCallAutomationClient } from '../../shared/call-automation-client.js';
import { callActionsFrom, type CallActions } from './call-automation.js';
import { CallController, type CallOutcomeMetrics } from './call-controller.js';

export { CallController } from './call-controller.js';

export interface CallControlDeps {
  config: CallControlConfig;
  logger: Logger;
  /** Managed identity for ACS and Service Bus when they are configured by endpoint/namespace; made on first use. */
  credential?: () => TokenCredential;
  customTools?: AgentTool[];
  /** Agent profiles by name (AGENT_PROFILES): a profile's call transfers to its own target, else to TRANSFER_TARGET. */
  profiles?: ReadonlyMap<string, { readonly transferTarget?: string | undefined; readonly voicemailMessage?: string | undefined }>;
  /** Overrides for tests: a ready Call Automation facade and Service Bus client. */
  actions?: CallActions;
  busClient?: ServiceBusClient;
  busRetryOptions?: RetryOptions;
  outboxOptions?: RecordOutboxOptions;
  subscriptionRetryDelayMs?: number;
  /** The worker's metrics, for the calls' outbound outcomes. */
  metrics?: CallOutcomeMetrics;
}

export interface CallControlRuntime {
  /** For `WorkerServer`'s `hooksFor`: the call's agent profile, if any, sets its transfer target and is in its record. */
  hooksFor(callId: string, profile?: string): CallSessionHooks;
  readonly tools: ToolRegistry;
  readonly outbox: RecordOutbox | undefined;
  /** Live calls' controllers, by call id. */
  readonly calls: ReadonlyMap<string, CallController>;
  /**
   * Attaches a sender to the call-records queue with the worker's identity and detaches: proves the namespace is
   * reachable and the identity may send, without sending anything. Rejects with why not.
   */
  checkServiceBus(timeoutMs?: number): Promise<void>;
  /** Waits up to `timeoutMs` for pending call records and released bus sessions, then closes the clients. */
  close(timeoutMs: number): Promise<{ unpublishedRecords: number }>;
}

/** A line's call settings: its profile's transfer target and voicemail message over the defaults. */
function lineConfig(config: CallControlConfig, line: { transferTarget?: string | undefined; voicemailMessage?: string | undefined } | undefined): CallControlConfig {
  if (!line) return config;
  let lined = config;
  if (line.transferTarget) lined = { ...lined, transferTarget: line.transferTarget };
  if (line.voicemailMessage !== undefined) {
    const { voicemailMessage: _default, ...outbound } = lined.outbound;
    const message = voicemailMessageOf(line.voicemailMessage);
    lined = { ...lined, outbound: message ? { ...outbound, voicemailMessage: message } : outbound };
  }
  return lined;
}

/**
 * Call control with the custom tools its config names (CUSTOM_TOOLS) loaded: how the worker process and the
 * local lab both start it, so a tool that works locally is offered the same way in Azure.
 */
export async function startCallControl(deps: Omit<CallControlDeps, 'customTools'>, baseDir?: string): Promise<CallControlRuntime> {
  return createCallControl({ ...deps, customTools: await loadCustomTools(deps.config.customTools, baseDir) });
}

/**
 * Call control for the worker: tools (end_call, transfer_to_human when TRANSFER_TARGET or a profile's target is set, custom tools),
 * each call's Service Bus session, DTMF, caps and call records. Without ACS or Service Bus settings the matching
 * parts are off and calls still work.
 */
export function createCallControl(deps: CallControlDeps): CallControlRuntime {
  const { config, logger } = deps;
  const tools = new ToolRegistry();
  tools.register(endCallTool);
  // Offered per call, to the calls the agent placed (CallController.sessionSettings).
  tools.register(reportVoicemailTool);
  const profiles = deps.profiles ?? new Map<string, { transferTarget?: string | undefined; voicemailMessage?: string | undefined }>();
  // Offered per call, to the calls that have a target (CallController.sessionSettings).
  if (config.transferTarget || [...profiles.values()].some((p) => p.transferTarget)) tools.register(transferToHumanTool);
  for (const tool of deps.customTools ?? []) tools.register(tool);

  const needCredential = () => {
    if (!deps.credential) throw new Error('a managed identity credential is needed for ACS_ENDPOINT / SERVICEBUS_FULLY_QUALIFIED_NAMESPACE');
    return deps.credential();
  };
  const acsTarget = config.acs
    ? 'endpoint' in config.acs
      ? { endpoint: config.acs.endpoint, credential: needCredential }
      : { connectionString: config.acs.connectionString }
    : undefined;
  const actions = deps.actions ?? (acsTarget ? callActionsFrom(createCallAutomationClient(acsTarget)) : undefined);
  const ownsBusClient = !deps.busClient && config.serviceBus !== undefined;
  const busClient =
    deps.busClient ??
    (config.serviceBus
      ? createServiceBusClient(
          'connectionString' in config.serviceBus
            ? { connectionString: config.serviceBus.connectionString }
            : { fullyQualifiedNamespace: config.serviceBus.fullyQualifiedNamespace, credential: needCredential() },
          deps.busRetryOptions ? { retryOptions: deps.busRetryOptions } : {},
        )
      : undefined);
  const publisher = busClient ? new BusPublisher(busClient, config.callRecordsQueue, { logger }) : undefined;
  const outbox = publisher ? new RecordOutbox(publisher, { logger, ...deps.outboxOptions }) : undefined;
  const calls = new Map<string, CallController>();
  const released = new Set<Promise<void>>();
  /** Records of calls whose media socket just ended, held for one turn in case a new socket of the call replaces it. */
  const handovers = new Map<string, CallRecord>();
  /** The carried state of calls whose socket just ended while the call goes on, held for one turn likewise. */
  const carried = new Map<string, CarriedState>();
  const handOverFor = (callId: string, controller: () => CallController) => (state: CarriedState) => {
    const successor = calls.get(callId);
    if (successor && successor !== controller()) return successor.takeOver(state);
    carried.set(callId, state);
    setImmediate(() => {
      if (carried.get(callId) === state) carried.delete(callId);
    });
  };

  /**
   * One record per call: when a new media socket of a call replaces the old one on this worker, the old
   * socket's record is handed to the new controller (merged into its record) instead of being published.
   * The server ends the old session just before it asks for the new one's hooks, so a record is held for
   * one turn before it goes to the outbox; a replacement already live takes it at once.
   */
  const recordSinkFor = (callId: string, controller: () => CallController) => ({
    add(record: CallRecord): void {
      const successor = calls.get(callId);
      if (successor && successor !== controller()) {
        successor.record.inherit(record);
        return;
      }
      handovers.set(callId, record);
      setImmediate(() => {
        if (handovers.get(callId) !== record) return;
        handovers.delete(callId);
        outbox?.add(record);
      });
    },
  });

  logger.info(
    {
      tools: tools.names,
      acs: actions !== undefined,
      serviceBus: busClient !== undefined,
      transfer: config.transferTarget !== undefined,
      ...(profiles.size > 0 ? { profiles: [...profiles.keys()] } : {}),
    },
    'call control ready',
  );
  if (!actions) {
    logger.warn(
      'no Call Automation (ACS_ENDPOINT / ACS_CONNECTION_STRING unset): end_call only closes the media stream, so ACS ' +
        'keeps the call up and the Functions app may restart media (the caller can be greeted again); transfer_to_human is unavailable',
    );
  }

  return {
    tools,
    outbox,
    calls,
    hooksFor(callId, profile) {
      // The server refuses a socket naming a profile it does not know, so `line` is found whenever `profile` is set.
      const line = profile === undefined ? undefined : profiles.get(profile);
      const controller: CallController = new CallController({
        callId,
        ...(profile ? { profile } : {}),
        config: lineConfig(config, line),
        tools,
        logger: logger.child(profile ? { callId, profile } : { callId }),
        actions,
        busClient,
        outbox: outbox ? recordSinkFor(callId, () => controller) : undefined,
        handOver: handOverFor(callId, () => controller),
        ...(deps.subscriptionRetryDelayMs !== undefined ? { subscriptionRetryDelayMs: deps.subscriptionRetryDelayMs } : {}),
        metrics: deps.metrics,
        onFinished: (finished: CallController) => {
          if (calls.get(callId) === finished) calls.delete(callId);
          const release = finished.released.finally(() => released.delete(release));
          released.add(release);
        },
      });
      const state = carried.get(callId);
      if (state) {
        carried.delete(callId);
        controller.takeOver(state);
      }
      const inherited = handovers.get(callId);
      if (inherited) {
        handovers.delete(callId);
        controller.record.inherit(inherited);
      }
      calls.set(callId, controller);
      return controller.hooks;
    },
    async checkServiceBus(timeoutMs = 10_000) {
      if (!busClient) throw new Error('Service Bus is not configured (SERVICEBUS_FULLY_QUALIFIED_NAMESPACE unset)');
      await checkSendLink(busClient, config.callRecordsQueue, timeoutMs);
    },
    async close(timeoutMs) {
      for (const record of handovers.values()) outbox?.add(record);
      handovers.clear();
      const unpublishedRecords = outbox ? await outbox.flush(timeoutMs) : 0;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(released), new Promise((resolve) => (timer = setTimeout(resolve, Math.min(timeoutMs, 5_000))))]);
      clearTimeout(timer);
      outbox?.close();
      await publisher?.close();
      if (ownsBusClient) await busClient?.close().catch(() => undefined);
      return { unpublishedRecords };
    },
  };
}
