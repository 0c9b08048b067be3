import type { TokenCredential } from '@azure/core-auth';
import type { WorkerConfig } from '../../shared/config/worker.js';
import type { VoiceLiveClientOptions } from './client.js';
import type { AudioRateHz, VoiceLiveSessionSettings } from './session-config.js';

type VoiceLiveConfig = WorkerConfig['voiceLive'];

/** The session a call opens (and the readiness check opens the same way): the configured agent at one rate both ways. */
export function callSessionSettings(config: VoiceLiveConfig, rateHz: AudioRateHz, metadata: Record<string, string>): VoiceLiveSessionSettings {
  return {
    ...(config.target.kind === 'model' ? { instructions: config.instructions } : {}),
    voice: config.voice,
    turnDetection: config.turnDetection,
    noiseSuppression: config.noiseSuppression,
    echoCancellation: config.echoCancellation,
    ...(config.transcription ? { transcription: config.transcription } : {}),
    inputRateHz: rateHz,
    outputRateHz: rateHz,
    metadata,
  };
}

/**
 * How the worker signs in to Voice Live: the API key (a model only) with the identity beside it, else the identity's
 * Entra token. An agent takes no API key, so it needs the identity; without one there is no way in, and why is said.
 */
export function voiceLiveAuth(config: VoiceLiveConfig, credential: TokenCredential | undefined): { auth: VoiceLiveClientOptions['auth'] } | { problem: string } {
  const auth = config.apiKey ? { apiKey: config.apiKey, ...(credential ? { credential } : {}) } : credential ? { credential } : undefined;
  if (!auth) return { problem: 'no Voice Live credential: neither VOICE_LIVE_API_KEY nor a managed identity' };
  if (config.target.kind !== 'model' && !credential) return { problem: 'no Microsoft Entra credential for the Voice Live agent (agents take no API key)' };
  return { auth };
}
