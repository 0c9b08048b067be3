import { ManagedIdentityCredential, DefaultAzureCredential } from '@azure/identity';
import { describe, expect, it } from 'vitest';
import { entraCredential, parseAuthenticationString, setupTelemetry } from './telemetry.js';

describe('telemetry set-up', () => {
  it('stays off without a connection string', async () => {
    const stop = await setupTelemetry({ connectionString: undefined, roleName: 'worker' });
    await expect(stop()).resolves.toBeUndefined();
  });

  it('reads the Functions-style authentication string', () => {
    expect(parseAuthenticationString('ClientId=1234;Authorization=AAD')).toEqual({ clientId: '1234', authorization: 'AAD' });
    expect(parseAuthenticationString(undefined)).toEqual({});
  });

  it('uses the named user-assigned identity for Authorization=AAD with a ClientId', async () => {
    expect(await entraCredential('ClientId=00000000-0000-0000-0000-000000000001;Authorization=AAD')).toBeInstanceOf(ManagedIdentityCredential);
  });

  it('falls back to DefaultAzureCredential for Authorization=AAD without a ClientId, and to keys otherwise', async () => {
    expect(await entraCredential('Authorization=AAD')).toBeInstanceOf(DefaultAzureCredential);
    expect(await entraCredential(undefined)).toBeUndefined();
  });
});
