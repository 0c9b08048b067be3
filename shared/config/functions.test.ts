import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError } from './env.js';
import { callRecordingFormat, functionsConfigSchema, loadFunctionsConfig } from './functions.js';

const minimal = {
  ACS_ENDPOINT: 'https://acs-demo.communication.azure.com',
  ACS_RESOURCE_ID: '6f1b3d2a-9c4e-4b7a-8e21-5d0c7a9f4b13',
  CALLBACK_BASE_URL: 'https://func-demo.azurewebsites.net/',
  WORKER_MEDIA_URL: 'wss://worker.example.net/ws',
  SERVICEBUS_FULLY_QUALIFIED_NAMESPACE: 'sb-demo.servicebus.windows.net',
};

const problems = (env: Record<string, string>) => {
  try {
    loadFunctionsConfig(env);
    return [];
  } catch (error) {
    return (error as ConfigError).problems.map((p) => p.variable);
  }
};

describe('Functions configuration', () => {
  it('parses the managed-identity settings with defaults', () => {
    expect(loadFunctionsConfig(minimal)).toMatchObject({
      CALLBACK_BASE_URL: 'https://func-demo.azurewebsites.net',
      MEDIA_AUDIO_FORMAT: 'pcm24KMono',
      CALL_EVENTS_QUEUE: 'call-events',
      NOT_FOR_US_ACTION: 'reject',
      MEDIA_RESTART_MAX_ATTEMPTS: 8,
      CALLED_NUMBERS_ALLOWED: [],
    });
    expect(loadFunctionsConfig({ ...minimal, MEDIA_AUDIO_FORMAT: 'Pcm16KMono' }).MEDIA_AUDIO_FORMAT).toBe('pcm16KMono');
  });

  it('streams mixed audio unless MEDIA_AUDIO_CHANNEL=unmixed; anything else is refused naming the variable', () => {
    expect(loadFunctionsConfig(minimal).MEDIA_AUDIO_CHANNEL).toBe('mixed');
    expect(loadFunctionsConfig({ ...minimal, MEDIA_AUDIO_CHANNEL: 'unmixed' }).MEDIA_AUDIO_CHANNEL).toBe('unmixed');
    expect(problems({ ...minimal, MEDIA_AUDIO_CHANNEL: 'stereo' })).toEqual(['MEDIA_AUDIO_CHANNEL']);
    expect(() => loadFunctionsConfig({ ...minimal, MEDIA_AUDIO_CHANNEL: 'stereo' })).toThrow('MEDIA_AUDIO_CHANNEL: must be mixed or unmixed');
  });

  it('names each missing or wrong variable', () => {
    expect(problems({})).toEqual(expect.arrayContaining(['ACS_RESOURCE_ID', 'CALLBACK_BASE_URL', 'WORKER_MEDIA_URL']));
    expect(problems({ ...minimal, ACS_ENDPOINT: '' })).toEqual(['ACS_ENDPOINT']);
    expect(problems({ ...minimal, SERVICEBUS_FULLY_QUALIFIED_NAMESPACE: '' })).toEqual(['SERVICEBUS_FULLY_QUALIFIED_NAMESPACE']);
    expect(problems({ ...minimal, CALLBACK_BASE_URL: 'http://func.example.net' })).toEqual(['CALLBACK_BASE_URL']);
    expect(problems({ ...minimal, WORKER_MEDIA_URL: 'ws://127.0.0.1:8080/ws' })).toEqual([]);
    expect(problems({ ...minimal, NOT_FOR_US_ACTION: 'redirect' })).toEqual(['NOT_FOR_US_REDIRECT_TO']);
    // A share below 100 sends the other calls somewhere: never to a rejection.
    expect(problems({ ...minimal, AGENT_CALL_PERCENT: '25' })).toEqual(['AGENT_CALL_PERCENT']);
    expect(problems({ ...minimal, AGENT_CALL_PERCENT: '25', NOT_FOR_US_ACTION: 'redirect', NOT_FOR_US_REDIRECT_TO: '+15550001234' })).toEqual([]);
    expect(problems({ ...minimal, AGENT_CALL_PERCENT: '101' })).toEqual(['AGENT_CALL_PERCENT']);
    expect(problems({ ...minimal, CALLED_NUMBERS_ALLOWED: '+18331234567, 555' })).toEqual(['CALLED_NUMBERS_ALLOWED']);
    expect(problems({ ...minimal, MEDIA_AUDIO_FORMAT: 'pcm8KMono' })).toEqual(['MEDIA_AUDIO_FORMAT']);
    expect(problems({ ...minimal, CALLBACK_BASE_URL: 'func.example.net' })).toEqual(['CALLBACK_BASE_URL']);
  });

  describe('call recording', () => {
    it('is off unless asked for; mixed mp3 by default, wav by default when unmixed', () => {
      const off = loadFunctionsConfig(minimal);
      expect(off).toMatchObject({ CALL_RECORDING: 'off', CALL_RECORDING_CHANNEL: 'mixed' });
      expect(off.CALL_RECORDING_STORAGE_URL).toBeUndefined();
      expect(callRecordingFormat(off)).toBe('mp3');
      expect(callRecordingFormat(loadFunctionsConfig({ ...minimal, CALL_RECORDING: 'audio', CALL_RECORDING_CHANNEL: 'unmixed' }))).toBe('wav');
      expect(callRecordingFormat(loadFunctionsConfig({ ...minimal, CALL_RECORDING: 'audio', CALL_RECORDING_FORMAT: 'wav' }))).toBe('wav');
    });

    it('takes a blob container URL for bring-your-own-storage, trailing slash trimmed', () => {
      const config = loadFunctionsConfig({ ...minimal, CALL_RECORDING: 'audio', CALL_RECORDING_STORAGE_URL: 'https://strec.blob.core.windows.net/recordings/' });
      expect(config.CALL_RECORDING_STORAGE_URL).toBe('https://strec.blob.core.windows.net/recordings');
    });

    it('names the variable of each impossible recording setting', () => {
      expect(problems({ ...minimal, CALL_RECORDING: 'video' })).toEqual(['CALL_RECORDING']);
      expect(problems({ ...minimal, CALL_RECORDING_CHANNEL: 'stereo' })).toEqual(['CALL_RECORDING_CHANNEL']);
      expect(problems({ ...minimal, CALL_RECORDING_FORMAT: 'mp4' })).toEqual(['CALL_RECORDING_FORMAT']);
      // ACS writes unmixed audio as wav only.
      expect(problems({ ...minimal, CALL_RECORDING: 'audio', CALL_RECORDING_CHANNEL: 'unmixed', CALL_RECORDING_FORMAT: 'mp3' })).toEqual(['CALL_RECORDING_FORMAT']);
      for (const bad of ['http://strec.blob.core.windows.net/recordings', 'https://strec.blob.core.windows.net/', 'https://strec.blob.core.windows.net/recordings?sv=2024&sig=abc', 'recordings']) {
        expect(problems({ ...minimal, CALL_RECORDING_STORAGE_URL: bad })).toEqual(['CALL_RECORDING_STORAGE_URL']);
      }
    });
  });

  describe('agent profiles by called number (AGENT_PROFILE_BY_NUMBER)', () => {
    const messages = (env: Record<string, string>) => {
      try {
        loadFunctionsConfig(env);
        return [];
      } catch (error) {
        return (error as ConfigError).problems.map((p) => `${p.variable}: ${p.message}`);
      }
    };

    it('is empty by default, and reads number=profile pairs of numbers, prefixes and raw ids in order', () => {
      expect(loadFunctionsConfig(minimal).AGENT_PROFILE_BY_NUMBER).toEqual([]);
      const config = loadFunctionsConfig({ ...minimal, AGENT_PROFILE_BY_NUMBER: ' +18005550100=sales, +4420*=uk_support ,8:acs:res_user=vip-1' });
      expect(config.AGENT_PROFILE_BY_NUMBER).toEqual([
        { number: '+18005550100', profile: 'sales' },
        { number: '+4420*', profile: 'uk_support' },
        { number: '8:acs:res_user', profile: 'vip-1' },
      ]);
    });

    it('names the variable and the entry of each bad pair: no profile, a bad number, a bad profile name, a number twice', () => {
      expect(messages({ ...minimal, AGENT_PROFILE_BY_NUMBER: '+18005550100' })).toEqual(['AGENT_PROFILE_BY_NUMBER: entry 1: must be number=profile, e.g. +18005550100=sales']);
      expect(messages({ ...minimal, AGENT_PROFILE_BY_NUMBER: '+18005550100=sales,555=support' })).toEqual([expect.stringMatching(/^AGENT_PROFILE_BY_NUMBER: entry 2: entries must be E\.164 numbers/)]);
      for (const name of ['Sales', '', '-sales', 'sales line', 'a'.repeat(33), 'sales/x']) {
        expect(messages({ ...minimal, AGENT_PROFILE_BY_NUMBER: `+18005550100=${name}` }), name).toEqual([expect.stringMatching(/^AGENT_PROFILE_BY_NUMBER: entry 1: profile names are 1-32 lowercase/)]);
      }
      expect(messages({ ...minimal, AGENT_PROFILE_BY_NUMBER: '+18005550100=sales,+18005550100=support' })).toEqual(['AGENT_PROFILE_BY_NUMBER: entry 2: the number is mapped twice']);
    });
  });

  it('calling hours default to 09:00-20:00 every day in the callee zone (UTC where unknown); a bad window or zone is refused naming the variable', () => {
    const config = loadFunctionsConfig(minimal);
    expect(config.OUTBOUND_CALLING_HOURS).toEqual([{ days: new Set([0, 1, 2, 3, 4, 5, 6]), startMinute: 540, endMinute: 1200 }]);
    expect(config.OUTBOUND_DEFAULT_TIME_ZONE).toBe('UTC');
    expect(loadFunctionsConfig({ ...minimal, OUTBOUND_CALLING_HOURS: 'always' }).OUTBOUND_CALLING_HOURS).toBe('always');
    expect(loadFunctionsConfig({ ...minimal, OUTBOUND_CALLING_HOURS: 'Mon-Fri 08:30-12:00, Mon-Fri 13:00-18:00' }).OUTBOUND_CALLING_HOURS).toHaveLength(2);
    expect(problems({ ...minimal, OUTBOUND_CALLING_HOURS: '9 to 5' })).toEqual(['OUTBOUND_CALLING_HOURS']);
    expect(() => loadFunctionsConfig({ ...minimal, OUTBOUND_CALLING_HOURS: '21:00-08:00' })).toThrow('OUTBOUND_CALLING_HOURS: a window must end after it starts, the same day (none over midnight) (window 1: 21:00-08:00)');
    expect(problems({ ...minimal, OUTBOUND_DEFAULT_TIME_ZONE: 'Europe/Atlantis' })).toEqual(['OUTBOUND_DEFAULT_TIME_ZONE']);
    expect(loadFunctionsConfig({ ...minimal, OUTBOUND_DEFAULT_TIME_ZONE: 'Europe/London' }).OUTBOUND_DEFAULT_TIME_ZONE).toBe('Europe/London');
  });

  describe('Microsoft Entra on the outbound API', () => {
    const tenant = '72f988bf-86f1-41af-91ab-2d7cd011db47';
    it('is off by default, with the default role names', () => {
      expect(loadFunctionsConfig(minimal)).toMatchObject({ OUTBOUND_AUTH_ENTRA_AUDIENCE: [], OUTBOUND_AUTH_ENTRA_PLACE_ROLE: 'Calls.Place', OUTBOUND_AUTH_ENTRA_READ_ROLE: 'Calls.Read' });
      expect(loadFunctionsConfig(minimal).OUTBOUND_AUTH_ENTRA_TENANT_ID).toBeUndefined();
    });
    it('takes a tenant with the client id and app id URI as audiences', () => {
      const config = loadFunctionsConfig({ ...minimal, OUTBOUND_AUTH_ENTRA_TENANT_ID: tenant, OUTBOUND_AUTH_ENTRA_AUDIENCE: '6e74172b-be56-4843-9ff4-e66a39bb12e3, api://voice-agent-calls' });
      expect(config.OUTBOUND_AUTH_ENTRA_AUDIENCE).toEqual(['6e74172b-be56-4843-9ff4-e66a39bb12e3', 'api://voice-agent-calls']);
    });
    it('names the missing half and each bad value', () => {
      expect(problems({ ...minimal, OUTBOUND_AUTH_ENTRA_TENANT_ID: tenant })).toEqual(['OUTBOUND_AUTH_ENTRA_AUDIENCE']);
      expect(problems({ ...minimal, OUTBOUND_AUTH_ENTRA_AUDIENCE: 'api://x' })).toEqual(['OUTBOUND_AUTH_ENTRA_TENANT_ID']);
      expect(problems({ ...minimal, OUTBOUND_AUTH_ENTRA_TENANT_ID: 'contoso.onmicrosoft.com', OUTBOUND_AUTH_ENTRA_AUDIENCE: 'api://x' })).toEqual(['OUTBOUND_AUTH_ENTRA_TENANT_ID']);
      expect(problems({ ...minimal, OUTBOUND_AUTH_ENTRA_TENANT_ID: tenant, OUTBOUND_AUTH_ENTRA_AUDIENCE: 'my api' })).toEqual(['OUTBOUND_AUTH_ENTRA_AUDIENCE']);
      expect(problems({ ...minimal, OUTBOUND_AUTH_ENTRA_PLACE_ROLE: 'Calls Place', OUTBOUND_AUTH_ENTRA_READ_ROLE: '.Read' })).toEqual(['OUTBOUND_AUTH_ENTRA_PLACE_ROLE', 'OUTBOUND_AUTH_ENTRA_READ_ROLE']);
      expect(problems({ ...minimal, OUTBOUND_AUTH_ENTRA_AUTHORITY_HOST: 'http://login.example.com' })).toEqual(['OUTBOUND_AUTH_ENTRA_AUTHORITY_HOST']);
    });
  });

  it('OUTBOUND_MAX_CONCURRENT defaults to 10 calls in progress, a full set is tried again after 30 s, a lost release lapses after 2 h', () => {
    expect(loadFunctionsConfig(minimal)).toMatchObject({ OUTBOUND_MAX_CONCURRENT: 10, OUTBOUND_CONCURRENCY_WAIT_MS: 30_000, OUTBOUND_CONCURRENCY_SLOT_MAX_MS: 7_200_000 });
    expect(problems({ ...minimal, OUTBOUND_MAX_CONCURRENT: '0' })).toEqual(['OUTBOUND_MAX_CONCURRENT']);
    expect(problems({ ...minimal, OUTBOUND_CONCURRENCY_WAIT_MS: '10' })).toEqual(['OUTBOUND_CONCURRENCY_WAIT_MS']);
    expect(problems({ ...minimal, OUTBOUND_CONCURRENCY_SLOT_MAX_MS: 'an hour' })).toEqual(['OUTBOUND_CONCURRENCY_SLOT_MAX_MS']);
  });

  it('keeps outbound statuses 30 days by default; a retention below a day is refused naming the variable', () => {
    expect(loadFunctionsConfig(minimal).OUTBOUND_STATUS_RETENTION_DAYS).toBe(30);
    expect(loadFunctionsConfig({ ...minimal, OUTBOUND_STATUS_RETENTION_DAYS: '7' }).OUTBOUND_STATUS_RETENTION_DAYS).toBe(7);
    expect(problems({ ...minimal, OUTBOUND_STATUS_RETENTION_DAYS: '0' })).toEqual(['OUTBOUND_STATUS_RETENTION_DAYS']);
  });

  it('local.settings.sample.json lists every setting and nothing unknown', () => {
    const sample = JSON.parse(readFileSync(new URL('../../local.settings.sample.json', `file://${__filename}`), 'utf8')) as { Values: Record<string, string> };
    // The outbound-calls trigger's connection (functions/index.ts) is read by the Functions host, not by our schema.
    const hostSettings = ['FUNCTIONS_WORKER_RUNTIME', 'AzureWebJobsStorage', 'SERVICEBUS__fullyQualifiedNamespace'];
    expect(Object.keys(sample.Values).filter((k) => !hostSettings.includes(k)).sort()).toEqual(Object.keys(functionsConfigSchema.shape).sort());
  });
});
