import { describe, expect, it } from 'vitest';
import { ConfigError } from './env.js';
import { loadCallControlConfig } from './call-control.js';

function problems(env: Record<string, string>): string[] {
  try {
    loadCallControlConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems.map((p) => `${p.variable}: ${p.message}`);
  }
  return [];
}

describe('call-control configuration', () => {
  it('needs nothing: no ACS, no bus, end_call only, transcripts on, rates zero', () => {
    const config = loadCallControlConfig({});
    expect(config.acs).toBeUndefined();
    expect(config.serviceBus).toBeUndefined();
    expect(config.transferTarget).toBeUndefined();
    expect(config).toMatchObject({
      callEventsQueue: 'call-events',
      callRecordsQueue: 'call-records',
      dtmfTransferKey: '0',
      toolFillerAfterMs: 700,
      recordTranscripts: true,
      customTools: [],
      caps: { action: 'wrap_up', graceMs: 60_000 },
      prices: { currency: 'USD', audioInputPer1M: 0, callPerMinute: 0 },
    });
  });

  it('checks in on a silent caller by default (12 s, twice), can be turned off, and refuses a quiet time under a second', () => {
    expect(loadCallControlConfig({}).callerSilence).toEqual({ promptAfterMs: 12_000, maxPrompts: 2 });
    expect(loadCallControlConfig({ CALLER_SILENCE_PROMPT_MS: '0' }).callerSilence).toBeUndefined();
    expect(loadCallControlConfig({ CALLER_SILENCE_PROMPT_MS: '8000', CALLER_SILENCE_MAX_PROMPTS: '0' }).callerSilence).toEqual({ promptAfterMs: 8000, maxPrompts: 0 });
    expect(problems({ CALLER_SILENCE_PROMPT_MS: '500' })).toEqual(['CALLER_SILENCE_PROMPT_MS: must be 0 (off) or at least 1000']);
    expect(problems({ CALLER_SILENCE_MAX_PROMPTS: '11' })).toEqual(['CALLER_SILENCE_MAX_PROMPTS: must be at most 10']);
  });

  it('uses managed identity settings in Azure and connection strings locally', () => {
    const azure = loadCallControlConfig({ ACS_ENDPOINT: 'https://acs.communication.azure.com', SERVICEBUS_FULLY_QUALIFIED_NAMESPACE: 'ns.servicebus.windows.net' });
    expect(azure.acs).toEqual({ endpoint: 'https://acs.communication.azure.com' });
    expect(azure.serviceBus).toEqual({ fullyQualifiedNamespace: 'ns.servicebus.windows.net' });
    const local = loadCallControlConfig({
      ACS_CONNECTION_STRING: 'endpoint=http://127.0.0.1:1234/;accesskey=a2V5',
      SERVICEBUS_CONNECTION_STRING: 'Endpoint=sb://127.0.0.1:5672/;SharedAccessKeyName=k;SharedAccessKey=v',
    });
    expect(local.acs).toEqual({ connectionString: 'endpoint=http://127.0.0.1:1234/;accesskey=a2V5' });
    expect(local.serviceBus).toMatchObject({ connectionString: expect.stringContaining('sb://') });
  });

  it('parses tools, DTMF, prices and caps', () => {
    const config = loadCallControlConfig({
      TRANSFER_TARGET: '8:acs:1234_abcd',
      DTMF_TRANSFER_KEY: '#',
      CUSTOM_TOOLS: 'a.js, b.js',
      PRICE_AUDIO_OUTPUT_PER_1M_TOKENS: '80.5',
      CALL_MAX_MINUTES: '20',
      CALL_MAX_TOKENS: '200000',
      CALL_CAP_ACTION: 'transfer',
      RECORD_TRANSCRIPTS: 'false',
    });
    expect(config).toMatchObject({ transferTarget: '8:acs:1234_abcd', dtmfTransferKey: '#', customTools: ['a.js', 'b.js'], recordTranscripts: false });
    expect(config.prices.audioOutputPer1M).toBe(80.5);
    expect(config.caps).toEqual({ maxMinutes: 20, maxTokens: 200000, action: 'transfer', graceMs: 60_000 });
    expect(loadCallControlConfig({ DTMF_TRANSFER_KEY: 'none' }).dtmfTransferKey).toBeUndefined();
    expect(loadCallControlConfig({}).toolFillerText).toBe('One moment, please.');
    expect(loadCallControlConfig({ TOOL_FILLER_TEXT: '' }).toolFillerText).toBe('One moment, please.');
    expect(loadCallControlConfig({ TOOL_FILLER_TEXT: 'none' }).toolFillerText).toBe('');
  });

  it('names each bad variable', () => {
    expect(problems({ TRANSFER_TARGET: '5551234', DTMF_TRANSFER_KEY: '00', PRICE_CALL_PER_MINUTE: '-1' })).toEqual([
      expect.stringMatching(/^TRANSFER_TARGET: must be an E.164 number/),
      expect.stringMatching(/^DTMF_TRANSFER_KEY: /),
      expect.stringMatching(/^PRICE_CALL_PER_MINUTE: /),
    ]);
    expect(problems({ CALL_CAP_ACTION: 'transfer' })).toEqual(['TRANSFER_TARGET: required when CALL_CAP_ACTION=transfer']);
    expect(problems({ ACS_ENDPOINT: 'https://a.communication.azure.com', ACS_CONNECTION_STRING: 'endpoint=https://a/;accesskey=k' })).toEqual([
      expect.stringMatching(/^ACS_CONNECTION_STRING: set ACS_ENDPOINT/),
    ]);
  });
});
