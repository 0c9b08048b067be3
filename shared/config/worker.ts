import { z } from 'zod';
import { type CallControlConfig, callControlConfigFrom, callControlEnvShape, checkCallControlEnv, transferTarget } from './call-control.js';
import { type Env, agentProfileName, boolean, decimal, guid, integer, list, parseEnv, url } from './env.js';

/** Azure semantic end-of-utterance detection models and thresholds (the SDK's `EouDetection` union). */
export const END_OF_UTTERANCE_MODELS = ['semantic_detection_v1', 'semantic_detection_v1_en', 'semantic_detection_v1_multilingual'] as const;
export const END_OF_UTTERANCE_THRESHOLD_LEVELS = ['low', 'medium', 'high', 'default'] as const;

const rateHz = z
  .enum(['8000', '16000', '24000'], { message: 'must be 8000, 16000 or 24000' })
  .transform((value) => Number(value) as 8000 | 16000 | 24000);

const voiceType = () => z.enum(['azure-standard', 'azure-custom', 'openai', 'azure-realtime-native']);
const text = () => z.string({ error: 'must be text' }).trim().min(1, 'must not be empty');

/**
 * What an agent profile (one entry of AGENT_PROFILES) may change of the default agent; each field is validated
 * as its variable is. A profile's own cross-field rules are here, those that involve the defaults in
 * `checkAgentProfiles`.
 */
const agentProfileOverridesSchema = z
  .strictObject(
    {
      /** VOICE_LIVE_INSTRUCTIONS (model mode). */
      instructions: text().optional(),
      /** VOICE_LIVE_VOICE_TYPE; needs voiceName. */
      voiceType: voiceType().optional(),
      /** VOICE_LIVE_VOICE_NAME. */
      voiceName: text().optional(),
      /** VOICE_LIVE_GREETING. */
      greeting: text().optional(),
      /** VOICE_LIVE_GREETING_INSTRUCTION. */
      greetingInstruction: text().optional(),
      /** VOICE_LIVE_MODEL. */
      model: text().optional(),
      /** VOICE_LIVE_AGENT_NAME, with agentProject. */
      agentName: text().optional(),
      /** VOICE_LIVE_AGENT_PROJECT, with agentName. */
      agentProject: text().optional(),
      /** VOICE_LIVE_TRANSCRIPTION_LANGUAGE. */
      transcriptionLanguage: text().optional(),
      /** TRANSFER_TARGET. */
      transferTarget: transferTarget().optional(),
      /** OUTBOUND_VOICEMAIL_MESSAGE: left on a voicemail this profile's outbound call reaches; `none` = no message. */
      voicemailMessage: text().max(1000, 'must be at most 1000 characters').optional(),
    },
    {
      error: (issue) =>
        issue.code === 'unrecognized_keys'
          ? `unknown field ${issue.keys.join(', ')} (a profile may set instructions, voiceType, voiceName, greeting, greetingInstruction, model, agentName, agentProject, transcriptionLanguage, transferTarget, voicemailMessage)`
          : issue.code === 'invalid_type'
            ? 'must be an object of overrides'
            : undefined,
    },
  )
  .superRefine((o, ctx) => {
    const problem = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
    if (o.greeting && o.greetingInstruction) problem('greeting', 'set greeting or greetingInstruction, not both');
    if (o.model && (o.agentName || o.agentProject)) problem('model', 'set either model or agentName and agentProject, not both');
    else if (o.agentName && !o.agentProject) problem('agentProject', 'required with agentName');
    else if (o.agentProject && !o.agentName) problem('agentName', 'required with agentProject');
    if (o.voiceType && !o.voiceName) problem('voiceName', 'required with voiceType');
  });
export type AgentProfileOverrides = z.infer<typeof agentProfileOverridesSchema>;

/** AGENT_PROFILES: a JSON object of profiles by name; every problem names its profile and field. */
const agentProfiles = () =>
  z.string().transform((json, ctx) => {
    const problem = (message: string) => ctx.addIssue({ code: 'custom', message });
    let value: unknown;
    try {
      value = JSON.parse(json);
    } catch (error) {
      problem(`must be a JSON object such as {"sales":{"instructions":"...","voiceName":"..."}} (${(error as Error).message})`);
      return z.NEVER;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      problem('must be a JSON object of profiles by name, such as {"sales":{"voiceName":"..."}}');
      return z.NEVER;
    }
    const profiles: Record<string, AgentProfileOverrides> = {};
    for (const [name, overrides] of Object.entries(value)) {
      const label = `profile ${JSON.stringify(name.slice(0, 40))}`;
      const nameIssue = agentProfileName().safeParse(name).error?.issues[0];
      if (nameIssue) problem(`${label}: ${nameIssue.message}`);
      const parsed = agentProfileOverridesSchema.safeParse(overrides);
      if (!parsed.success) for (const issue of parsed.error.issues) problem(`${label}${issue.path.length ? `, ${issue.path.join('.')}` : ''}: ${issue.message}`);
      else if (!nameIssue) profiles[name] = parsed.data;
    }
    return profiles;
  });

/** The media relay's own variables (call control's are in `./call-control.ts`). */
export const mediaWorkerEnvShape = {
  PORT: integer(0, 65535).default(8080),
  HOST: z.string().default('0.0.0.0'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

  VOICE_LIVE_ENDPOINT: url(['https', 'http']),
  VOICE_LIVE_API_KEY: z.string().optional(),
  VOICE_LIVE_API_VERSION: z.string().regex(/^\d{4}-\d{2}-\d{2}(-preview)?$/, 'must look like 2026-07-15').default('2026-07-15'),
  VOICE_LIVE_MODEL: z.string().optional(),
  VOICE_LIVE_AGENT_NAME: z.string().optional(),
  VOICE_LIVE_AGENT_PROJECT: z.string().optional(),
  VOICE_LIVE_AGENT_VERSION: z.string().optional(),
  VOICE_LIVE_AGENT_ID: z.string().optional(),
  VOICE_LIVE_AUDIO_RATE: rateHz.optional(),

  VOICE_LIVE_INSTRUCTIONS: z
    .string()
    .default('You are a helpful phone assistant. Keep answers short and natural; this is a phone call.'),
  VOICE_LIVE_VOICE_TYPE: voiceType().default('azure-standard'),
  VOICE_LIVE_VOICE_NAME: z.string().default('en-US-Ava:DragonHDLatestNeural'),
  VOICE_LIVE_VOICE_TEMPERATURE: decimal(0, 1).optional(),
  VOICE_LIVE_VOICE_RATE: decimal(0.5, 1.5).optional(),
  VOICE_LIVE_VOICE_STYLE: z.string().optional(),
  VOICE_LIVE_VOICE_LOCALE: z.string().regex(/^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/, 'must be a BCP-47 locale such as en-GB').optional(),
  VOICE_LIVE_VOICE_ENDPOINT_ID: z.string().optional(),
  VOICE_LIVE_TURN_DETECTION: z
    .enum(['azure_semantic_vad', 'azure_semantic_vad_en', 'azure_semantic_vad_multilingual', 'server_vad', 'semantic_vad'])
    .default('azure_semantic_vad'),
  VOICE_LIVE_VAD_THRESHOLD: decimal(0.01, 0.99).optional(),
  VOICE_LIVE_VAD_PREFIX_PADDING_MS: integer(0, 5000).optional(),
  VOICE_LIVE_VAD_SILENCE_DURATION_MS: integer(0, 10000).optional(),
  VOICE_LIVE_REMOVE_FILLER_WORDS: boolean().default(true),
  VOICE_LIVE_VAD_LANGUAGES: list().optional(),
  VOICE_LIVE_EOU_MODEL: z.enum(['none', ...END_OF_UTTERANCE_MODELS]).default('none'),
  VOICE_LIVE_EOU_THRESHOLD_LEVEL: z.enum(END_OF_UTTERANCE_THRESHOLD_LEVELS).optional(),
  VOICE_LIVE_EOU_TIMEOUT_MS: integer(100, 10_000).optional(),
  VOICE_LIVE_NOISE_SUPPRESSION: boolean().default(true),
  VOICE_LIVE_ECHO_CANCELLATION: boolean().default(true),
  VOICE_LIVE_TRANSCRIPTION_MODEL: z.string().default('azure-speech'),
  VOICE_LIVE_TRANSCRIPTION_LANGUAGE: z.string().optional(),
  VOICE_LIVE_GREETING: z.string().optional(),
  VOICE_LIVE_GREETING_INSTRUCTION: z.string().optional(),
  /**
   * Tuning and test settings for session renewal (Voice Live ends a session after 60 minutes): a new session is
   * opened this long before the old one expires and takes over at the first quiet moment.
   */
  VOICE_LIVE_RENEW_BEFORE_EXPIRY_MS: integer(1000, 30 * 60_000).default(5 * 60_000),
  /** The session lifetime the worker assumes when Voice Live reports no expires_at (a test setting, mostly). */
  VOICE_LIVE_SESSION_LIFETIME_MS: integer(10_000, 60 * 60_000).default(60 * 60_000),
  /** Other agents for some called numbers (the Functions app's AGENT_PROFILE_BY_NUMBER picks one per call). */
  AGENT_PROFILES: agentProfiles().optional(),

  MEDIA_AUTH: z.enum(['acs', 'none'], { message: 'must be acs or none' }).default('acs'),
  ACS_RESOURCE_ID: guid().optional(),
  ACS_TOKEN_ISSUER: url(['https', 'http']).optional(),
  ACS_JWKS_URL: url(['https', 'http']).optional(),
  MEDIA_MAX_MESSAGE_BYTES: integer(4096, 16 * 1024 * 1024).default(65536),
  PLAYOUT_LEAD_MS: integer(40, 1000).default(160),
  MEDIA_IDLE_TIMEOUT_S: integer(0, 3600).default(30),
  DRAIN_TIMEOUT_S: integer(0, 86400).default(300),
  MAX_CALLS: integer(0, 100_000).default(0),
  MEDIA_AUDIO_CHANNEL: z.enum(['mixed', 'unmixed'], { message: 'must be mixed or unmixed' }).default('mixed'),

  APPLICATIONINSIGHTS_CONNECTION_STRING: z.string().optional(),
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: z.string().regex(/Authorization=AAD/i, 'must be Authorization=AAD, optionally with ClientId=<guid>').optional(),
  AZURE_CLIENT_ID: guid().optional(),
};

/**
 * Every environment variable the worker process reads: the relay's and call control's. Keys are the variable
 * names (the infra tests check that Bicep provides each one). Cross-field rules name the variables involved.
 */
export const workerConfigSchema = z
  .object({ ...mediaWorkerEnvShape, ...callControlEnvShape })
  .superRefine((c, ctx) => {
    checkCallControlEnv(c, ctx);
    const agent = c.VOICE_LIVE_AGENT_NAME !== undefined || c.VOICE_LIVE_AGENT_ID !== undefined || c.VOICE_LIVE_AGENT_PROJECT !== undefined;
    if (c.VOICE_LIVE_MODEL && agent) {
      ctx.addIssue({ code: 'custom', path: ['VOICE_LIVE_MODEL'], message: 'set either VOICE_LIVE_MODEL (model mode) or VOICE_LIVE_AGENT_NAME and VOICE_LIVE_AGENT_PROJECT (agent mode), not both' });
    } else if (!c.VOICE_LIVE_MODEL && !agent) {
      ctx.addIssue({ code: 'custom', path: ['VOICE_LIVE_MODEL'], message: 'required: set VOICE_LIVE_MODEL, or VOICE_LIVE_AGENT_NAME and VOICE_LIVE_AGENT_PROJECT for agent mode' });
    } else if (c.VOICE_LIVE_AGENT_NAME && c.VOICE_LIVE_AGENT_ID) {
      ctx.addIssue({ code: 'custom', path: ['VOICE_LIVE_AGENT_ID'], message: 'set VOICE_LIVE_AGENT_NAME (an agent by name) or VOICE_LIVE_AGENT_ID (a classic agent by id), not both' });
    } else if (agent && !c.VOICE_LIVE_AGENT_NAME && !c.VOICE_LIVE_AGENT_ID) {
      ctx.addIssue({ code: 'custom', path: ['VOICE_LIVE_AGENT_NAME'], message: 'required in agent mode (VOICE_LIVE_AGENT_PROJECT is set), or VOICE_LIVE_AGENT_ID for a classic agent' });
    } else if (agent && !c.VOICE_LIVE_AGENT_PROJECT) {
      ctx.addIssue({ code: 'custom', path: ['VOICE_LIVE_AGENT_PROJECT'], message: `required in agent mode (${c.VOICE_LIVE_AGENT_ID ? 'VOICE_LIVE_AGENT_ID' : 'VOICE_LIVE_AGENT_NAME'} is set)` });
    } else if (c.VOICE_LIVE_AGENT_ID && c.VOICE_LIVE_AGENT_VERSION) {
      ctx.addIssue({ code: 'custom', path: ['VOICE_LIVE_AGENT_VERSION'], message: 'applies to agents by name (VOICE_LIVE_AGENT_NAME), not to a classic agent id' });
    }
    if (c.VOICE_LIVE_API_KEY && (c.VOICE_LIVE_AGENT_NAME || c.VOICE_LIVE_AGENT_ID)) {
      ctx.addIssue({
        code: 'custom',
        path: ['VOICE_LIVE_API_KEY'],
        message: `must not be set in agent mode (${c.VOICE_LIVE_AGENT_NAME ? 'VOICE_LIVE_AGENT_NAME' : 'VOICE_LIVE_AGENT_ID'} is set): Voice Live does not support key authentication for agents; the worker uses its managed identity (AZURE_CLIENT_ID) for a Microsoft Entra token instead`,
      });
    }
    if (c.VOICE_LIVE_RENEW_BEFORE_EXPIRY_MS >= c.VOICE_LIVE_SESSION_LIFETIME_MS) {
      ctx.addIssue({ code: 'custom', path: ['VOICE_LIVE_RENEW_BEFORE_EXPIRY_MS'], message: `must be shorter than VOICE_LIVE_SESSION_LIFETIME_MS (${c.VOICE_LIVE_SESSION_LIFETIME_MS})` });
    }
    if (c.MEDIA_AUTH === 'acs' && !c.ACS_RESOURCE_ID) {
      ctx.addIssue({ code: 'custom', path: ['ACS_RESOURCE_ID'], message: 'required when MEDIA_AUTH=acs (the immutable resource id of the ACS resource, the token audience)' });
    }
    if (c.VOICE_LIVE_GREETING && c.VOICE_LIVE_GREETING_INSTRUCTION) {
      ctx.addIssue({ code: 'custom', path: ['VOICE_LIVE_GREETING'], message: 'set VOICE_LIVE_GREETING or VOICE_LIVE_GREETING_INSTRUCTION, not both' });
    }
    if (c.CALLER_GREETING && (c.VOICE_LIVE_GREETING || c.VOICE_LIVE_GREETING_INSTRUCTION)) {
      ctx.addIssue({ code: 'custom', path: ['CALLER_GREETING'], message: 'set CALLER_GREETING or VOICE_LIVE_GREETING(_INSTRUCTION), not both: the caller would be greeted twice' });
    }
    if (c.VOICE_LIVE_EOU_MODEL !== 'none' && c.VOICE_LIVE_TURN_DETECTION === 'semantic_vad') {
      ctx.addIssue({ code: 'custom', path: ['VOICE_LIVE_EOU_MODEL'], message: 'end-of-utterance detection works with the Azure VAD types and server_vad, not semantic_vad' });
    }
    if (c.VOICE_LIVE_EOU_MODEL !== 'none' && c.VOICE_LIVE_API_VERSION < '2025-10-01') {
      ctx.addIssue({ code: 'custom', path: ['VOICE_LIVE_EOU_MODEL'], message: `needs VOICE_LIVE_API_VERSION 2025-10-01 or later (${c.VOICE_LIVE_API_VERSION} used another shape for it)` });
    }
    for (const name of ['VOICE_LIVE_EOU_THRESHOLD_LEVEL', 'VOICE_LIVE_EOU_TIMEOUT_MS'] as const) {
      if (c[name] !== undefined && c.VOICE_LIVE_EOU_MODEL === 'none') {
        ctx.addIssue({ code: 'custom', path: [name], message: 'needs VOICE_LIVE_EOU_MODEL (end-of-utterance detection is off)' });
      }
    }
    if (c.VOICE_LIVE_VOICE_TYPE === 'openai') {
      for (const name of ['VOICE_LIVE_VOICE_TEMPERATURE', 'VOICE_LIVE_VOICE_RATE', 'VOICE_LIVE_VOICE_STYLE', 'VOICE_LIVE_VOICE_LOCALE'] as const) {
        if (c[name] !== undefined) ctx.addIssue({ code: 'custom', path: [name], message: 'applies to Azure voices, not VOICE_LIVE_VOICE_TYPE=openai' });
      }
    }
    if (c.VOICE_LIVE_VOICE_TYPE === 'azure-custom' && !c.VOICE_LIVE_VOICE_ENDPOINT_ID) {
      ctx.addIssue({ code: 'custom', path: ['VOICE_LIVE_VOICE_ENDPOINT_ID'], message: 'required when VOICE_LIVE_VOICE_TYPE=azure-custom' });
    }
    checkAgentProfiles(c, ctx);
  });

/** A profile's overrides against the defaults they change, reported against AGENT_PROFILES with the profile and field. */
function checkAgentProfiles(c: z.infer<z.ZodObject<typeof mediaWorkerEnvShape & typeof callControlEnvShape>>, ctx: z.RefinementCtx): void {
  for (const [name, o] of Object.entries(c.AGENT_PROFILES ?? {})) {
    const problem = (field: string, message: string) => ctx.addIssue({ code: 'custom', path: ['AGENT_PROFILES'], message: `profile "${name}", ${field}: ${message}` });
    if (c.CALLER_GREETING && (o.greeting || o.greetingInstruction)) {
      problem(o.greeting ? 'greeting' : 'greetingInstruction', 'CALLER_GREETING is set: the caller would be greeted twice');
    }
    const agentMode = o.model ? false : o.agentName !== undefined || !c.VOICE_LIVE_MODEL;
    if (o.instructions && agentMode) problem('instructions', "apply in model mode only: an agent's instructions live in Foundry (set model, or leave instructions out)");
    if (o.transcriptionLanguage && c.VOICE_LIVE_TRANSCRIPTION_MODEL.toLowerCase() === 'none') problem('transcriptionLanguage', 'VOICE_LIVE_TRANSCRIPTION_MODEL=none: there is no transcription');
    if (o.voiceType === 'azure-custom' && c.VOICE_LIVE_VOICE_TYPE !== 'azure-custom') problem('voiceType', 'azure-custom needs VOICE_LIVE_VOICE_ENDPOINT_ID, which belongs to a default azure-custom voice');
    if (o.agentName && c.VOICE_LIVE_API_KEY) {
      problem('agentName', 'an agent needs Microsoft Entra authentication and VOICE_LIVE_API_KEY is set: Voice Live does not support key authentication for agents (unset VOICE_LIVE_API_KEY; the worker then uses its managed identity, AZURE_CLIENT_ID)');
    }
  }
}

export type WorkerEnv = z.infer<typeof workerConfigSchema>;

/** One line's agent: the default settings with a profile's overrides, resolved at start-up. */
export interface AgentProfile {
  name: string;
  voiceLive: WorkerConfig['voiceLive'];
  /** The profile's own; unset = TRANSFER_TARGET (call control merges it). */
  transferTarget?: string;
  /** As written (`none` = no message); unset = OUTBOUND_VOICEMAIL_MESSAGE (call control merges it). */
  voicemailMessage?: string;
}

export type VoiceLiveTarget =
  | { kind: 'model'; model: string }
  | { kind: 'agent'; agentName: string; projectName: string; agentVersion?: string }
  /** A classic agent by id: the service also wants an Entra agent token, so a managed identity is needed even with an API key. */
  | { kind: 'agent-classic'; agentId: string; projectName: string };

export interface WorkerConfig {
  port: number;
  host: string;
  logLevel: WorkerEnv['LOG_LEVEL'];
  voiceLive: {
    endpoint: string;
    apiVersion: string;
    target: VoiceLiveTarget;
    apiKey?: string;
    /** Forced Voice Live audio rate; undefined = use the call's own rate both ways (no resampling). */
    audioRateHz?: 8000 | 16000 | 24000;
    instructions: string;
    voice: { type: WorkerEnv['VOICE_LIVE_VOICE_TYPE']; name: string; temperature?: number; endpointId?: string; rate?: string; style?: string; locale?: string };
    turnDetection: {
      type: WorkerEnv['VOICE_LIVE_TURN_DETECTION'];
      threshold?: number;
      prefixPaddingMs?: number;
      silenceDurationMs?: number;
      removeFillerWords?: boolean;
      languages?: string[];
      endOfUtterance?: {
        model: (typeof END_OF_UTTERANCE_MODELS)[number];
        thresholdLevel?: (typeof END_OF_UTTERANCE_THRESHOLD_LEVELS)[number];
        timeoutMs?: number;
      };
    };
    noiseSuppression: boolean;
    echoCancellation: boolean;
    transcription?: { model: string; language?: string };
    greeting?: { kind: 'text'; text: string } | { kind: 'generated'; instruction: string };
    /** VOICE_LIVE_RENEW_BEFORE_EXPIRY_MS; unset = the client's default (5 min). */
    renewBeforeExpiryMs?: number;
    /** VOICE_LIVE_SESSION_LIFETIME_MS; unset = the client's default (60 min). */
    assumedSessionMs?: number;
  };
  mediaAuth: { mode: 'none' } | { mode: 'acs'; audience: string; issuer?: string; jwksUrl?: string };
  maxMessageBytes: number;
  playoutLeadMs: number;
  /** A call whose ACS socket sends nothing and answers no ping for this long is ended (0: never). */
  mediaIdleTimeoutMs: number;
  drainTimeoutMs: number;
  /** Most live calls this process takes; further media sockets get 503 and readiness fails. Unset = no cap. */
  maxCalls?: number;
  /** As the Functions app answers calls (the same azd value): `unmixed` = the worker mixes the participants' frames. */
  mediaAudioChannel: 'mixed' | 'unmixed';
  applicationInsightsConnectionString?: string;
  /** `Authorization=AAD[;ClientId=…]`: telemetry sent with an Entra token (the resource has local auth off). */
  applicationInsightsAuthenticationString?: string;
  azureClientId?: string;
  /** Tools, Service Bus, Call Automation, call records (issue 5). */
  callControl: CallControlConfig;
  /** AGENT_PROFILES by name: a media socket on `/ws/<callId>/<profile>` gets that agent; empty when unset. */
  agentProfiles: ReadonlyMap<string, AgentProfile>;
}

/**
 * A profile's Voice Live settings: the defaults with its overrides. A voice name alone keeps the default voice's
 * type and tuning (temperature, rate, style, locale, endpoint); a voice of another type gets none of them.
 */
export function profileVoiceLive(defaults: WorkerConfig['voiceLive'], o: AgentProfileOverrides): WorkerConfig['voiceLive'] {
  const type = o.voiceType ?? defaults.voice.type;
  const voice = o.voiceName ? (type === defaults.voice.type ? { ...defaults.voice, name: o.voiceName } : { type, name: o.voiceName }) : defaults.voice;
  const target: VoiceLiveTarget = o.model
    ? { kind: 'model', model: o.model }
    : o.agentName && o.agentProject
      ? { kind: 'agent', agentName: o.agentName, projectName: o.agentProject }
      : defaults.target;
  const greeting = o.greeting
    ? { kind: 'text' as const, text: o.greeting }
    : o.greetingInstruction
      ? { kind: 'generated' as const, instruction: o.greetingInstruction }
      : defaults.greeting;
  const transcription = defaults.transcription && o.transcriptionLanguage ? { ...defaults.transcription, language: o.transcriptionLanguage } : defaults.transcription;
  return {
    ...defaults,
    target,
    voice,
    instructions: o.instructions ?? defaults.instructions,
    ...(greeting ? { greeting } : {}),
    ...(transcription ? { transcription } : {}),
  };
}

/** Parses and checks the worker's environment once; throws `ConfigError` naming every bad variable. */
export function loadWorkerConfig(env: Env): WorkerConfig {
  const e = parseEnv(workerConfigSchema, env);
  const semanticVad = e.VOICE_LIVE_TURN_DETECTION.startsWith('azure_semantic');
  const transcriptionOff = e.VOICE_LIVE_TRANSCRIPTION_MODEL.toLowerCase() === 'none';
  const config: Omit<WorkerConfig, 'agentProfiles'> = {
    port: e.PORT,
    host: e.HOST,
    logLevel: e.LOG_LEVEL,
    voiceLive: {
      endpoint: e.VOICE_LIVE_ENDPOINT,
      apiVersion: e.VOICE_LIVE_API_VERSION,
      target: e.VOICE_LIVE_MODEL
        ? { kind: 'model', model: e.VOICE_LIVE_MODEL }
        : e.VOICE_LIVE_AGENT_ID
          ? { kind: 'agent-classic', agentId: e.VOICE_LIVE_AGENT_ID, projectName: e.VOICE_LIVE_AGENT_PROJECT! }
          : {
              kind: 'agent',
              agentName: e.VOICE_LIVE_AGENT_NAME!,
              projectName: e.VOICE_LIVE_AGENT_PROJECT!,
              ...(e.VOICE_LIVE_AGENT_VERSION ? { agentVersion: e.VOICE_LIVE_AGENT_VERSION } : {}),
            },
      ...(e.VOICE_LIVE_API_KEY ? { apiKey: e.VOICE_LIVE_API_KEY } : {}),
      ...(e.VOICE_LIVE_AUDIO_RATE ? { audioRateHz: e.VOICE_LIVE_AUDIO_RATE } : {}),
      instructions: e.VOICE_LIVE_INSTRUCTIONS,
      voice: {
        type: e.VOICE_LIVE_VOICE_TYPE,
        name: e.VOICE_LIVE_VOICE_NAME,
        ...(e.VOICE_LIVE_VOICE_TEMPERATURE !== undefined ? { temperature: e.VOICE_LIVE_VOICE_TEMPERATURE } : {}),
        ...(e.VOICE_LIVE_VOICE_ENDPOINT_ID ? { endpointId: e.VOICE_LIVE_VOICE_ENDPOINT_ID } : {}),
        ...(e.VOICE_LIVE_VOICE_RATE !== undefined ? { rate: String(e.VOICE_LIVE_VOICE_RATE) } : {}),
        ...(e.VOICE_LIVE_VOICE_STYLE ? { style: e.VOICE_LIVE_VOICE_STYLE } : {}),
        ...(e.VOICE_LIVE_VOICE_LOCALE ? { locale: e.VOICE_LIVE_VOICE_LOCALE } : {}),
      },
      turnDetection: {
        type: e.VOICE_LIVE_TURN_DETECTION,
        ...(e.VOICE_LIVE_VAD_THRESHOLD !== undefined ? { threshold: e.VOICE_LIVE_VAD_THRESHOLD } : {}),
        ...(e.VOICE_LIVE_VAD_PREFIX_PADDING_MS !== undefined ? { prefixPaddingMs: e.VOICE_LIVE_VAD_PREFIX_PADDING_MS } : {}),
        ...(e.VOICE_LIVE_VAD_SILENCE_DURATION_MS !== undefined ? { silenceDurationMs: e.VOICE_LIVE_VAD_SILENCE_DURATION_MS } : {}),
        ...(semanticVad ? { removeFillerWords: e.VOICE_LIVE_REMOVE_FILLER_WORDS } : {}),
        ...(e.VOICE_LIVE_VAD_LANGUAGES?.length ? { languages: e.VOICE_LIVE_VAD_LANGUAGES } : {}),
        ...(e.VOICE_LIVE_EOU_MODEL !== 'none'
          ? {
              endOfUtterance: {
                model: e.VOICE_LIVE_EOU_MODEL,
                ...(e.VOICE_LIVE_EOU_THRESHOLD_LEVEL ? { thresholdLevel: e.VOICE_LIVE_EOU_THRESHOLD_LEVEL } : {}),
                ...(e.VOICE_LIVE_EOU_TIMEOUT_MS !== undefined ? { timeoutMs: e.VOICE_LIVE_EOU_TIMEOUT_MS } : {}),
              },
            }
          : {}),
      },
      noiseSuppression: e.VOICE_LIVE_NOISE_SUPPRESSION,
      echoCancellation: e.VOICE_LIVE_ECHO_CANCELLATION,
      renewBeforeExpiryMs: e.VOICE_LIVE_RENEW_BEFORE_EXPIRY_MS,
      assumedSessionMs: e.VOICE_LIVE_SESSION_LIFETIME_MS,
      ...(transcriptionOff
        ? {}
        : {
            transcription: {
              model: e.VOICE_LIVE_TRANSCRIPTION_MODEL,
              ...(e.VOICE_LIVE_TRANSCRIPTION_LANGUAGE ? { language: e.VOICE_LIVE_TRANSCRIPTION_LANGUAGE } : {}),
            },
          }),
      ...(e.VOICE_LIVE_GREETING
        ? { greeting: { kind: 'text' as const, text: e.VOICE_LIVE_GREETING } }
        : e.VOICE_LIVE_GREETING_INSTRUCTION
          ? { greeting: { kind: 'generated' as const, instruction: e.VOICE_LIVE_GREETING_INSTRUCTION } }
          : {}),
    },
    mediaAuth:
      e.MEDIA_AUTH === 'none'
        ? { mode: 'none' }
        : {
            mode: 'acs',
            audience: e.ACS_RESOURCE_ID!,
            ...(e.ACS_TOKEN_ISSUER ? { issuer: e.ACS_TOKEN_ISSUER } : {}),
            ...(e.ACS_JWKS_URL ? { jwksUrl: e.ACS_JWKS_URL } : {}),
          },
    maxMessageBytes: e.MEDIA_MAX_MESSAGE_BYTES,
    playoutLeadMs: e.PLAYOUT_LEAD_MS,
    mediaIdleTimeoutMs: e.MEDIA_IDLE_TIMEOUT_S * 1000,
    drainTimeoutMs: e.DRAIN_TIMEOUT_S * 1000,
    ...(e.MAX_CALLS > 0 ? { maxCalls: e.MAX_CALLS } : {}),
    mediaAudioChannel: e.MEDIA_AUDIO_CHANNEL,
    ...(e.APPLICATIONINSIGHTS_CONNECTION_STRING ? { applicationInsightsConnectionString: e.APPLICATIONINSIGHTS_CONNECTION_STRING } : {}),
    ...(e.APPLICATIONINSIGHTS_AUTHENTICATION_STRING ? { applicationInsightsAuthenticationString: e.APPLICATIONINSIGHTS_AUTHENTICATION_STRING } : {}),
    ...(e.AZURE_CLIENT_ID ? { azureClientId: e.AZURE_CLIENT_ID } : {}),
    callControl: callControlConfigFrom(e),
  };
  return { ...config, agentProfiles: resolveAgentProfiles(e.AGENT_PROFILES ?? {}, config.voiceLive) };
}

/** Each profile's agent: its overrides applied to the default Voice Live settings. */
export function resolveAgentProfiles(overridesByName: Readonly<Record<string, AgentProfileOverrides>>, defaults: WorkerConfig['voiceLive']): Map<string, AgentProfile> {
  const profiles = new Map<string, AgentProfile>();
  for (const [name, { transferTarget, voicemailMessage, ...overrides }] of Object.entries(overridesByName)) {
    profiles.set(name, { name, voiceLive: profileVoiceLive(defaults, overrides), ...(transferTarget ? { transferTarget } : {}), ...(voicemailMessage ? { voicemailMessage } : {}) });
  }
  return profiles;
}
