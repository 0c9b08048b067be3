import { z } from 'zod';
import { END_OF_UTTERANCE_MODELS, END_OF_UTTERANCE_THRESHOLD_LEVELS } from '../../shared/config/worker.js';

export type VoiceType = 'azure-standard' | 'azure-custom' | 'openai' | 'azure-realtime-native';
export type TurnDetectionType = 'azure_semantic_vad' | 'azure_semantic_vad_en' | 'azure_semantic_vad_multilingual' | 'server_vad' | 'semantic_vad';

/** Azure semantic end-of-utterance detection: decides from what was said whether the caller has finished. */
export interface EndOfUtteranceDetection {
  model: (typeof END_OF_UTTERANCE_MODELS)[number];
  thresholdLevel?: (typeof END_OF_UTTERANCE_THRESHOLD_LEVELS)[number];
  timeoutMs?: number;
}
export type AudioRateHz = 16000 | 24000 | 8000;

export interface VoiceLiveSessionSettings {
  /** Omitted in agent mode: the agent's instructions live in Foundry. */
  instructions?: string;
  voice: { type: VoiceType; name: string; temperature?: number; endpointId?: string; rate?: string; style?: string; locale?: string };
  turnDetection: {
    type: TurnDetectionType;
    threshold?: number;
    prefixPaddingMs?: number;
    silenceDurationMs?: number;
    removeFillerWords?: boolean;
    eagerness?: string;
    /** Not for `semantic_vad` (OpenAI's own turn detection has none). */
    endOfUtterance?: EndOfUtteranceDetection;
    languages?: string[];
  };
  noiseSuppression: boolean;
  echoCancellation: boolean;
  /** undefined = no input transcription. */
  transcription?: { model: string; language?: string };
  inputRateHz: AudioRateHz;
  outputRateHz: AudioRateHz;
  tools?: { type: 'function'; name: string; description: string; parameters: Record<string, unknown> }[];
  metadata?: Record<string, string>;
}

const rate = z.union([z.literal(16000), z.literal(24000), z.literal(8000)]);

/** Validates settings; the issue path names the offending field. */
export const voiceLiveSessionSettingsSchema = z.object({
  instructions: z.string().optional(),
  voice: z
    .object({
      type: z.enum(['azure-standard', 'azure-custom', 'openai', 'azure-realtime-native']),
      name: z.string().min(1),
      temperature: z.number().min(0).max(1).optional(),
      endpointId: z.string().min(1).optional(),
      rate: z.string().optional(),
      style: z.string().optional(),
      locale: z.string().optional(),
    })
    .refine((voice) => voice.type !== 'azure-custom' || voice.endpointId !== undefined, {
      message: 'an azure-custom voice needs endpointId',
      path: ['endpointId'],
    }),
  turnDetection: z.object({
    type: z.enum(['azure_semantic_vad', 'azure_semantic_vad_en', 'azure_semantic_vad_multilingual', 'server_vad', 'semantic_vad']),
    threshold: z.number().min(0).max(1).optional(),
    prefixPaddingMs: z.number().int().min(0).optional(),
    silenceDurationMs: z.number().int().min(0).optional(),
    removeFillerWords: z.boolean().optional(),
    eagerness: z.string().optional(),
    endOfUtterance: z
      .object({
        model: z.enum(END_OF_UTTERANCE_MODELS),
        thresholdLevel: z.enum(END_OF_UTTERANCE_THRESHOLD_LEVELS).optional(),
        timeoutMs: z.number().int().positive().optional(),
      })
      .optional(),
    languages: z.array(z.string()).optional(),
  }),
  noiseSuppression: z.boolean(),
  echoCancellation: z.boolean(),
  transcription: z.object({ model: z.string().min(1), language: z.string().optional() }).optional(),
  inputRateHz: rate,
  outputRateHz: rate,
  tools: z
    .array(
      z.object({
        type: z.literal('function'),
        name: z.string().min(1),
        description: z.string(),
        parameters: z.record(z.string(), z.unknown()),
      }),
    )
    .optional(),
  metadata: z
    .record(z.string().max(64), z.string().max(512))
    .refine((m) => Object.keys(m).length <= 16, 'at most 16 metadata pairs')
    .optional(),
});

const outputFormats: Record<AudioRateHz, string> = {
  24000: 'pcm16',
  16000: 'pcm16_16000hz',
  8000: 'pcm16_8000hz',
};

/** The `output_audio_format` that yields PCM16 at this rate. */
export function outputAudioFormat(rateHz: AudioRateHz): string {
  return outputFormats[rateHz];
}

/** The `session.update` event, in the snake_case wire form (only fields that are set are sent). */
export function buildSessionUpdate(settings: VoiceLiveSessionSettings): { type: 'session.update'; session: Record<string, unknown> } {
  const session: Record<string, unknown> = { modalities: ['text', 'audio'] };
  if (settings.instructions !== undefined) session.instructions = settings.instructions;

  const { voice } = settings;
  session.voice = compact({
    type: voice.type,
    name: voice.name,
    temperature: voice.temperature,
    endpoint_id: voice.endpointId,
    rate: voice.rate,
    style: voice.style,
    locale: voice.locale,
  });

  session.input_audio_format = 'pcm16';
  session.input_audio_sampling_rate = settings.inputRateHz;
  session.output_audio_format = outputAudioFormat(settings.outputRateHz);

  const td = settings.turnDetection;
  const azureSemantic = td.type === 'azure_semantic_vad' || td.type === 'azure_semantic_vad_en' || td.type === 'azure_semantic_vad_multilingual';
  session.turn_detection = compact({
    type: td.type,
    threshold: td.type === 'semantic_vad' ? undefined : td.threshold,
    prefix_padding_ms: td.type === 'semantic_vad' ? undefined : td.prefixPaddingMs,
    silence_duration_ms: td.type === 'semantic_vad' ? undefined : td.silenceDurationMs,
    remove_filler_words: azureSemantic ? td.removeFillerWords : undefined,
    eagerness: td.type === 'semantic_vad' ? td.eagerness : undefined,
    languages: td.type === 'azure_semantic_vad_multilingual' ? td.languages : undefined,
    // The wire shape of the GA API versions and the SDK (threshold_level, timeout_ms), not 2025-05-01-preview's.
    end_of_utterance_detection:
      td.endOfUtterance && td.type !== 'semantic_vad'
        ? compact({ model: td.endOfUtterance.model, threshold_level: td.endOfUtterance.thresholdLevel, timeout_ms: td.endOfUtterance.timeoutMs })
        : undefined,
    // The relay truncates to what the caller actually heard (it knows ACS buffering; the service does not).
    interrupt_response: true,
    create_response: true,
    auto_truncate: false,
  });

  if (settings.noiseSuppression) session.input_audio_noise_reduction = { type: 'azure_deep_noise_suppression' };
  if (settings.echoCancellation) session.input_audio_echo_cancellation = { type: 'server_echo_cancellation' };
  if (settings.transcription) session.input_audio_transcription = compact({ ...settings.transcription });
  if (settings.tools && settings.tools.length > 0) {
    session.tools = settings.tools.map((tool) => ({ ...tool }));
    session.tool_choice = 'auto';
  }
  if (settings.metadata && Object.keys(settings.metadata).length > 0) session.metadata = { ...settings.metadata };
  return { type: 'session.update', session };
}

function compact(record: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(record)) if (value !== undefined) out[key] = value;
  return out;
}
