import { describe, expect, it } from 'vitest';
import { buildSessionUpdate, voiceLiveSessionSettingsSchema, type VoiceLiveSessionSettings } from './session-config.js';

const base: VoiceLiveSessionSettings = {
  instructions: 'Be brief.',
  voice: { type: 'azure-standard', name: 'en-US-Ava:DragonHDLatestNeural', temperature: 0.8 },
  turnDetection: { type: 'azure_semantic_vad', threshold: 0.5, prefixPaddingMs: 300, silenceDurationMs: 500, removeFillerWords: true, endOfUtterance: { model: 'semantic_detection_v1', thresholdLevel: 'low', timeoutMs: 2000 } },
  noiseSuppression: true,
  echoCancellation: true,
  transcription: { model: 'azure-speech', language: 'en-US' },
  inputRateHz: 16000,
  outputRateHz: 16000,
  tools: [{ type: 'function', name: 'end_call', description: 'Hang up', parameters: { type: 'object', properties: {} } }],
  metadata: { callId: 'c1' },
};

describe('buildSessionUpdate', () => {
  it('produces the snake_case phone configuration at 16 kHz both ways', () => {
    expect(buildSessionUpdate(base)).toEqual({
      type: 'session.update',
      session: {
        modalities: ['text', 'audio'],
        instructions: 'Be brief.',
        voice: { type: 'azure-standard', name: 'en-US-Ava:DragonHDLatestNeural', temperature: 0.8 },
        input_audio_format: 'pcm16',
        input_audio_sampling_rate: 16000,
        output_audio_format: 'pcm16_16000hz',
        turn_detection: {
          type: 'azure_semantic_vad',
          threshold: 0.5,
          prefix_padding_ms: 300,
          silence_duration_ms: 500,
          remove_filler_words: true,
          end_of_utterance_detection: { model: 'semantic_detection_v1', threshold_level: 'low', timeout_ms: 2000 },
          interrupt_response: true,
          create_response: true,
          auto_truncate: false,
        },
        input_audio_noise_reduction: { type: 'azure_deep_noise_suppression' },
        input_audio_echo_cancellation: { type: 'server_echo_cancellation' },
        input_audio_transcription: { model: 'azure-speech', language: 'en-US' },
        tools: [{ type: 'function', name: 'end_call', description: 'Hang up', parameters: { type: 'object', properties: {} } }],
        tool_choice: 'auto',
        metadata: { callId: 'c1' },
      },
    });
  });

  it('maps each output rate to its wire format and leaves off what is disabled', () => {
    const { instructions: _i, transcription: _t, tools: _tools, metadata: _m, ...rest } = base;
    const session = buildSessionUpdate({ ...rest, noiseSuppression: false, echoCancellation: false, inputRateHz: 24000, outputRateHz: 24000 }).session;
    expect(session.output_audio_format).toBe('pcm16');
    expect(session.input_audio_sampling_rate).toBe(24000);
    for (const key of ['instructions', 'input_audio_transcription', 'tools', 'tool_choice', 'metadata', 'input_audio_noise_reduction', 'input_audio_echo_cancellation']) {
      expect(session).not.toHaveProperty(key);
    }
    expect(buildSessionUpdate({ ...base, outputRateHz: 8000 }).session.output_audio_format).toBe('pcm16_8000hz');
  });

  it('sends only the parameters each VAD type and voice type accepts', () => {
    const semantic = buildSessionUpdate({ ...base, turnDetection: { type: 'semantic_vad', eagerness: 'high', threshold: 0.5, removeFillerWords: true } }).session;
    expect(semantic.turn_detection).toEqual({ type: 'semantic_vad', eagerness: 'high', interrupt_response: true, create_response: true, auto_truncate: false });
    const eouModelOnly = buildSessionUpdate({ ...base, turnDetection: { type: 'server_vad', endOfUtterance: { model: 'semantic_detection_v1_multilingual' } } }).session;
    expect(eouModelOnly.turn_detection).toMatchObject({ type: 'server_vad', end_of_utterance_detection: { model: 'semantic_detection_v1_multilingual' } });
    const semanticWithEou = buildSessionUpdate({ ...base, turnDetection: { type: 'semantic_vad', endOfUtterance: { model: 'semantic_detection_v1' } } }).session;
    expect(semanticWithEou.turn_detection).not.toHaveProperty('end_of_utterance_detection');
    const english = buildSessionUpdate({ ...base, turnDetection: { type: 'azure_semantic_vad_en', removeFillerWords: false } }).session;
    expect(english.turn_detection).toMatchObject({ type: 'azure_semantic_vad_en', remove_filler_words: false });
    const multilingual = buildSessionUpdate({ ...base, turnDetection: { type: 'azure_semantic_vad_multilingual', languages: ['en', 'fr'] } }).session;
    expect(multilingual.turn_detection).toMatchObject({ languages: ['en', 'fr'] });
    const custom = buildSessionUpdate({ ...base, voice: { type: 'azure-custom', name: 'MyVoice', endpointId: 'ep-1', rate: '1.1', style: 'cheerful' } }).session;
    expect(custom.voice).toEqual({ type: 'azure-custom', name: 'MyVoice', endpoint_id: 'ep-1', rate: '1.1', style: 'cheerful' });
  });

  it('rejects a custom voice without an endpoint id', () => {
    const result = voiceLiveSessionSettingsSchema.safeParse({ ...base, voice: { type: 'azure-custom', name: 'x' } });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path).toEqual(['voice', 'endpointId']);
  });
});
