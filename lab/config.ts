import { z } from 'zod';
import { type Env, integer, parseEnv } from '../shared/config/env.js';

/**
 * Settings of `npm start` (the local lab), from the environment and from `--flags` (flags win). Every port
 * can be moved; 0 means any free port. VOICE_LIVE_* variables are passed to the worker unchanged: with
 * VOICE_LIVE_ENDPOINT set, the worker talks to the real Voice Live and everything else stays local.
 */
export const labConfigSchema = z.object({
  LAB_HOST: z.string().default('127.0.0.1'),
  LAB_PORT: integer(0, 65535).default(7000),
  FUNCTIONS_PORT: integer(0, 65535).default(7071),
  WORKER_PORT: integer(0, 65535).default(8080),
  LAB_ACS_PORT: integer(0, 65535).default(7080),
  LAB_TOKEN_ISSUER_PORT: integer(0, 65535).default(7081),
  LAB_VOICE_LIVE_PORT: integer(0, 65535).default(7090),
  LAB_SERVICEBUS_PORT: integer(0, 65535).default(5672),
  MEDIA_AUDIO_FORMAT: z.enum(['pcm16KMono', 'pcm24KMono'], { message: 'must be pcm16KMono or pcm24KMono' }).default('pcm24KMono'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('warn'),
  /** Worker replicas: 2 or more run as processes behind a stand-in for the Container Apps ingress (WORKER_PORT is then the ingress's). */
  LAB_WORKERS: integer(1, 8).default(1),
  VOICE_LIVE_ENDPOINT: z.string().optional(),
});

export type LabConfig = z.infer<typeof labConfigSchema> & {
  /** The worker's own variables (VOICE_LIVE_*, AZURE_*, call control, PLAYOUT_LEAD_MS), for its config parsers. */
  passThrough: Record<string, string>;
  /** The Functions app's routing variables (number lists, agent share, profiles by number), for its config parser. */
  functionsPassThrough: Record<string, string>;
};

const flagNames: Record<string, keyof z.infer<typeof labConfigSchema>> = {
  '--host': 'LAB_HOST',
  '--port': 'LAB_PORT',
  '--functions-port': 'FUNCTIONS_PORT',
  '--worker-port': 'WORKER_PORT',
  '--acs-port': 'LAB_ACS_PORT',
  '--token-issuer-port': 'LAB_TOKEN_ISSUER_PORT',
  '--voice-live-port': 'LAB_VOICE_LIVE_PORT',
  '--servicebus-port': 'LAB_SERVICEBUS_PORT',
  '--audio-format': 'MEDIA_AUDIO_FORMAT',
  '--log-level': 'LOG_LEVEL',
  '--workers': 'LAB_WORKERS',
};

export class UsageError extends Error {
  readonly code = 'USAGE';
}

/** Reads `--name value` / `--name=value` flags into the variables they stand for. */
export function flagsToEnv(argv: readonly string[], names: Record<string, string> = flagNames): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const variable = names[flag];
    if (!variable) throw new UsageError(`unknown option ${flag} (known: ${Object.keys(names).join(', ')})`);
    const value = inline ?? argv[++i];
    if (value === undefined) throw new UsageError(`${flag} needs a value`);
    out[variable] = value;
  }
  return out;
}

/** The worker's own settings a user may give the lab: Voice Live, Azure sign-in, call control, playout. */
const PASS_THROUGH = /^(VOICE_LIVE_|AZURE_|TRANSFER_|CALL_(MAX|CAP)_|DTMF_|TOOL_|CALLER_|PRICE_)|^(CUSTOM_TOOLS|RECORD_TRANSCRIPTS|END_CALL_TIMEOUT_MS|PLAYOUT_LEAD_MS|AGENT_PROFILES|MAX_CALLS|MEDIA_AUDIO_CHANNEL)$/;
const FUNCTIONS_PASS_THROUGH = /^(CALLED_NUMBERS_|CALLER_NUMBERS_|NOT_FOR_US_)|^(AGENT_CALL_PERCENT|AGENT_PROFILE_BY_NUMBER|CALL_REJECT_REASON|MEDIA_AUDIO_CHANNEL)$/;

export function loadLabConfig(env: Env, argv: readonly string[] = []): LabConfig {
  const merged = { ...env, ...flagsToEnv(argv) };
  const parsed = parseEnv(labConfigSchema, merged);
  const passThrough: Record<string, string> = {};
  const functionsPassThrough: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined || value.trim() === '') continue;
    if (PASS_THROUGH.test(key)) passThrough[key] = value;
    if (FUNCTIONS_PASS_THROUGH.test(key)) functionsPassThrough[key] = value;
  }
  return { ...parsed, passThrough, functionsPassThrough };
}
