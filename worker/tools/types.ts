import type { Logger } from '../../shared/log.js';

/** A JSON-serialisable answer for the model. */
export type ToolResult = unknown;

/** What a tool may do with the call it runs in. */
export interface ToolContext {
  readonly callId: string;
  /** Caller context from the call's events, when it has arrived (full numbers: handle with care, never log them). */
  readonly caller: { readonly from?: string; readonly to?: string; readonly displayName?: string };
  /** Aborted when the tool times out or the call ends. */
  readonly abortSignal: AbortSignal;
  readonly logger: Logger;
  /** Hangs up after the agent's last words have played. */
  endCall(reason: string): Promise<void>;
  /**
   * Transfers the caller to the configured human target; resolves with the outcome. `summary` (what the caller
   * needs, what was done) travels to the colleague with the call and into the call record: a warm hand-off.
   */
  transferToHuman(reason: string, summary?: string): Promise<TransferOutcome>;
  /**
   * On a call the agent placed: a voicemail greeting answered. The worker waits for the greeting (and its beep) to
   * end, leaves the profile's voicemail message, if any, and hangs up. Refused on other calls.
   */
  reportVoicemail(reason: string): VoicemailReport;
}

export type VoicemailReport = { ok: true } | { ok: false; reason: string };

export type TransferOutcome = { ok: true } | { ok: false; reason: string };

/**
 * A tool the agent can call (Voice Live function calling). Custom tools are modules whose default export
 * (or `tool` export) is one of these; see `worker/tools/examples/`.
 */
export interface AgentTool<Args = Record<string, unknown>> {
  name: string;
  description: string;
  /** JSON schema of the arguments object; arguments are validated against it before `handler` runs. */
  parameters: Record<string, unknown>;
  handler(args: Args, context: ToolContext): Promise<ToolResult> | ToolResult;
  /** Overrides TOOL_TIMEOUT_MS for this tool. */
  timeoutMs?: number;
  /**
   * The tool's result is not given back to the model and no new response is asked for (end_call: the call
   * is over; transfer: the caller is with a human).
   */
  endsConversation?: (result: ToolResult) => boolean;
  /** No filler while this tool runs (default: a filler after TOOL_FILLER_AFTER_MS). */
  noFiller?: boolean;
  /**
   * The tool ran but did not do its job (a transfer the target refused): recorded as `failed` in the call
   * record's `tools[]`; its result still goes to the model, which tells the caller.
   */
  failed?: (result: ToolResult) => boolean;
}
