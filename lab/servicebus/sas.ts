import { createHmac, timingSafeEqual } from 'node:crypto';

export interface SasKey {
  keyName: string;
  key: string;
}

export type SasVerdict = { ok: true; audience: string; expiresAtMs: number } | { ok: false; reason: string };

/**
 * Checks a `SharedAccessSignature sr=…&sig=…&se=…&skn=…` token as Service Bus does: known key name,
 * HMAC-SHA256 over `urlencoded(audience) + "\n" + expiry` with the key's UTF-8 bytes, not expired.
 */
export function verifySasToken(token: string, key: SasKey, nowMs: number): SasVerdict {
  const prefix = 'SharedAccessSignature ';
  if (!token.startsWith(prefix)) return { ok: false, reason: 'not a SharedAccessSignature token' };
  const fields = new Map<string, string>();
  for (const part of token.slice(prefix.length).split('&')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq), part.slice(eq + 1));
  }
  const sr = fields.get('sr');
  const sig = fields.get('sig');
  const se = fields.get('se');
  const skn = fields.get('skn');
  if (!sr || !sig || !se || !skn) return { ok: false, reason: 'token lacks sr, sig, se or skn' };
  let decoded: { audience: string; signature: string; keyName: string };
  try {
    decoded = { audience: decodeURIComponent(sr), signature: decodeURIComponent(sig), keyName: decodeURIComponent(skn) };
  } catch {
    return { ok: false, reason: 'token is not valid percent-encoding' };
  }
  if (decoded.keyName !== key.keyName) return { ok: false, reason: `unknown key name '${decoded.keyName}'` };
  const expected = createHmac('sha256', key.key).update(`${sr}\n${se}`).digest();
  const given = Buffer.from(decoded.signature, 'base64');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return { ok: false, reason: 'signature does not match the key' };
  }
  const expiresAtMs = Number(se) * 1000;
  if (!Number.isFinite(expiresAtMs) || expiresAtMs <= nowMs) return { ok: false, reason: 'token expired' };
  return { ok: true, audience: decoded.audience, expiresAtMs };
}

/** Builds a token the way the Azure client does; for tests. */
export function createSasToken(audience: string, key: SasKey, expiresAtMs: number): string {
  const sr = encodeURIComponent(audience);
  const se = Math.floor(expiresAtMs / 1000);
  const sig = encodeURIComponent(createHmac('sha256', key.key).update(`${sr}\n${se}`).digest('base64'));
  return `SharedAccessSignature sr=${sr}&sig=${sig}&se=${se}&skn=${encodeURIComponent(key.keyName)}`;
}

/** The entity path an audience grants (`sb://host:port/orders/$management` → `orders/$management`), lower-cased. */
export function entityPathOfAudience(audience: string): string {
  const withoutScheme = audience.replace(/^[a-z]+:\/\//i, '');
  const slash = withoutScheme.indexOf('/');
  return slash < 0 ? '' : withoutScheme.slice(slash + 1).replace(/\/+$/, '').toLowerCase();
}
