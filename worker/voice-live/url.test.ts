import { describe, expect, it } from 'vitest';
import { buildVoiceLiveUrl, redactVoiceLiveUrl } from './url.js';

describe('buildVoiceLiveUrl', () => {
  it('builds the model form over wss, replacing any path and query on the endpoint', () => {
    const url = buildVoiceLiveUrl({
      endpoint: 'https://contoso.services.ai.azure.com/some/path?x=1',
      apiVersion: '2026-07-15',
      target: { kind: 'model', model: 'gpt-realtime' },
    });
    expect(url.href).toBe('wss://contoso.services.ai.azure.com/voice-live/realtime?api-version=2026-07-15&model=gpt-realtime');
  });

  it('builds the current agent form with an optional version, and ws for http endpoints', () => {
    const url = buildVoiceLiveUrl({
      endpoint: 'http://127.0.0.1:1234',
      apiVersion: '2026-04-10',
      target: { kind: 'agent', agentName: 'receptionist', projectName: 'contoso proj', agentVersion: '2' },
    });
    expect(url.protocol).toBe('ws:');
    expect(Object.fromEntries(url.searchParams)).toEqual({
      'api-version': '2026-04-10',
      'agent-name': 'receptionist',
      'agent-project-name': 'contoso proj',
      'agent-version': '2',
    });
  });

  it('builds the classic agent-id form with the access token, which the log form masks', () => {
    const url = buildVoiceLiveUrl({
      endpoint: 'https://contoso.cognitiveservices.azure.com',
      apiVersion: '2025-10-01',
      target: { kind: 'agent-classic', agentId: 'asst_1', projectName: 'p' },
      agentAccessToken: 'secret-token',
    });
    expect(url.searchParams.get('agent-id')).toBe('asst_1');
    expect(url.searchParams.get('agent-access-token')).toBe('secret-token');
    expect(redactVoiceLiveUrl(url)).not.toContain('secret-token');
  });

  it('drops credentials embedded in the endpoint and rejects other protocols', () => {
    const url = buildVoiceLiveUrl({ endpoint: 'https://user:pass@host', apiVersion: 'v', target: { kind: 'model', model: 'm' } });
    expect(url.href).not.toContain('pass');
    expect(() => buildVoiceLiveUrl({ endpoint: 'ftp://host', apiVersion: 'v', target: { kind: 'model', model: 'm' } })).toThrow(/http/);
  });
});
