// What the Voice Live emulator refuses in a `session.update`. Sources and guesses are listed in
// docs/fidelity/voice-live.md; the error's code and message wording are the emulator's (the service's exact
// wording is not documented), its type and param follow the documented `error` event.

export interface SessionUpdateRefusal {
  code: string;
  message: string;
  /** Dotted path of the offending field, e.g. `session.input_audio_sampling_rate`. */
  param: string;
}

export interface SessionState {
  /** Caller audio was appended already: the input format and rate are fixed from then on. */
  audioAppended: boolean;
  /** The voice has spoken already: it can no longer change. */
  voiceUsed: boolean;
}

const INPUT_FORMATS = ['pcm16', 'g711_ulaw', 'g711_alaw'];
const OUTPUT_FORMATS = ['pcm16', 'pcm16_8000hz', 'pcm16_16000hz', 'g711_ulaw', 'g711_alaw'];
/** How-to "Audio input": 16000 and 24000 for pcm16 (the SDK's comment also names 8000: unconfirmed, refused here). */
const PCM16_INPUT_RATES = [16000, 24000];
const MODALITIES = ['text', 'audio', 'animation', 'avatar'];
const OPENAI_VOICES = ['alloy', 'ash', 'ballad', 'coral', 'echo', 'sage', 'shimmer', 'verse', 'marin', 'cedar'];
const REALTIME_NATIVE_VOICES = ['aarti', 'andrew', 'ava', 'denise', 'diya', 'elsa', 'florian', 'francisca', 'meera', 'ximena', 'xiaoxiao', 'yunxi'];
const PERSONAL_VOICE_MODELS = ['DragonLatestNeural', 'DragonHDOmniLatestNeural', 'PhoenixLatestNeural', 'PhoenixV2Neural', 'MAI-Voice-1'];
/**
 * An Azure neural voice name: locale, name, "Neural" (optionally a `:DragonHD...` variant), e.g.
 * `en-US-AvaNeural`, `en-US-Ava:DragonHDLatestNeural`, `zh-CN-Xiaoxiao:DragonHDFlashLatestNeural`. The emulator
 * has no voice list: a name of another shape is refused, a well-formed unknown name is accepted (unknown).
 */
const AZURE_VOICE_NAME = /^[a-z]{2,3}-[A-Z]{2}(-[A-Za-z]+)?-[A-Za-z0-9]+(Neural|:[A-Za-z0-9]+Neural)$/;
const TURN_DETECTION_TYPES = ['server_vad', 'azure_semantic_vad', 'azure_semantic_vad_en', 'azure_semantic_vad_multilingual', 'semantic_vad'];
const TRANSCRIPTION_MODELS = ['whisper-1', 'gpt-4o-transcribe', 'gpt-4o-mini-transcribe', 'gpt-4o-transcribe-diarize', 'azure-speech', 'mai-transcribe', 'mai-transcribe-2'];
const TOOL_CHOICES = ['auto', 'none', 'required'];
const EOU_MODELS = ['semantic_detection_v1', 'semantic_detection_v1_en', 'semantic_detection_v1_multilingual', 'smart_end_of_turn_detection'];

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const list = (values: readonly (string | number)[]): string => values.map((v) => `'${v}'`).join(', ');

function invalid(param: string, message: string): SessionUpdateRefusal {
  return { code: 'invalid_value', message, param: `session.${param}` };
}

/** Why the service would refuse this update, or undefined if it takes it. `current` is the effective session. */
export function refuseSessionUpdate(current: Record<string, unknown>, update: Record<string, unknown>, state: SessionState): SessionUpdateRefusal | undefined {
  return (
    checkAudioFormats(current, update, state) ??
    checkModalities(update) ??
    checkVoice(current, update, state) ??
    checkTurnDetection(update) ??
    checkTranscription(update) ??
    checkTools(update) ??
    checkNumbers(update)
  );
}

function checkAudioFormats(current: Record<string, unknown>, update: Record<string, unknown>, state: SessionState): SessionUpdateRefusal | undefined {
  const format = update.input_audio_format ?? current.input_audio_format;
  if (update.input_audio_format !== undefined && !INPUT_FORMATS.includes(String(update.input_audio_format))) {
    return invalid('input_audio_format', `Invalid value: '${String(update.input_audio_format)}'. Supported values are: ${list(INPUT_FORMATS)}.`);
  }
  if (update.input_audio_sampling_rate !== undefined) {
    const rate = update.input_audio_sampling_rate;
    const allowed = format === 'pcm16' ? PCM16_INPUT_RATES : [8000];
    if (typeof rate !== 'number' || !allowed.includes(rate)) {
      return invalid('input_audio_sampling_rate', `Invalid value: ${JSON.stringify(rate)}. Supported values for ${String(format)} are: ${allowed.join(', ')}.`);
    }
  }
  if (state.audioAppended) {
    for (const field of ['input_audio_format', 'input_audio_sampling_rate'] as const) {
      if (update[field] !== undefined && update[field] !== current[field]) {
        return invalid(field, `${field} cannot be changed once audio has been appended to the session.`);
      }
    }
  }
  if (update.output_audio_format !== undefined && !OUTPUT_FORMATS.includes(String(update.output_audio_format))) {
    return invalid('output_audio_format', `Invalid value: '${String(update.output_audio_format)}'. Supported values are: ${list(OUTPUT_FORMATS)}.`);
  }
  return undefined;
}

function checkModalities(update: Record<string, unknown>): SessionUpdateRefusal | undefined {
  const modalities = update.modalities;
  if (modalities === undefined) return undefined;
  if (!Array.isArray(modalities) || modalities.length === 0 || modalities.some((m) => !MODALITIES.includes(String(m)))) {
    return invalid('modalities', `Invalid modalities: ${JSON.stringify(modalities)}. Supported values are: ${list(MODALITIES)}.`);
  }
  if (modalities.includes('audio') && !modalities.includes('text')) return invalid('modalities', "Invalid modalities: ['audio'] alone is not supported; use ['text', 'audio'].");
  return undefined;
}

function checkVoice(current: Record<string, unknown>, update: Record<string, unknown>, state: SessionState): SessionUpdateRefusal | undefined {
  const voice = update.voice;
  if (voice === undefined) return undefined;
  if (state.voiceUsed && JSON.stringify(voice) !== JSON.stringify(current.voice)) {
    return { code: 'invalid_value', message: 'Cannot update a voice once the assistant has responded with audio.', param: 'session.voice' };
  }
  if (typeof voice === 'string') {
    return OPENAI_VOICES.includes(voice) ? undefined : invalid('voice', `Invalid voice: '${voice}'. Supported OpenAI voices are: ${list(OPENAI_VOICES)}.`);
  }
  if (!isRecord(voice)) return invalid('voice', 'voice must be a string or an object.');
  const name = typeof voice.name === 'string' ? voice.name : '';
  switch (voice.type) {
    case 'openai':
      return OPENAI_VOICES.includes(name) ? undefined : invalid('voice.name', `Invalid voice: '${name}'. Supported OpenAI voices are: ${list(OPENAI_VOICES)}.`);
    case 'azure-standard':
    case 'azure-custom': {
      if (!AZURE_VOICE_NAME.test(name)) return invalid('voice.name', `Voice '${name}' is not a valid Azure voice name.`);
      if (voice.type === 'azure-custom' && (typeof voice.endpoint_id !== 'string' || voice.endpoint_id.length === 0)) {
        return invalid('voice.endpoint_id', 'endpoint_id is required for an azure-custom voice.');
      }
      const temperature = voice.temperature;
      if (temperature !== undefined && (typeof temperature !== 'number' || temperature < 0 || temperature > 1)) {
        return invalid('voice.temperature', `Invalid voice temperature ${JSON.stringify(temperature)}: expected 0 to 1.`);
      }
      return undefined;
    }
    case 'azure-personal':
      if (!name) return invalid('voice.name', 'name is required for an azure-personal voice.');
      return PERSONAL_VOICE_MODELS.includes(String(voice.model)) ? undefined : invalid('voice.model', `Invalid personal voice model '${String(voice.model)}'.`);
    case 'azure-realtime-native':
      return REALTIME_NATIVE_VOICES.includes(name) ? undefined : invalid('voice.name', `Invalid voice: '${name}'. Supported voices are: ${list(REALTIME_NATIVE_VOICES)}.`);
    default:
      return invalid('voice.type', `Invalid voice type '${String(voice.type)}'.`);
  }
}

function checkTurnDetection(update: Record<string, unknown>): SessionUpdateRefusal | undefined {
  const td = update.turn_detection;
  if (td === undefined || td === null) return undefined;
  if (!isRecord(td)) return invalid('turn_detection', 'turn_detection must be an object or null.');
  if (!TURN_DETECTION_TYPES.includes(String(td.type))) {
    return invalid('turn_detection.type', `Invalid turn_detection type '${String(td.type)}'. Supported values are: ${list(TURN_DETECTION_TYPES)}.`);
  }
  const threshold = td.threshold;
  // 2026-04-10 reference: [0.01, 1.0).
  if (threshold !== undefined && (typeof threshold !== 'number' || threshold < 0.01 || threshold >= 1)) {
    return invalid('turn_detection.threshold', `Invalid threshold ${JSON.stringify(threshold)}: expected a number in [0.01, 1.0).`);
  }
  for (const field of ['prefix_padding_ms', 'silence_duration_ms', 'speech_duration_ms']) {
    const value = td[field];
    if (value !== undefined && (typeof value !== 'number' || !Number.isInteger(value) || value < 0)) {
      return invalid(`turn_detection.${field}`, `Invalid ${field} ${JSON.stringify(value)}: expected a non-negative integer.`);
    }
  }
  const eou = td.end_of_utterance_detection;
  if (eou !== undefined && eou !== null && (!isRecord(eou) || !EOU_MODELS.includes(String(eou.model)))) {
    return invalid('turn_detection.end_of_utterance_detection.model', `Invalid end_of_utterance_detection model. Supported values are: ${list(EOU_MODELS)}.`);
  }
  return undefined;
}

function checkTranscription(update: Record<string, unknown>): SessionUpdateRefusal | undefined {
  const transcription = update.input_audio_transcription;
  if (transcription === undefined || transcription === null) return undefined;
  if (!isRecord(transcription) || !TRANSCRIPTION_MODELS.includes(String(transcription.model))) {
    const model = isRecord(transcription) ? String(transcription.model) : JSON.stringify(transcription);
    return invalid('input_audio_transcription.model', `Invalid transcription model '${model}'. Supported values are: ${list(TRANSCRIPTION_MODELS)}.`);
  }
  return undefined;
}

function checkTools(update: Record<string, unknown>): SessionUpdateRefusal | undefined {
  if (update.tools !== undefined) {
    if (!Array.isArray(update.tools)) return invalid('tools', 'tools must be an array.');
    for (const [index, tool] of update.tools.entries()) {
      if (!isRecord(tool)) return invalid(`tools[${index}]`, 'A tool must be an object.');
      if (tool.type === 'function' && (typeof tool.name !== 'string' || tool.name.length === 0)) return invalid(`tools[${index}].name`, 'A function tool needs a name.');
      if (!['function', 'mcp', 'foundry_agent'].includes(String(tool.type))) return invalid(`tools[${index}].type`, `Invalid tool type '${String(tool.type)}'.`);
    }
  }
  const choice = update.tool_choice;
  if (choice !== undefined && !(typeof choice === 'string' ? TOOL_CHOICES.includes(choice) : isRecord(choice) && choice.type === 'function' && typeof choice.name === 'string')) {
    return invalid('tool_choice', `Invalid tool_choice ${JSON.stringify(choice)}.`);
  }
  return undefined;
}

function checkNumbers(update: Record<string, unknown>): SessionUpdateRefusal | undefined {
  const max = update.max_response_output_tokens;
  if (max !== undefined && max !== 'inf' && (typeof max !== 'number' || !Number.isInteger(max) || max < 1 || max > 4096)) {
    return invalid('max_response_output_tokens', `Invalid max_response_output_tokens ${JSON.stringify(max)}: expected 1 to 4096 or 'inf'.`);
  }
  const temperature = update.temperature;
  // The reference's range; the SDK's comment says 0-1 (the docs win: see the fidelity page).
  if (temperature !== undefined && (typeof temperature !== 'number' || temperature < 0.6 || temperature > 1.2)) {
    return invalid('temperature', `Invalid temperature ${JSON.stringify(temperature)}: expected 0.6 to 1.2.`);
  }
  return undefined;
}
