import { boundText, MAX_TOOL_MESSAGE_CHARS, MAX_TOOL_NAME_CHARS } from '../../shared/bounded-text.js';
import type { Logger } from '../../shared/log.js';
import type { CallRecord } from '../../shared/call-record.js';
import type { ResponseGate, VoiceLiveSender } from '../call-control/response-gate.js';
import type { ServerEvent } from '../voice-live/events.js';
import type { ToolRegistry } from './registry.js';
import type { AgentTool, ToolContext } from './types.js';

type ToolStatus = CallRecord['tools'][number]['status'];

/** How often a finished tool checks whether Voice Live is open again (it was reconnecting). */
const OPEN_POLL_MS = 25;
/** While the caller hears the agent, whether a running tool needs its filler is checked this often. */
const FILLER_RECHECK_MS = 50;

export interface FunctionCallRunnerOptions {
  registry: ToolRegistry;
  gate: ResponseGate;
  voiceLive: () => VoiceLiveSender | undefined;
  /** A tool's context for one run; `abortSignal` ends with the run. */
  context: (abortSignal: AbortSignal) => ToolContext;
  timeoutMs: number;
  fillerAfterMs: number;
  fillerText: string;
  isAgentAudible: () => boolean;
  logger: Logger;
  onToolUsed?: (use: { name: string; startedAtMs: number; durationMs: number; status: ToolStatus }) => void;
}

interface Outcome {
  status: ToolStatus;
  output: unknown;
  endsConversation: boolean;
}

/**
 * The function-calling loop: `response.function_call_arguments.done` → validate → run with a timeout →
 * (after the requesting response's `response.done`) `function_call_output` + `response.create`. A tool that
 * runs longer than `fillerAfterMs` while the caller hears nothing gets a short spoken filler; failures and
 * timeouts are told to the model as such.
 */
export class FunctionCallRunner {
  private readonly names = new Map<string, string>();
  private readonly started = new Set<string>();
  private readonly running = new Set<AbortController>();
  private closed = false;

  constructor(private readonly options: FunctionCallRunnerOptions) {}

  onEvent(event: ServerEvent): void {
    switch (event.type) {
      case 'response.output_item.added':
      case 'conversation.item.created':
        if (event.item.type === 'function_call' && event.item.call_id && event.item.name) this.names.set(event.item.call_id, event.item.name);
        break;
      case 'response.function_call_arguments.done': {
        if (this.started.has(event.call_id) || this.closed) return;
        this.started.add(event.call_id);
        const name = this.names.get(event.call_id) ?? event.name ?? '';
        this.names.delete(event.call_id);
        void this.run(name, event.call_id, event.arguments, event.response_id);
        break;
      }
      default:
        break;
    }
  }

  /** A tool is being run. */
  get isRunning(): boolean {
    return this.running.size > 0;
  }

  /** Aborts every running tool (the call ended). */
  close(): void {
    this.closed = true;
    for (const controller of this.running) controller.abort(new Error('call ended'));
    this.running.clear();
  }

  private async run(name: string, callId: string, argumentsJson: string, responseId: string): Promise<void> {
    // The model names the tool: what reaches the log, the model's reply and the record is bounded.
    const shownName = boundText(name, MAX_TOOL_NAME_CHARS);
    const log = this.options.logger.child({ tool: shownName, toolCallId: boundText(callId, MAX_TOOL_NAME_CHARS) });
    const startedAtMs = Date.now();
    const startedAt = performance.now();
    const registered = this.options.registry.get(name);
    let outcome: Outcome;
    if (!registered) {
      outcome = { status: 'unknown_tool', output: { ok: false, error: `There is no tool named ${shownName}.` }, endsConversation: false };
    } else {
      const args = parseArguments(argumentsJson);
      const valid = args.ok ? registered.validate(args.value) : args;
      if (!valid.ok) {
        outcome = { status: 'invalid_arguments', output: { ok: false, error: boundText(`Invalid arguments: ${valid.reason}`, MAX_TOOL_MESSAGE_CHARS) }, endsConversation: false };
      } else {
        outcome = await this.execute(registered.tool, valid.args, responseId, log);
      }
    }
    const durationMs = performance.now() - startedAt;
    log.info({ status: outcome.status, durationMs: Math.round(durationMs) }, 'tool call finished');
    this.options.onToolUsed?.({ name: shownName, startedAtMs, durationMs, status: outcome.status });
    if (this.closed || outcome.endsConversation) return;

    await this.options.gate.whenDone(responseId);
    // While Voice Live reconnects, the new session's replay is already taken: an output sent now would be
    // dropped and not replayed. It goes to the new session once open, and its response.create behind it.
    const voiceLive = await this.openVoiceLive();
    if (!voiceLive) return;
    voiceLive.createConversationItem({ type: 'function_call_output', call_id: callId, output: JSON.stringify(outcome.output ?? null) });
    this.options.gate.request();
  }

  /** The Voice Live sender once a session is open; undefined if the call ends first. */
  private async openVoiceLive(): Promise<VoiceLiveSender | undefined> {
    for (;;) {
      if (this.closed) return undefined;
      const voiceLive = this.options.voiceLive();
      if (voiceLive && voiceLive.isOpen !== false) return voiceLive;
      await new Promise((resolve) => setTimeout(resolve, OPEN_POLL_MS).unref());
    }
  }

  private async execute(tool: AgentTool, args: Record<string, unknown>, responseId: string, log: Logger): Promise<Outcome> {
    const timeoutMs = tool.timeoutMs ?? this.options.timeoutMs;
    const controller = new AbortController();
    this.running.add(controller);
    let timer: NodeJS.Timeout | undefined;
    let fillerTimer: NodeJS.Timeout | undefined;
    if (!tool.noFiller && this.options.fillerText) {
      fillerTimer = setTimeout(() => void this.sayFiller(responseId, controller.signal), this.options.fillerAfterMs);
    }
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    try {
      const result = await Promise.race([Promise.resolve().then(() => tool.handler(args, this.options.context(controller.signal))), timedOut]);
      if (result === 'timeout') {
        controller.abort(new Error('tool timed out'));
        log.warn({ timeoutMs }, 'tool timed out');
        return { status: 'timeout', output: { ok: false, error: `The ${tool.name} tool did not answer within ${timeoutMs} ms.` }, endsConversation: false };
      }
      return { status: tool.failed?.(result) ? 'failed' : 'ok', output: result, endsConversation: tool.endsConversation?.(result) ?? false };
    } catch (error) {
      const message = boundText(String((error as Error)?.message ?? error), MAX_TOOL_MESSAGE_CHARS);
      log.warn({ err: { message } }, 'tool failed');
      return { status: 'failed', output: { ok: false, error: `The ${tool.name} tool failed: ${message}` }, endsConversation: false };
    } finally {
      clearTimeout(timer);
      clearTimeout(fillerTimer);
      this.running.delete(controller);
      controller.abort();
    }
  }

  /**
   * Dead air: the requesting response is over, the caller hears nothing, the tool is still running. While the
   * caller still hears the agent, this is checked again until the agent falls silent or the tool ends.
   */
  private async sayFiller(responseId: string, signal: AbortSignal): Promise<void> {
    await this.options.gate.whenDone(responseId);
    while (!signal.aborted && !this.closed && (this.options.isAgentAudible() || this.options.gate.hasActiveResponse)) {
      await new Promise((resolve) => setTimeout(resolve, FILLER_RECHECK_MS).unref());
    }
    if (signal.aborted || this.closed) return;
    this.options.gate.request({
      pre_generated_assistant_message: { type: 'message', role: 'assistant', content: [{ type: 'text', text: this.options.fillerText }] },
    });
  }
}

function parseArguments(json: string): { ok: true; value: unknown } | { ok: false; reason: string } {
  if (json.trim() === '') return { ok: true, value: {} };
  try {
    return { ok: true, value: JSON.parse(json) };
  } catch {
    return { ok: false, reason: 'arguments are not valid JSON' };
  }
}
