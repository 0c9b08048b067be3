import { describe, expect, it } from 'vitest';
import { createSasToken, entityPathOfAudience, verifySasToken } from './sas.js';

const key = { keyName: 'RootManageSharedAccessKey', key: 'c2VjcmV0LWtleQ==' };
const audience = 'sb://127.0.0.1:5672/call-events';
const nowMs = 1_700_000_000_000;

describe('verifySasToken', () => {
  it('accepts a token signed with the key and returns its audience and expiry', () => {
    const token = createSasToken(audience, key, nowMs + 3_600_000);
    expect(verifySasToken(token, key, nowMs)).toEqual({ ok: true, audience, expiresAtMs: nowMs + 3_600_000 });
  });

  it('refuses a token signed with another key', () => {
    const token = createSasToken(audience, { ...key, key: 'other' }, nowMs + 3_600_000);
    expect(verifySasToken(token, key, nowMs)).toEqual({ ok: false, reason: 'signature does not match the key' });
  });

  it('refuses an unknown key name, an expired token and a token that is not a SAS token', () => {
    expect(verifySasToken(createSasToken(audience, { ...key, keyName: 'x' }, nowMs + 1000), key, nowMs)).toMatchObject({ ok: false });
    expect(verifySasToken(createSasToken(audience, key, nowMs - 1000), key, nowMs)).toEqual({ ok: false, reason: 'token expired' });
    expect(verifySasToken('Bearer abc', key, nowMs)).toMatchObject({ ok: false });
  });

  it('refuses a token whose audience was changed after signing', () => {
    const token = createSasToken(audience, key, nowMs + 1000).replace('call-events', 'call-records');
    expect(verifySasToken(token, key, nowMs)).toMatchObject({ ok: false });
  });

  it('refuses a token with broken percent-encoding with a reason instead of throwing', () => {
    for (const token of [
      'SharedAccessSignature sr=a&sig=%ZZ&se=1&skn=RootManageSharedAccessKey',
      'SharedAccessSignature sr=a&sig=abc&se=1&skn=%E0%A4%A',
      'SharedAccessSignature sr=%&sig=abc&se=1&skn=RootManageSharedAccessKey',
    ]) {
      expect(verifySasToken(token, key, nowMs)).toEqual({ ok: false, reason: 'token is not valid percent-encoding' });
    }
  });
});

describe('entityPathOfAudience', () => {
  it('takes the entity path from an audience URL, lower-cased', () => {
    expect(entityPathOfAudience('sb://127.0.0.1:5672/Call-Events/$management')).toBe('call-events/$management');
    expect(entityPathOfAudience('sb://myns.servicebus.windows.net/')).toBe('');
  });
});
