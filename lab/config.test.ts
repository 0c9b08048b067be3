import { describe, expect, it } from 'vitest';
import { ConfigError } from '../shared/config/env.js';
import { flagsToEnv, loadLabConfig, UsageError } from './config.js';

describe('lab configuration', () => {
  it("uses func start's and the worker's usual ports by default", () => {
    const config = loadLabConfig({});
    expect([config.FUNCTIONS_PORT, config.WORKER_PORT, config.LAB_PORT, config.LAB_HOST]).toEqual([7071, 8080, 7000, '127.0.0.1']);
  });

  it('moves ports with variables, and flags win over variables', () => {
    const config = loadLabConfig({ FUNCTIONS_PORT: '7171', WORKER_PORT: '8181' }, ['--worker-port', '9191', '--port=0']);
    expect([config.FUNCTIONS_PORT, config.WORKER_PORT, config.LAB_PORT]).toEqual([7171, 9191, 0]);
  });

  it("passes the worker's own variables through (Voice Live, Azure sign-in, call control) and nothing else", () => {
    const config = loadLabConfig({ VOICE_LIVE_ENDPOINT: 'https://x.services.ai.azure.com', VOICE_LIVE_API_KEY: 'k', AZURE_CLIENT_ID: 'id', TRANSFER_TARGET: '+15550101234', HOME: '/root', ACS_CONNECTION_STRING: 'endpoint=https://real/;accesskey=x' });
    expect(config.passThrough).toEqual({ VOICE_LIVE_ENDPOINT: 'https://x.services.ai.azure.com', VOICE_LIVE_API_KEY: 'k', AZURE_CLIENT_ID: 'id', TRANSFER_TARGET: '+15550101234' });
  });

  it("passes the Functions app's routing variables through to it, and the worker's own to the worker (the audio channel to both)", () => {
    const config = loadLabConfig({
      AGENT_PROFILE_BY_NUMBER: '+18005550123=sales',
      AGENT_PROFILES: '{"sales":{"voiceName":"en-US-Andrew:DragonHDLatestNeural"}}',
      AGENT_CALL_PERCENT: '50',
      NOT_FOR_US_ACTION: 'redirect',
      NOT_FOR_US_REDIRECT_TO: '+15550109999',
      CALLED_NUMBERS_ALLOWED: '+1800*',
      MEDIA_AUDIO_CHANNEL: 'unmixed',
      MAX_CALLS: '20',
      PATH: '/usr/bin',
    });
    expect(config.functionsPassThrough).toEqual({
      AGENT_PROFILE_BY_NUMBER: '+18005550123=sales',
      AGENT_CALL_PERCENT: '50',
      NOT_FOR_US_ACTION: 'redirect',
      NOT_FOR_US_REDIRECT_TO: '+15550109999',
      CALLED_NUMBERS_ALLOWED: '+1800*',
      MEDIA_AUDIO_CHANNEL: 'unmixed',
    });
    expect(config.passThrough).toEqual({ AGENT_PROFILES: '{"sales":{"voiceName":"en-US-Andrew:DragonHDLatestNeural"}}', MEDIA_AUDIO_CHANNEL: 'unmixed', MAX_CALLS: '20' });
  });

  it('runs one worker by default, more with --workers or LAB_WORKERS (1 to 8)', () => {
    expect(loadLabConfig({}).LAB_WORKERS).toBe(1);
    expect(loadLabConfig({ LAB_WORKERS: '3' }, ['--workers', '2']).LAB_WORKERS).toBe(2);
    expect(() => loadLabConfig({ LAB_WORKERS: '0' })).toThrow(/LAB_WORKERS/);
  });

  it('names the variable of a bad value and the flag of a bad option', () => {
    expect(() => loadLabConfig({ WORKER_PORT: 'eighty' })).toThrow(ConfigError);
    expect(() => loadLabConfig({ WORKER_PORT: 'eighty' })).toThrow(/WORKER_PORT: must be a whole number/);
    expect(() => flagsToEnv(['--wrker-port', '1'])).toThrow(UsageError);
    expect(() => flagsToEnv(['--worker-port'])).toThrow(/--worker-port needs a value/);
  });
});
