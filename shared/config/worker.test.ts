import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from './env.js';
import { loadWorkerConfig, mediaWorkerEnvShape, workerConfigSchema } from './worker.js';

const base = { VOICE_LIVE_ENDPOINT: 'https://res.services.ai.azure.com', VOICE_LIVE_MODEL: 'gpt-realtime', ACS_RESOURCE_ID: '6d5a3b2c-1111-4222-8333-444455556666' };

function problems(env: Record<string, string>): string[] {
  try {
    loadWorkerConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems.map((p) => `${p.variable}: ${p.message}`);
  }
  return [];
}

describe('worker configuration', () => {
  it('applies phone-friendly defaults in model mode', () => {
    const config = loadWorkerConfig(base);
    expect(config.port).toBe(8080);
    expect(config.voiceLive.target).toEqual({ kind: 'model', model: 'gpt-realtime' });
    expect(config.voiceLive.apiVersion).toBe('2026-07-15');
    expect(config.voiceLive.audioRateHz).toBeUndefined();
    expect(config.voiceLive.turnDetection).toEqual({ type: 'azure_semantic_vad', removeFillerWords: true });
    expect(config.voiceLive.transcription).toEqual({ model: 'azure-speech' });
    expect(config.mediaAuth).toEqual({ mode: 'acs', audience: base.ACS_RESOURCE_ID });
    expect(config.drainTimeoutMs).toBe(300_000);
    expect(config.playoutLeadMs).toBe(160);
  });

  it('reads agent mode, a forced Voice Live rate, a greeting and local auth', () => {
    const config = loadWorkerConfig({
      VOICE_LIVE_ENDPOINT: 'http://127.0.0.1:9000',
      VOICE_LIVE_AGENT_NAME: 'receptionist',
      VOICE_LIVE_AGENT_PROJECT: 'contoso',
      VOICE_LIVE_AUDIO_RATE: '24000',
      VOICE_LIVE_GREETING: 'Hello!',
      VOICE_LIVE_TRANSCRIPTION_MODEL: 'none',
      MEDIA_AUTH: 'none',
    });
    expect(config.voiceLive.target).toEqual({ kind: 'agent', agentName: 'receptionist', projectName: 'contoso' });
    expect(config.voiceLive.audioRateHz).toBe(24000);
    expect(config.voiceLive.greeting).toEqual({ kind: 'text', text: 'Hello!' });
    expect(config.voiceLive.transcription).toBeUndefined();
    expect(config.mediaAuth).toEqual({ mode: 'none' });
  });

  it('reads end-of-utterance detection and refuses its settings where they cannot apply', () => {
    const config = loadWorkerConfig({ ...base, VOICE_LIVE_EOU_MODEL: 'semantic_detection_v1_multilingual', VOICE_LIVE_EOU_THRESHOLD_LEVEL: 'high', VOICE_LIVE_EOU_TIMEOUT_MS: '1500' });
    expect(config.voiceLive.turnDetection.endOfUtterance).toEqual({ model: 'semantic_detection_v1_multilingual', thresholdLevel: 'high', timeoutMs: 1500 });
    expect(problems({ ...base, VOICE_LIVE_EOU_MODEL: 'semantic_detection_v1', VOICE_LIVE_TURN_DETECTION: 'semantic_vad' })).toEqual([expect.stringMatching(/^VOICE_LIVE_EOU_MODEL: .*not semantic_vad/)]);
    expect(problems({ ...base, VOICE_LIVE_EOU_MODEL: 'semantic_detection_v1', VOICE_LIVE_API_VERSION: '2025-05-01-preview' })).toEqual([expect.stringMatching(/^VOICE_LIVE_EOU_MODEL: needs VOICE_LIVE_API_VERSION 2025-10-01 or later/)]);
    expect(problems({ ...base, VOICE_LIVE_EOU_TIMEOUT_MS: '1500' })).toEqual([expect.stringMatching(/^VOICE_LIVE_EOU_TIMEOUT_MS: needs VOICE_LIVE_EOU_MODEL/)]);
    expect(problems({ ...base, VOICE_LIVE_EOU_MODEL: 'semantic_detection_v2' })[0]).toMatch(/^VOICE_LIVE_EOU_MODEL: /);
  });

  it('reads a classic agent by id, which cannot be combined with an agent name or version', () => {
    const { VOICE_LIVE_MODEL: _model, ...noModel } = base;
    expect(loadWorkerConfig({ ...noModel, VOICE_LIVE_AGENT_ID: 'asst_123', VOICE_LIVE_AGENT_PROJECT: 'contoso' }).voiceLive.target).toEqual({ kind: 'agent-classic', agentId: 'asst_123', projectName: 'contoso' });
    expect(problems({ ...noModel, VOICE_LIVE_AGENT_ID: 'asst_123' })).toEqual([expect.stringMatching(/^VOICE_LIVE_AGENT_PROJECT: required in agent mode \(VOICE_LIVE_AGENT_ID is set\)/)]);
    expect(problems({ ...noModel, VOICE_LIVE_AGENT_ID: 'asst_123', VOICE_LIVE_AGENT_NAME: 'r', VOICE_LIVE_AGENT_PROJECT: 'p' })[0]).toMatch(/^VOICE_LIVE_AGENT_ID: .*not both/);
    expect(problems({ ...noModel, VOICE_LIVE_AGENT_ID: 'asst_123', VOICE_LIVE_AGENT_PROJECT: 'p', VOICE_LIVE_AGENT_VERSION: '2' })[0]).toMatch(/^VOICE_LIVE_AGENT_VERSION: /);
  });

  it('reads Azure voice prosody and locale, and refuses them for OpenAI voices', () => {
    const config = loadWorkerConfig({ ...base, VOICE_LIVE_VOICE_RATE: '1.1', VOICE_LIVE_VOICE_STYLE: 'cheerful', VOICE_LIVE_VOICE_LOCALE: 'en-GB', VOICE_LIVE_VOICE_TEMPERATURE: '0.7' });
    expect(config.voiceLive.voice).toEqual({ type: 'azure-standard', name: 'en-US-Ava:DragonHDLatestNeural', temperature: 0.7, rate: '1.1', style: 'cheerful', locale: 'en-GB' });
    expect(problems({ ...base, VOICE_LIVE_VOICE_TYPE: 'openai', VOICE_LIVE_VOICE_NAME: 'alloy', VOICE_LIVE_VOICE_STYLE: 'cheerful' })).toEqual([expect.stringMatching(/^VOICE_LIVE_VOICE_STYLE: applies to Azure voices/)]);
    expect(problems({ ...base, VOICE_LIVE_VOICE_TEMPERATURE: '1.5' })[0]).toMatch(/^VOICE_LIVE_VOICE_TEMPERATURE: /);
    expect(problems({ ...base, VOICE_LIVE_VOICE_LOCALE: 'English' })[0]).toMatch(/^VOICE_LIVE_VOICE_LOCALE: must be a BCP-47 locale/);
  });

  it('caps live calls only when MAX_CALLS is above 0', () => {
    expect(loadWorkerConfig(base).maxCalls).toBeUndefined();
    expect(loadWorkerConfig({ ...base, MAX_CALLS: '0' }).maxCalls).toBeUndefined();
    expect(loadWorkerConfig({ ...base, MAX_CALLS: '120' }).maxCalls).toBe(120);
    expect(problems({ ...base, MAX_CALLS: 'lots' })).toEqual(['MAX_CALLS: must be a whole number']);
  });

  it('refuses model and agent mode together, naming the variables', () => {
    expect(problems({ ...base, VOICE_LIVE_AGENT_NAME: 'a', VOICE_LIVE_AGENT_PROJECT: 'p' }).join('\n')).toMatch(/VOICE_LIVE_MODEL: .*VOICE_LIVE_AGENT_NAME/);
  });

  it('requires a model or an agent', () => {
    expect(problems({ VOICE_LIVE_ENDPOINT: base.VOICE_LIVE_ENDPOINT, MEDIA_AUTH: 'none' })[0]).toMatch(/^VOICE_LIVE_MODEL: required/);
  });

  it('requires both agent name and project', () => {
    expect(problems({ ...base, VOICE_LIVE_MODEL: '', VOICE_LIVE_AGENT_NAME: 'a' })[0]).toMatch(/^VOICE_LIVE_AGENT_PROJECT: required/);
  });

  it('requires ACS_RESOURCE_ID when MEDIA_AUTH=acs', () => {
    expect(problems({ ...base, ACS_RESOURCE_ID: '' })[0]).toMatch(/^ACS_RESOURCE_ID: required when MEDIA_AUTH=acs/);
  });

  it('names each wrong value', () => {
    const found = problems({ ...base, PORT: 'x', VOICE_LIVE_AUDIO_RATE: '44100', MEDIA_AUTH: 'maybe', VOICE_LIVE_ENDPOINT: 'ftp://x' }).join('\n');
    expect(found).toContain('PORT: must be a whole number');
    expect(found).toContain('VOICE_LIVE_AUDIO_RATE: must be 8000, 16000 or 24000');
    expect(found).toContain('MEDIA_AUTH: must be acs or none');
    expect(found).toContain('VOICE_LIVE_ENDPOINT: must be a https or http URL');
  });

  it('lists every variable as a schema key', () => {
    expect(Object.keys(workerConfigSchema.shape)).toEqual(
      expect.arrayContaining(['PORT', 'VOICE_LIVE_ENDPOINT', 'VOICE_LIVE_API_KEY', 'VOICE_LIVE_MODEL', 'VOICE_LIVE_API_VERSION', 'VOICE_LIVE_AGENT_NAME', 'VOICE_LIVE_AGENT_PROJECT', 'VOICE_LIVE_AUDIO_RATE', 'MEDIA_AUTH', 'ACS_RESOURCE_ID', 'DRAIN_TIMEOUT_S', 'APPLICATIONINSIGHTS_CONNECTION_STRING', 'AZURE_CLIENT_ID', 'LOG_LEVEL']),
    );
  });

  it('documents every variable in .env.sample, and the relay\'s in the README', () => {
    const sample = readFileSync(join(__dirname, '../../.env.sample'), 'utf8');
    const readme = readFileSync(join(__dirname, '../../README.md'), 'utf8');
    for (const key of Object.keys(workerConfigSchema.shape)) expect(sample, key).toMatch(new RegExp(`^${key}=`, 'm'));
    for (const key of Object.keys(mediaWorkerEnvShape)) expect(readme, key).toContain(`\`${key}\``);
  });

  it('parses call control with the rest and names its cross-field problems', () => {
    expect(loadWorkerConfig(base).callControl.callEventsQueue).toBe('call-events');
    expect(problems({ ...base, CALL_CAP_ACTION: 'transfer' })[0]).toMatch(/^TRANSFER_TARGET: required when CALL_CAP_ACTION=transfer/);
    expect(problems({ ...base, CALLER_GREETING: 'Hello {name}', VOICE_LIVE_GREETING: 'Hello' })).toEqual([expect.stringMatching(/^CALLER_GREETING: .*not both/)]);
  });
});
