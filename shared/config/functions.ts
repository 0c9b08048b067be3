import { z } from 'zod';
import { type Env, agentProfileName, guid, integer, list, parseEnv, url } from './env.js';
import { isTimeZone, parseCallingHours } from '../calling-hours.js';

const loopbackHosts = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** For refinements that run after `url()` has already reported a value that is no URL at all. */
const parsedUrl = (value: string): URL | undefined => {
  try {
    return new URL(value);
  } catch {
    return undefined;
  }
};

/** A public URL of one of the given secure schemes; the plain scheme is accepted on loopback only (the local lab). */
const publicUrl = (secure: 'https' | 'wss', plain: 'http' | 'ws') =>
  url([secure, plain])
    .refine((value) => {
      const parsed = parsedUrl(value);
      return !parsed || parsed.protocol === `${secure}:` || loopbackHosts.has(parsed.hostname);
    }, `must be a ${secure} URL (${plain} is allowed on 127.0.0.1/localhost only)`)
    .transform((value) => value.replace(/\/+$/, ''));

/** An E.164 number or ACS raw id; an entry ending in `*` is a prefix (`+4420*`). */
const numberEntry = () =>
  z.string().regex(/^(\+\d{3,15}\*?|\+?\*|[0-9]+:[^,\s]+)$/, 'entries must be E.164 numbers (+15551234567), prefixes (+1555*) or ACS raw ids');

const numberList = () => list().pipe(z.array(numberEntry()));

/** `number=profile` pairs, numbers written as in the number lists; each number once. */
const profileByNumber = () =>
  list().transform((entries, ctx) => {
    const pairs: { number: string; profile: string }[] = [];
    entries.forEach((entry, index) => {
      const at = entry.lastIndexOf('=');
      const number = entry.slice(0, Math.max(at, 0)).trim();
      const profile = entry.slice(at + 1).trim();
      const problem =
        at < 0
          ? 'must be number=profile, e.g. +18005550100=sales'
          : (numberEntry().safeParse(number).error ?? agentProfileName().safeParse(profile).error)?.issues[0]?.message ??
            (pairs.some((p) => p.number === number) ? 'the number is mapped twice' : undefined);
      if (problem) ctx.addIssue({ code: 'custom', message: `entry ${index + 1}: ${problem}` });
      else pairs.push({ number, profile });
    });
    return pairs;
  });

/** The value of an Entra app role (what the `roles` claim carries): printable ASCII without spaces, not starting with a dot. */
const appRoleValue = () => z.string().regex(/^[\x21-\x2d\x2f-\x7e][\x21-\x7e]{0,119}$/, 'must be an app role value such as Calls.Place (no spaces, at most 120 characters)');

/** An Azure Blob container URL, without a SAS: ACS writes there with its own managed identity. */
const blobContainerUrl = () =>
  url(['https'])
    .refine((value) => {
      const parsed = parsedUrl(value);
      return !parsed || parsed.search === '' && parsed.hash === '' && /^\/[^/]+/.test(parsed.pathname);
    }, 'must be a blob container URL such as https://<account>.blob.core.windows.net/<container>, without a SAS token (ACS writes with its managed identity)')
    .transform((value) => value.replace(/\/+$/, ''));

/**
 * Every environment variable the Functions app reads. Keys are the variable names (the infra tests check
 * that Bicep provides each one). Cross-field rules are reported against the variables involved.
 */
export const functionsConfigSchema = z
  .object({
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

    ACS_ENDPOINT: url(['https']).optional(),
    ACS_CONNECTION_STRING: z
      .string()
      .regex(/endpoint=[^;]+;\s*accesskey=[^;]+/i, 'must look like endpoint=https://<resource>.communication.azure.com/;accesskey=<key>')
      .optional(),
    ACS_RESOURCE_ID: guid(),
    ACS_TOKEN_ISSUER: url(['https', 'http']).optional(),
    ACS_JWKS_URL: url(['https', 'http']).optional(),

    CALLBACK_BASE_URL: publicUrl('https', 'http'),
    WORKER_MEDIA_URL: publicUrl('wss', 'ws'),
    MEDIA_AUDIO_FORMAT: z
      .string()
      .transform((value) => value.toLowerCase())
      .pipe(z.enum(['pcm16kmono', 'pcm24kmono'], { message: 'must be pcm16KMono or pcm24KMono' }))
      .transform((value) => (value === 'pcm16kmono' ? 'pcm16KMono' : 'pcm24KMono'))
      .default('pcm24KMono'),
    /** unmixed: ACS streams up to 4 dominant speakers separately and the worker mixes them for Voice Live. */
    MEDIA_AUDIO_CHANNEL: z.enum(['mixed', 'unmixed'], { message: 'must be mixed or unmixed' }).default('mixed'),

    CALLED_NUMBERS_ALLOWED: numberList().default([]),
    CALLED_NUMBERS_DENIED: numberList().default([]),
    CALLER_NUMBERS_ALLOWED: numberList().default([]),
    CALLER_NUMBERS_DENIED: numberList().default([]),
    /** The worker's agent profile for calls to each number (the first pair that matches); unmatched calls get its default. */
    AGENT_PROFILE_BY_NUMBER: profileByNumber().default([]),
    /** Share of the calls (that pass the lists) the agent takes, for a gradual roll-out; the rest go to NOT_FOR_US_REDIRECT_TO. */
    AGENT_CALL_PERCENT: integer(0, 100).default(100),
    NOT_FOR_US_ACTION: z.enum(['reject', 'redirect'], { message: 'must be reject or redirect' }).default('reject'),
    NOT_FOR_US_REDIRECT_TO: z.string().regex(/^\+\d{6,15}$/, 'must be an E.164 number such as +15551234567').optional(),
    CALL_REJECT_REASON: z.enum(['none', 'busy', 'forbidden'], { message: 'must be none, busy or forbidden' }).default('busy'),

    SERVICEBUS_FULLY_QUALIFIED_NAMESPACE: z
      .string()
      .regex(/^[a-z0-9.-]+(:\d+)?$/i, 'must be a host name such as <namespace>.servicebus.windows.net')
      .optional(),
    SERVICEBUS_CONNECTION_STRING: z.string().regex(/Endpoint=sb:\/\/[^;]+/i, 'must look like Endpoint=sb://...;SharedAccessKeyName=...;SharedAccessKey=...').optional(),
    CALL_EVENTS_QUEUE: z.string().min(1).default('call-events'),
    PUBLISH_DEADLINE_MS: integer(100, 25_000).default(8_000),
    MEDIA_RESTART_MAX_ATTEMPTS: integer(0, 10).default(8),
    EVENTGRID_SUBSCRIPTION_NAMES: list().default([]),

    CALL_RECORDING: z.enum(['off', 'audio'], { message: 'must be off or audio' }).default('off'),
    CALL_RECORDING_CHANNEL: z.enum(['mixed', 'unmixed'], { message: 'must be mixed or unmixed' }).default('mixed'),
    /** Unset: mp3 for mixed, wav for unmixed (see `callRecordingFormat`). */
    CALL_RECORDING_FORMAT: z.enum(['wav', 'mp3'], { message: 'must be wav or mp3' }).optional(),
    CALL_RECORDING_STORAGE_URL: blobContainerUrl().optional(),

    /** Outbound calls (docs/outbound.md): the queue POST /api/calls enqueues on, and the per-call status store (a session-enabled queue: session state only). */
    OUTBOUND_CALLS_QUEUE: z.string().min(1).default('outbound-calls'),
    OUTBOUND_STATUS_QUEUE: z.string().min(1).default('outbound-call-status'),
    /** Where the record of an outbound call no attempt of which was answered goes (the worker records the others). */
    CALL_RECORDS_QUEUE: z.string().min(1).default('call-records'),
    /** The currency of those records' (zero) cost, as the worker's records give it. */
    PRICE_CURRENCY: z.string().regex(/^[A-Z]{3}$/, 'must be a 3-letter currency code').default('USD'),
    /** Our ACS numbers outbound calls may show (`from`); the first is the default. Empty: only ACS users can be called. */
    OUTBOUND_CALLER_NUMBERS: list().pipe(z.array(z.string().regex(/^\+[1-9]\d{6,14}$/, 'entries must be E.164 numbers such as +15551234567'))).default([]),
    /** Destinations outbound calls may reach, by prefix (`+44`, `+1555`, `8:acs:` for ACS users). Empty refuses every call. */
    OUTBOUND_ALLOWED_PREFIXES: list().pipe(z.array(z.string().regex(/^(\+\d{1,15}|8:acs:[^,\s]*)$/, 'entries must be + and digits (+44, +1555) or 8:acs: for ACS users'))).default([]),
    /** on: no new outbound call is accepted or placed (queued requests are refused when their turn comes). */
    OUTBOUND_KILL_SWITCH: z.enum(['on', 'off'], { message: 'must be on or off' }).default('off'),
    /** Caps on placed attempts per UTC day, across instances (counted in the status store): per destination, and in all. */
    OUTBOUND_MAX_CALLS_PER_DESTINATION_PER_DAY: integer(1, 1000).default(3),
    OUTBOUND_MAX_CALLS_PER_DAY: integer(1, 1_000_000).default(100),
    /** Attempts per outbound call: 1 places it once; more retry after busy, no answer or a failure. */
    OUTBOUND_MAX_ATTEMPTS: integer(1, 10).default(1),
    /** Spacing between attempts (the next one is a scheduled message). */
    OUTBOUND_RETRY_DELAY_MS: integer(0, 86_400_000).default(600_000),
    /** Outbound calls in progress (placed, ringing or connected) at once across all instances (slots in the status store). */
    OUTBOUND_MAX_CONCURRENT: integer(1, 10_000).default(10),
    /** With every slot taken, an attempt is scheduled again this much later. */
    OUTBOUND_CONCURRENCY_WAIT_MS: integer(100, 3_600_000).default(30_000),
    /** A slot whose release never came (a lost callback) lapses this long after the call was placed. */
    OUTBOUND_CONCURRENCY_SLOT_MAX_MS: integer(1000, 86_400_000).default(7_200_000),
    /** Days an outbound call's status is kept after its last change (GET /api/calls/{callId} answers 404 after). */
    OUTBOUND_STATUS_RETENTION_DAYS: integer(1, 3650).default(30),
    /** When calls may be placed, in the callee's local time (shared/calling-hours.ts); outside, an attempt waits for the next opening. */
    OUTBOUND_CALLING_HOURS: z
      .string()
      .default('09:00-20:00')
      .transform((text, ctx) => {
        const parsed = parseCallingHours(text);
        if (parsed.ok) return parsed.hours;
        ctx.addIssue({ code: 'custom', message: parsed.message });
        return z.NEVER;
      }),
    /** The callee's zone where the number does not tell it (ACS users, prefixes without data). */
    OUTBOUND_DEFAULT_TIME_ZONE: z.string().default('UTC').refine(isTimeZone, 'must be an IANA time zone name such as Europe/London or UTC'),
    /**
     * Microsoft Entra on POST/GET /api/calls (docs/outbound.md): set both to require an Entra access token with an app
     * role instead of the function key. Audiences: the API app's client id and/or app id URI.
     */
    OUTBOUND_AUTH_ENTRA_TENANT_ID: guid().optional(),
    OUTBOUND_AUTH_ENTRA_AUDIENCE: list()
      .pipe(z.array(z.string().regex(/^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[a-z][a-z0-9+.-]*:\S+)$/i, 'entries must be the API app\'s client id (a GUID) or app id URI (api://...)')))
      .default([]),
    OUTBOUND_AUTH_ENTRA_PLACE_ROLE: appRoleValue().default('Calls.Place'),
    OUTBOUND_AUTH_ENTRA_READ_ROLE: appRoleValue().default('Calls.Read'),
    /** Local lab only: stand-ins for https://login.microsoftonline.com and https://sts.windows.net. */
    OUTBOUND_AUTH_ENTRA_AUTHORITY_HOST: publicUrl('https', 'http').optional(),
    OUTBOUND_AUTH_ENTRA_V1_ISSUER_HOST: publicUrl('https', 'http').optional(),

    AZURE_CLIENT_ID: guid().optional(),
    APPLICATIONINSIGHTS_CONNECTION_STRING: z.string().optional(),
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING: z.string().regex(/Authorization=AAD/i, 'must be Authorization=AAD, optionally with ClientId=<guid>').optional(),
  })
  .superRefine((c, ctx) => {
    if (!c.ACS_ENDPOINT && !c.ACS_CONNECTION_STRING) {
      ctx.addIssue({ code: 'custom', path: ['ACS_ENDPOINT'], message: 'required: set ACS_ENDPOINT (managed identity) or ACS_CONNECTION_STRING (local fallback)' });
    }
    if (!c.SERVICEBUS_FULLY_QUALIFIED_NAMESPACE && !c.SERVICEBUS_CONNECTION_STRING) {
      ctx.addIssue({ code: 'custom', path: ['SERVICEBUS_FULLY_QUALIFIED_NAMESPACE'], message: 'required: set SERVICEBUS_FULLY_QUALIFIED_NAMESPACE (managed identity) or SERVICEBUS_CONNECTION_STRING (local fallback)' });
    }
    if (c.NOT_FOR_US_ACTION === 'redirect' && !c.NOT_FOR_US_REDIRECT_TO) {
      ctx.addIssue({ code: 'custom', path: ['NOT_FOR_US_REDIRECT_TO'], message: 'required when NOT_FOR_US_ACTION=redirect' });
    }
    if (c.AGENT_CALL_PERCENT < 100 && c.NOT_FOR_US_ACTION !== 'redirect') {
      ctx.addIssue({
        code: 'custom',
        path: ['AGENT_CALL_PERCENT'],
        message: 'below 100 needs NOT_FOR_US_ACTION=redirect and NOT_FOR_US_REDIRECT_TO (the line that takes the other calls); otherwise they would be rejected',
      });
    }
    if (c.OUTBOUND_AUTH_ENTRA_TENANT_ID && c.OUTBOUND_AUTH_ENTRA_AUDIENCE.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['OUTBOUND_AUTH_ENTRA_AUDIENCE'], message: "required when OUTBOUND_AUTH_ENTRA_TENANT_ID is set: the API app's client id (and app id URI)" });
    }
    if (!c.OUTBOUND_AUTH_ENTRA_TENANT_ID && c.OUTBOUND_AUTH_ENTRA_AUDIENCE.length > 0) {
      ctx.addIssue({ code: 'custom', path: ['OUTBOUND_AUTH_ENTRA_TENANT_ID'], message: 'required when OUTBOUND_AUTH_ENTRA_AUDIENCE is set: the tenant whose tokens are accepted' });
    }
    if (c.CALL_RECORDING_CHANNEL === 'unmixed' && c.CALL_RECORDING_FORMAT === 'mp3') {
      ctx.addIssue({
        code: 'custom',
        path: ['CALL_RECORDING_FORMAT'],
        message: 'mp3 is for mixed recordings only: ACS writes unmixed audio (one channel per participant) as wav; set wav, or CALL_RECORDING_CHANNEL=mixed',
      });
    }
  });

export type FunctionsConfig = z.infer<typeof functionsConfigSchema>;
export type MediaAudioFormat = FunctionsConfig['MEDIA_AUDIO_FORMAT'];
export type MediaAudioChannel = FunctionsConfig['MEDIA_AUDIO_CHANNEL'];

/** The recording format: as set, else what ACS allows for the channel (mp3 mixed, wav unmixed). */
export function callRecordingFormat(config: Pick<FunctionsConfig, 'CALL_RECORDING_CHANNEL' | 'CALL_RECORDING_FORMAT'>): 'wav' | 'mp3' {
  return config.CALL_RECORDING_FORMAT ?? (config.CALL_RECORDING_CHANNEL === 'unmixed' ? 'wav' : 'mp3');
}

/** Parses the Functions app's settings once at start-up; throws `ConfigError` naming every bad variable. */
export function loadFunctionsConfig(env: Env = process.env): FunctionsConfig {
  return parseEnv(functionsConfigSchema, env);
}
