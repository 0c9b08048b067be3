import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Checks the HMAC-SHA256 signature the Communication SDKs put on requests made with a connection string
 * (`communicationAccessKeyCredentialPolicy`): `VERB\n<path?query>\n<x-ms-date>;<host>;<x-ms-content-sha256>`.
 * Returns the reason a request is refused, or undefined when it is signed with the key.
 */
export function hmacRefusal(input: {
  method: string;
  pathAndQuery: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  accessKey: string;
}): string | undefined {
  const header = (name: string) => {
    const value = input.headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  const authorization = header('authorization');
  const date = header('x-ms-date');
  const contentHash = header('x-ms-content-sha256');
  const host = header('host');
  if (!authorization || !date || !contentHash || !host) return 'request is not signed: Authorization, x-ms-date, x-ms-content-sha256 and Host are required';
  const match = authorization.match(/^HMAC-SHA256 SignedHeaders=([^&]+)&Signature=(.+)$/);
  if (!match) return 'Authorization is not an HMAC-SHA256 signature';
  if (match[1] !== 'x-ms-date;host;x-ms-content-sha256') return `unexpected SignedHeaders ${match[1]}`;
  const expectedHash = createHash('sha256').update(input.body).digest('base64');
  if (expectedHash !== contentHash) return 'x-ms-content-sha256 does not match the body';
  const toSign = `${input.method.toUpperCase()}\n${input.pathAndQuery}\n${date};${host};${contentHash}`;
  const expected = createHmac('sha256', Buffer.from(input.accessKey, 'base64')).update(toSign, 'utf8').digest();
  const given = Buffer.from(match[2]!, 'base64');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'signature does not match the access key';
  return undefined;
}
