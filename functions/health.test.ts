import { describe, expect, it } from 'vitest';
import { HttpRequest, InvocationContext } from '@azure/functions';
import { loadFunctionsConfig } from '../shared/config/functions.js';
import { createHealthHandler } from './health.js';

const baseEnv = {
  ACS_CONNECTION_STRING: 'endpoint=https://acs.example.net/;accesskey=a2V5',
  ACS_RESOURCE_ID: '6f1b3d2a-9c4e-4b7a-8e21-5d0c7a9f4b13',
  CALLBACK_BASE_URL: 'https://func.example.net',
  WORKER_MEDIA_URL: 'wss://worker.example.net/ws',
  SERVICEBUS_CONNECTION_STRING: 'Endpoint=sb://bus.example.net/;SharedAccessKeyName=k;SharedAccessKey=a2V5',
};

async function healthWith(env: Record<string, string>, checkServiceBus?: () => Promise<void>) {
  const handler = createHealthHandler({ config: loadFunctionsConfig({ ...baseEnv, ...env }), ...(checkServiceBus ? { checkServiceBus } : {}) });
  const response = await handler(new HttpRequest({ method: 'GET', url: 'https://func.example.net/api/health' }), new InvocationContext());
  const init = response as { status?: number; jsonBody?: unknown };
  return { status: init.status, body: init.jsonBody as Record<string, unknown> };
}

describe('GET /api/health', () => {
  it('says the outbound API takes the function key, with the kill switch off and no destination allowed, by default', async () => {
    const { status, body } = await healthWith({});
    expect(status).toBe(200);
    expect(body).toMatchObject({ status: 'ok', outboundCalls: { auth: 'function-key', killSwitch: 'off', allowedPrefixes: 0 } });
  });

  it('says Entra authenticates it, the kill switch is on, and how many prefixes are allowed, never which', async () => {
    const { body } = await healthWith({
      OUTBOUND_AUTH_ENTRA_TENANT_ID: '0b5f3c9e-2d7a-4e61-9f84-3a1c6e2b7d90',
      OUTBOUND_AUTH_ENTRA_AUDIENCE: 'api://voice-agent-calls',
      OUTBOUND_KILL_SWITCH: 'on',
      OUTBOUND_ALLOWED_PREFIXES: '+4477009,+1555',
    });
    expect(body.outboundCalls).toEqual({ auth: 'entra', killSwitch: 'on', allowedPrefixes: 2 });
    const text = JSON.stringify(body);
    expect(text).not.toContain('+4477009');
    expect(text).not.toContain('0b5f3c9e');
  });

  it('is degraded, still saying how the outbound API is set up, when Service Bus refuses the identity', async () => {
    const { status, body } = await healthWith({}, async () => {
      throw new Error('Unauthorized: the identity has no Send claim');
    });
    expect(status).toBe(503);
    expect(body).toMatchObject({ status: 'degraded', outboundCalls: { auth: 'function-key' }, checks: { serviceBus: { status: 'failed' } } });
  });
});
