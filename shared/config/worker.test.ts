import { existsSync, readFileSync, readdirSync } from 'node:fs';
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

  it('refuses an API key in agent mode, naming both variables: Voice Live does not support key authentication for agents', () => {
    const agent = { VOICE_LIVE_ENDPOINT: base.VOICE_LIVE_ENDPOINT, ACS_RESOURCE_ID: base.ACS_RESOURCE_ID, VOICE_LIVE_AGENT_PROJECT: 'contoso', VOICE_LIVE_API_KEY: 'k' };
    expect(problems({ ...agent, VOICE_LIVE_AGENT_NAME: 'receptionist' })).toEqual([expect.stringMatching(/^VOICE_LIVE_API_KEY: must not be set in agent mode \(VOICE_LIVE_AGENT_NAME is set\).*AZURE_CLIENT_ID/)]);
    expect(problems({ ...agent, VOICE_LIVE_AGENT_ID: 'asst_1' })).toEqual([expect.stringMatching(/^VOICE_LIVE_API_KEY: .*VOICE_LIVE_AGENT_ID is set/)]);
    expect(problems({ ...base, VOICE_LIVE_API_KEY: 'k', AGENT_PROFILES: JSON.stringify({ support: { agentName: 'helpdesk', agentProject: 'contoso' } }) })).toEqual([
      expect.stringMatching(/^AGENT_PROFILES: profile "support", agentName: .*VOICE_LIVE_API_KEY is set/),
    ]);
    expect(problems({ ...base, VOICE_LIVE_API_KEY: 'k' })).toEqual([]);
  });

  it('offers the session renewal lead and the assumed session lifetime as tuning settings, the lead shorter than the lifetime', () => {
    expect(loadWorkerConfig(base).voiceLive).toMatchObject({ renewBeforeExpiryMs: 300_000, assumedSessionMs: 3_600_000 });
    expect(loadWorkerConfig({ ...base, VOICE_LIVE_RENEW_BEFORE_EXPIRY_MS: '4000', VOICE_LIVE_SESSION_LIFETIME_MS: '60000' }).voiceLive).toMatchObject({
      renewBeforeExpiryMs: 4000,
      assumedSessionMs: 60_000,
    });
    expect(problems({ ...base, VOICE_LIVE_RENEW_BEFORE_EXPIRY_MS: '60000', VOICE_LIVE_SESSION_LIFETIME_MS: '60000' })).toEqual([
      expect.stringMatching(/^VOICE_LIVE_RENEW_BEFORE_EXPIRY_MS: must be shorter than VOICE_LIVE_SESSION_LIFETIME_MS/),
    ]);
    expect(problems({ ...base, VOICE_LIVE_RENEW_BEFORE_EXPIRY_MS: '10' })[0]).toMatch(/^VOICE_LIVE_RENEW_BEFORE_EXPIRY_MS: /);
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

  it('documents every variable in .env.sample, and the relay\'s in the README or the pages under docs/', () => {
    const sample = readFileSync(join(__dirname, '../../.env.sample'), 'utf8');
    const docsDir = join(__dirname, '../../docs');
    const pages = existsSync(docsDir) ? readdirSync(docsDir).filter((f) => f.endsWith('.md')).map((f) => readFileSync(join(docsDir, f), 'utf8')) : [];
    const documentation = [readFileSync(join(__dirname, '../../README.md'), 'utf8'), ...pages].join('\n');
    for (const key of Object.keys(workerConfigSchema.shape)) expect(sample, key).toMatch(new RegExp(`^${key}=`, 'm'));
    for (const key of Object.keys(mediaWorkerEnvShape)) expect(documentation, key).toContain(`\`${key}\``);
  });

  describe('outbound calls (listen first, voicemail)', () => {
    it('listens 5 s, waits for 1.5 s of quiet (at most 30 s) and leaves no message by default; no status queue', () => {
      expect(loadWorkerConfig(base).callControl.outbound).toEqual({ listenFirstSilenceMs: 5000, voicemailQuietMs: 1500, voicemailMaxWaitMs: 30_000 });
    });

    it('reads the message (none = no message) and the status queue', () => {
      const outbound = (env: Record<string, string>) => loadWorkerConfig({ ...base, ...env }).callControl.outbound;
      expect(outbound({ OUTBOUND_VOICEMAIL_MESSAGE: 'Hi {name}, call us back.', OUTBOUND_STATUS_QUEUE: 'outbound-call-status' })).toMatchObject({
        voicemailMessage: 'Hi {name}, call us back.',
        statusQueue: 'outbound-call-status',
      });
      expect(outbound({ OUTBOUND_VOICEMAIL_MESSAGE: 'None' }).voicemailMessage).toBeUndefined();
    });

    it('refuses a listen-first silence of 0 (wait forever) or beyond a minute, and a maximum wait not above the quiet time, naming the variable', () => {
      expect(problems({ ...base, OUTBOUND_LISTEN_FIRST_SILENCE_MS: '0' })).toEqual(['OUTBOUND_LISTEN_FIRST_SILENCE_MS: must be at least 1000']);
      expect(problems({ ...base, OUTBOUND_LISTEN_FIRST_SILENCE_MS: '90000' })).toEqual(['OUTBOUND_LISTEN_FIRST_SILENCE_MS: must be at most 60000']);
      expect(problems({ ...base, OUTBOUND_VOICEMAIL_QUIET_MS: '2000', OUTBOUND_VOICEMAIL_MAX_WAIT_MS: '2000' })).toEqual([
        'OUTBOUND_VOICEMAIL_MAX_WAIT_MS: must be longer than OUTBOUND_VOICEMAIL_QUIET_MS (2000)',
      ]);
      expect(problems({ ...base, OUTBOUND_VOICEMAIL_QUIET_MS: 'soon' })).toEqual(['OUTBOUND_VOICEMAIL_QUIET_MS: must be a whole number']);
    });
  });

  describe('agent profiles (AGENT_PROFILES)', () => {
    const profiles = (value: unknown, env: Record<string, string> = {}) => ({ ...base, ...env, AGENT_PROFILES: JSON.stringify(value) });

    it("keeps a profile's voicemailMessage as written (none included) for call control, and checks it", () => {
      const config = loadWorkerConfig(profiles({ reminders: { voicemailMessage: 'Hi {name}.' }, quiet: { voicemailMessage: 'none' } }));
      expect(config.agentProfiles.get('reminders')?.voicemailMessage).toBe('Hi {name}.');
      expect(config.agentProfiles.get('quiet')?.voicemailMessage).toBe('none');
      expect(problems(profiles({ reminders: { voicemailMessage: '' } }))).toEqual([expect.stringMatching(/^AGENT_PROFILES: profile "reminders", voicemailMessage: must not be empty/)]);
    });

    it('has none by default', () => {
      expect(loadWorkerConfig(base).agentProfiles.size).toBe(0);
    });

    it('resolves each profile at start-up: the default settings with its overrides, the rest unchanged', () => {
      const config = loadWorkerConfig(
        profiles(
          {
            sales: { instructions: 'You sell.', voiceName: 'en-US-Andrew:DragonHDLatestNeural', greeting: 'Sales, hello!', transcriptionLanguage: 'en-GB', transferTarget: '+15550002222' },
            support: { agentName: 'helpdesk', agentProject: 'contoso', greetingInstruction: 'Greet briefly.', voiceType: 'openai', voiceName: 'alloy' },
            counted: {},
          },
          { VOICE_LIVE_VOICE_STYLE: 'cheerful', TRANSFER_TARGET: '+15550001111', VOICE_LIVE_GREETING: 'Hello!' },
        ),
      );
      expect([...config.agentProfiles.keys()]).toEqual(['sales', 'support', 'counted']);
      const sales = config.agentProfiles.get('sales')!;
      expect(sales).toMatchObject({ name: 'sales', transferTarget: '+15550002222' });
      expect(sales.voiceLive).toEqual({
        ...config.voiceLive,
        instructions: 'You sell.',
        // A name alone keeps the default voice's type and tuning.
        voice: { type: 'azure-standard', name: 'en-US-Andrew:DragonHDLatestNeural', style: 'cheerful' },
        greeting: { kind: 'text', text: 'Sales, hello!' },
        transcription: { model: 'azure-speech', language: 'en-GB' },
      });
      const support = config.agentProfiles.get('support')!;
      // Unset: call control transfers to TRANSFER_TARGET.
      expect(support.transferTarget).toBeUndefined();
      expect(support.voiceLive.target).toEqual({ kind: 'agent', agentName: 'helpdesk', projectName: 'contoso' });
      expect(support.voiceLive.voice).toEqual({ type: 'openai', name: 'alloy' });
      expect(support.voiceLive.greeting).toEqual({ kind: 'generated', instruction: 'Greet briefly.' });
      expect(config.agentProfiles.get('counted')).toEqual({ name: 'counted', voiceLive: config.voiceLive });
      // The default agent is untouched.
      expect(config.voiceLive.instructions).not.toBe('You sell.');
      expect(config.voiceLive.greeting).toEqual({ kind: 'text', text: 'Hello!' });
    });

    it('a model-mode profile of an agent-mode worker uses the model', () => {
      const { VOICE_LIVE_MODEL: _model, ...noModel } = base;
      const config = loadWorkerConfig({ ...noModel, VOICE_LIVE_AGENT_NAME: 'a', VOICE_LIVE_AGENT_PROJECT: 'p', AGENT_PROFILES: JSON.stringify({ plain: { model: 'gpt-realtime-mini', instructions: 'Be brief.' } }) });
      expect(config.agentProfiles.get('plain')!.voiceLive).toMatchObject({ target: { kind: 'model', model: 'gpt-realtime-mini' }, instructions: 'Be brief.' });
    });

    it('refuses what is not a JSON object of profiles, naming AGENT_PROFILES', () => {
      expect(problems({ ...base, AGENT_PROFILES: '{sales: {}}' })).toEqual([expect.stringMatching(/^AGENT_PROFILES: must be a JSON object such as/)]);
      expect(problems({ ...base, AGENT_PROFILES: '["sales"]' })).toEqual([expect.stringMatching(/^AGENT_PROFILES: must be a JSON object of profiles by name/)]);
      expect(problems(profiles({ sales: 'friendly' }))).toEqual(['AGENT_PROFILES: profile "sales": must be an object of overrides']);
    });

    it('names the profile and the field of each bad value', () => {
      expect(problems(profiles({ Sales: {} }))).toEqual([expect.stringMatching(/^AGENT_PROFILES: profile "Sales": profile names are 1-32 lowercase/)]);
      expect(problems(profiles({ sales: { voice: 'alloy' } }))).toEqual([expect.stringMatching(/^AGENT_PROFILES: profile "sales": unknown field voice \(a profile may set instructions, /)]);
      expect(problems(profiles({ sales: { instructions: '  ' } }))).toEqual(['AGENT_PROFILES: profile "sales", instructions: must not be empty']);
      expect(problems(profiles({ sales: { voiceName: 42 } }))).toEqual(['AGENT_PROFILES: profile "sales", voiceName: must be text']);
      expect(problems(profiles({ sales: { voiceType: 'robot', voiceName: 'x' } }))[0]).toMatch(/^AGENT_PROFILES: profile "sales", voiceType: /);
      // The same rule as TRANSFER_TARGET.
      expect(problems(profiles({ sales: { transferTarget: '5550002222' } }))).toEqual([
        'AGENT_PROFILES: profile "sales", transferTarget: must be an E.164 number (+15551234567) or an ACS raw id (8:acs:...)',
      ]);
    });

    it('holds a profile to the rules of the variables it overrides: one target kind, one greeting, a voice name with a type', () => {
      expect(problems(profiles({ s: { model: 'm', agentName: 'a', agentProject: 'p' } }))).toEqual(['AGENT_PROFILES: profile "s", model: set either model or agentName and agentProject, not both']);
      expect(problems(profiles({ s: { agentName: 'a' } }))).toEqual(['AGENT_PROFILES: profile "s", agentProject: required with agentName']);
      expect(problems(profiles({ s: { agentProject: 'p' } }))).toEqual(['AGENT_PROFILES: profile "s", agentName: required with agentProject']);
      expect(problems(profiles({ s: { greeting: 'Hi', greetingInstruction: 'Greet' } }))).toEqual(['AGENT_PROFILES: profile "s", greeting: set greeting or greetingInstruction, not both']);
      expect(problems(profiles({ s: { voiceType: 'openai' } }))).toEqual(['AGENT_PROFILES: profile "s", voiceName: required with voiceType']);
    });

    it('refuses overrides the defaults make meaningless: a second greeting, instructions for an agent, a language without transcription, a custom voice without its endpoint', () => {
      expect(problems(profiles({ s: { greeting: 'Hi' } }, { CALLER_GREETING: 'Hello {name}' }))).toEqual(['AGENT_PROFILES: profile "s", greeting: CALLER_GREETING is set: the caller would be greeted twice']);
      expect(problems(profiles({ s: { agentName: 'a', agentProject: 'p', instructions: 'Be brief.' } }))[0]).toMatch(/^AGENT_PROFILES: profile "s", instructions: apply in model mode only/);
      const { VOICE_LIVE_MODEL: _model, ...noModel } = base;
      expect(problems({ ...noModel, VOICE_LIVE_AGENT_NAME: 'a', VOICE_LIVE_AGENT_PROJECT: 'p', AGENT_PROFILES: JSON.stringify({ s: { instructions: 'Be brief.' } }) })[0]).toMatch(
        /^AGENT_PROFILES: profile "s", instructions: apply in model mode only/,
      );
      expect(problems(profiles({ s: { transcriptionLanguage: 'fr-FR' } }, { VOICE_LIVE_TRANSCRIPTION_MODEL: 'none' }))).toEqual([
        'AGENT_PROFILES: profile "s", transcriptionLanguage: VOICE_LIVE_TRANSCRIPTION_MODEL=none: there is no transcription',
      ]);
      expect(problems(profiles({ s: { voiceType: 'azure-custom', voiceName: 'v' } }))[0]).toMatch(/^AGENT_PROFILES: profile "s", voiceType: azure-custom needs VOICE_LIVE_VOICE_ENDPOINT_ID/);
    });
  });

  it('parses call control with the rest and names its cross-field problems', () => {
    expect(loadWorkerConfig(base).callControl.callEventsQueue).toBe('call-events');
    expect(problems({ ...base, CALL_CAP_ACTION: 'transfer' })[0]).toMatch(/^TRANSFER_TARGET: required when CALL_CAP_ACTION=transfer/);
    expect(problems({ ...base, CALLER_GREETING: 'Hello {name}', VOICE_LIVE_GREETING: 'Hello' })).toEqual([expect.stringMatching(/^CALLER_GREETING: .*not both/)]);
  });
});
