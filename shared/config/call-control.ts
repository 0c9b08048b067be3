import { z } from 'zod';
import { type Env, boolean, decimal, integer, list, parseEnv, url } from './env.js';

/** E.164 (`+15551234567`) or an ACS raw id (`8:acs:<resource>_<user>`). Also an agent profile's `transferTarget`. */
export const transferTarget = () =>
  z.string().regex(/^(\+[1-9]\d{5,14}|\d+:[A-Za-z0-9:_\-.]+)$/, 'must be an E.164 number (+15551234567) or an ACS raw id (8:acs:...)');

const price = () => decimal(0, 1_000_000).default(0);

/**
 * The worker's call-control settings (tools, Service Bus, ACS Call Automation, call records, caps). Keys are
 * the variable names; every one is optional so the worker still runs with no bus or ACS (the local lab).
 * Spread into the worker's schema: `z.object({ ...workerShape, ...callControlEnvShape })`.
 */
export const callControlEnvShape = {
  ACS_ENDPOINT: url(['https']).optional(),
  ACS_CONNECTION_STRING: z
    .string()
    .regex(/endpoint=[^;]+;\s*accesskey=[^;]+/i, 'must look like endpoint=https://<resource>.communication.azure.com/;accesskey=<key>')
    .optional(),
  SERVICEBUS_FULLY_QUALIFIED_NAMESPACE: z.string().regex(/^[A-Za-z0-9.-]+$/, 'must be a host name like myns.servicebus.windows.net').optional(),
  SERVICEBUS_CONNECTION_STRING: z.string().regex(/Endpoint=sb:\/\//i, 'must be a Service Bus connection string (Endpoint=sb://...)').optional(),
  CALL_EVENTS_QUEUE: z.string().min(1).default('call-events'),
  CALL_RECORDS_QUEUE: z.string().min(1).default('call-records'),

  TRANSFER_TARGET: transferTarget().optional(),
  TRANSFER_TIMEOUT_MS: integer(1000, 600_000).default(60_000),
  DTMF_TRANSFER_KEY: z
    .string()
    .regex(/^([0-9*#A-Da-d]|none)$/, 'must be one key (0-9, *, #, A-D) or none')
    .transform((value) => (value === 'none' ? value : value.toUpperCase()))
    .default('0'),
  DTMF_INTERDIGIT_MS: integer(0, 10_000).default(800),

  // An empty value means unset (the default applies), so turning the filler off is spelled `none`.
  TOOL_FILLER_TEXT: z.string().default('One moment, please.').transform((text) => (text.trim().toLowerCase() === 'none' ? '' : text)),
  TOOL_FILLER_AFTER_MS: integer(0, 60_000).default(700),
  TOOL_TIMEOUT_MS: integer(100, 300_000).default(10_000),
  CUSTOM_TOOLS: list().default([]),
  END_CALL_TIMEOUT_MS: integer(1000, 120_000).default(15_000),
  CALLER_CONTEXT: boolean().default(true),
  CALLER_GREETING: z.string().optional(),
  CALLER_GREETING_WAIT_MS: integer(0, 10_000).default(1000),
  // 0 = off. The quiet time is counted only once the agent has finished speaking.
  CALLER_SILENCE_PROMPT_MS: integer(0, 600_000)
    .refine((ms) => ms === 0 || ms >= 1000, 'must be 0 (off) or at least 1000')
    .default(12_000),
  CALLER_SILENCE_MAX_PROMPTS: integer(0, 10).default(2),

  RECORD_TRANSCRIPTS: boolean().default(true),
  PRICE_CURRENCY: z.string().regex(/^[A-Z]{3}$/, 'must be a 3-letter currency code').default('USD'),
  PRICE_AUDIO_INPUT_PER_1M_TOKENS: price(),
  PRICE_AUDIO_OUTPUT_PER_1M_TOKENS: price(),
  PRICE_TEXT_INPUT_PER_1M_TOKENS: price(),
  PRICE_TEXT_OUTPUT_PER_1M_TOKENS: price(),
  PRICE_CACHED_INPUT_PER_1M_TOKENS: price(),
  PRICE_CALL_PER_MINUTE: price(),

  CALL_MAX_MINUTES: decimal(0.1, 24 * 60).optional(),
  CALL_MAX_TOKENS: integer(1000, 100_000_000).optional(),
  CALL_CAP_ACTION: z.enum(['wrap_up', 'transfer'], { message: 'must be wrap_up or transfer' }).default('wrap_up'),
  CALL_CAP_GRACE_S: integer(5, 3600).default(60),

  // Outbound calls (docs/outbound.md, "When a machine answers").
  OUTBOUND_LISTEN_FIRST_SILENCE_MS: integer(1000, 60_000).default(5000),
  // An empty value means unset; `none` leaves no message (and overrides nothing: a profile may still set one).
  OUTBOUND_VOICEMAIL_MESSAGE: z.string().optional(),
  OUTBOUND_VOICEMAIL_QUIET_MS: integer(300, 10_000).default(1500),
  OUTBOUND_VOICEMAIL_MAX_WAIT_MS: integer(1000, 300_000).default(30_000),
  OUTBOUND_STATUS_QUEUE: z.string().min(1).optional(),
};

const shapeSchema = z.object(callControlEnvShape);
type ShapeOutput = z.infer<typeof shapeSchema>;

/** Cross-field rules, reported against the variable to fix; the worker's schema calls this from its superRefine. */
export function checkCallControlEnv(e: ShapeOutput, ctx: z.RefinementCtx): void {
  if (e.CALL_CAP_ACTION === 'transfer' && !e.TRANSFER_TARGET) {
    ctx.addIssue({ code: 'custom', path: ['TRANSFER_TARGET'], message: 'required when CALL_CAP_ACTION=transfer' });
  }
  if (e.OUTBOUND_VOICEMAIL_MAX_WAIT_MS <= e.OUTBOUND_VOICEMAIL_QUIET_MS) {
    ctx.addIssue({ code: 'custom', path: ['OUTBOUND_VOICEMAIL_MAX_WAIT_MS'], message: `must be longer than OUTBOUND_VOICEMAIL_QUIET_MS (${e.OUTBOUND_VOICEMAIL_QUIET_MS})` });
  }
  if (e.ACS_ENDPOINT && e.ACS_CONNECTION_STRING) {
    ctx.addIssue({ code: 'custom', path: ['ACS_CONNECTION_STRING'], message: 'set ACS_ENDPOINT (managed identity) or ACS_CONNECTION_STRING (local), not both' });
  }
  if (e.SERVICEBUS_FULLY_QUALIFIED_NAMESPACE && e.SERVICEBUS_CONNECTION_STRING) {
    ctx.addIssue({
      code: 'custom',
      path: ['SERVICEBUS_CONNECTION_STRING'],
      message: 'set SERVICEBUS_FULLY_QUALIFIED_NAMESPACE (managed identity) or SERVICEBUS_CONNECTION_STRING (local), not both',
    });
  }
}

export const callControlConfigSchema = shapeSchema.superRefine(checkCallControlEnv);
export type CallControlEnv = ShapeOutput;

export interface TokenPrices {
  currency: string;
  audioInputPer1M: number;
  audioOutputPer1M: number;
  textInputPer1M: number;
  textOutputPer1M: number;
  cachedInputPer1M: number;
  callPerMinute: number;
}

export interface CallControlConfig {
  /** Call Automation: managed identity against `endpoint` in Azure, or a connection string (local). Unset = no ACS actions. */
  acs?: { endpoint: string } | { connectionString: string };
  /** Unset = no per-call events and no records on the bus. */
  serviceBus?: { fullyQualifiedNamespace: string } | { connectionString: string };
  callEventsQueue: string;
  callRecordsQueue: string;
  transferTarget?: string;
  transferTimeoutMs: number;
  dtmfTransferKey?: string;
  dtmfInterdigitMs: number;
  toolFillerText: string;
  toolFillerAfterMs: number;
  toolTimeoutMs: number;
  customTools: string[];
  endCallTimeoutMs: number;
  callerContext: boolean;
  /** Spoken first, once the caller's context arrived (or after `waitMs`); `{name}` is the caller's display name. */
  callerGreeting?: { template: string; waitMs: number };
  /** No-input handling: after `promptAfterMs` of caller silence the agent checks in, `maxPrompts` times, then says goodbye and hangs up. */
  callerSilence?: { promptAfterMs: number; maxPrompts: number };
  recordTranscripts: boolean;
  prices: TokenPrices;
  caps: { maxMinutes?: number; maxTokens?: number; action: 'wrap_up' | 'transfer'; graceMs: number };
  outbound: OutboundCallSettings;
}

/** How the agent behaves on calls it placed (listen first, voicemail). */
export interface OutboundCallSettings {
  /** The callee said nothing for this long after the media started: the agent speaks first. */
  listenFirstSilenceMs: number;
  /** Left on a voicemail (`{key}` = the request context's value); undefined = no message, hang up. */
  voicemailMessage?: string;
  /** After a voicemail greeting is reported: the callee side quiet this long ends the greeting (and its beep). */
  voicemailQuietMs: number;
  /** The message is left after this long even if the greeting never fell quiet. */
  voicemailMaxWaitMs: number;
  /** Where GET /api/calls/{callId} reads the status; unset = the voicemail outcome is on the call record only. */
  statusQueue?: string;
}

/** `none` (any case) or nothing = no voicemail message. */
export const voicemailMessageOf = (value: string | undefined): string | undefined => (value && value.trim().toLowerCase() !== 'none' ? value.trim() : undefined);

/** Maps the parsed variables (standalone or as part of the worker's schema) to the typed settings. */
export function callControlConfigFrom(e: CallControlEnv): CallControlConfig {
  return {
    ...(e.ACS_ENDPOINT ? { acs: { endpoint: e.ACS_ENDPOINT } } : e.ACS_CONNECTION_STRING ? { acs: { connectionString: e.ACS_CONNECTION_STRING } } : {}),
    ...(e.SERVICEBUS_FULLY_QUALIFIED_NAMESPACE
      ? { serviceBus: { fullyQualifiedNamespace: e.SERVICEBUS_FULLY_QUALIFIED_NAMESPACE } }
      : e.SERVICEBUS_CONNECTION_STRING
        ? { serviceBus: { connectionString: e.SERVICEBUS_CONNECTION_STRING } }
        : {}),
    callEventsQueue: e.CALL_EVENTS_QUEUE,
    callRecordsQueue: e.CALL_RECORDS_QUEUE,
    ...(e.TRANSFER_TARGET ? { transferTarget: e.TRANSFER_TARGET } : {}),
    transferTimeoutMs: e.TRANSFER_TIMEOUT_MS,
    ...(e.DTMF_TRANSFER_KEY !== 'none' ? { dtmfTransferKey: e.DTMF_TRANSFER_KEY } : {}),
    dtmfInterdigitMs: e.DTMF_INTERDIGIT_MS,
    toolFillerText: e.TOOL_FILLER_TEXT,
    toolFillerAfterMs: e.TOOL_FILLER_AFTER_MS,
    toolTimeoutMs: e.TOOL_TIMEOUT_MS,
    customTools: e.CUSTOM_TOOLS,
    endCallTimeoutMs: e.END_CALL_TIMEOUT_MS,
    callerContext: e.CALLER_CONTEXT,
    ...(e.CALLER_GREETING ? { callerGreeting: { template: e.CALLER_GREETING, waitMs: e.CALLER_GREETING_WAIT_MS } } : {}),
    ...(e.CALLER_SILENCE_PROMPT_MS > 0 ? { callerSilence: { promptAfterMs: e.CALLER_SILENCE_PROMPT_MS, maxPrompts: e.CALLER_SILENCE_MAX_PROMPTS } } : {}),
    recordTranscripts: e.RECORD_TRANSCRIPTS,
    prices: {
      currency: e.PRICE_CURRENCY,
      audioInputPer1M: e.PRICE_AUDIO_INPUT_PER_1M_TOKENS,
      audioOutputPer1M: e.PRICE_AUDIO_OUTPUT_PER_1M_TOKENS,
      textInputPer1M: e.PRICE_TEXT_INPUT_PER_1M_TOKENS,
      textOutputPer1M: e.PRICE_TEXT_OUTPUT_PER_1M_TOKENS,
      cachedInputPer1M: e.PRICE_CACHED_INPUT_PER_1M_TOKENS,
      callPerMinute: e.PRICE_CALL_PER_MINUTE,
    },
    caps: {
      ...(e.CALL_MAX_MINUTES !== undefined ? { maxMinutes: e.CALL_MAX_MINUTES } : {}),
      ...(e.CALL_MAX_TOKENS !== undefined ? { maxTokens: e.CALL_MAX_TOKENS } : {}),
      action: e.CALL_CAP_ACTION,
      graceMs: e.CALL_CAP_GRACE_S * 1000,
    },
    outbound: {
      listenFirstSilenceMs: e.OUTBOUND_LISTEN_FIRST_SILENCE_MS,
      ...(voicemailMessageOf(e.OUTBOUND_VOICEMAIL_MESSAGE) ? { voicemailMessage: voicemailMessageOf(e.OUTBOUND_VOICEMAIL_MESSAGE)! } : {}),
      voicemailQuietMs: e.OUTBOUND_VOICEMAIL_QUIET_MS,
      voicemailMaxWaitMs: e.OUTBOUND_VOICEMAIL_MAX_WAIT_MS,
      ...(e.OUTBOUND_STATUS_QUEUE ? { statusQueue: e.OUTBOUND_STATUS_QUEUE } : {}),
    },
  };
}

/** Parses only the call-control variables (tests, tools); the worker parses them with the rest of its settings. */
export function loadCallControlConfig(env: Env): CallControlConfig {
  return callControlConfigFrom(parseEnv(callControlConfigSchema, env));
}
