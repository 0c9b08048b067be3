import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLab, type Lab } from '../../lab/lab.js';
import type { EntraTokenOptions } from '../../lab/entra-token-issuer.js';

/**
 * POST/GET /api/calls with Microsoft Entra on (`startLab({ entra: true })`): the routes take an access token from the
 * Entra stand-in with an app role, over real HTTP, instead of the function key; anything else is refused before the
 * handler looks at the request.
 */
describe('outbound API with Microsoft Entra app roles', () => {
  let lab: Lab;
  beforeAll(async () => {
    lab = await startLab({ logLevel: 'silent', greeting: false, entra: true, acs: { outbound: { ringTimeoutMs: 400 } } });
  }, 30_000);
  afterAll(async () => lab?.close());

  const callsUrl = () => `${lab.functions.url}/api/calls`;
  const post = (body: unknown, headers: Record<string, string> = {}) =>
    fetch(callsUrl(), { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const get = (callId: string, headers: Record<string, string> = {}) => fetch(`${callsUrl()}/${callId}`, { headers });
  const bearer = async (options: EntraTokenOptions) => ({ authorization: `Bearer ${await lab.entra!.issue(options)}` });
  const place = { roles: ['Calls.Place'] };
  const requestedBy = (callId: string) =>
    (lab.busMessages(callId).find((m) => (m.body as { type: string }).type === 'call.outbound.requested')?.body as { data: { requestedBy?: unknown } } | undefined)?.data.requestedBy;

  it('registers both routes anonymous to the host: the token is the authentication', () => {
    expect(lab.functions.urlOf('placeCall')).toBe(callsUrl());
    expect(lab.functions.urlOf('callStatus', { callId: 'x' })).toBe(`${callsUrl()}/x`);
  });

  it('places a call for a v2.0 token with the place role, and the same caller reads its status', async () => {
    lab.acs.outbound.script('+15550108001', { kind: 'busy', afterMs: 20 });
    const headers = await bearer(place);
    const response = await post({ to: '+15550108001' }, headers);
    expect(response.status).toBe(202);
    const { callId } = (await response.json()) as { callId: string };
    await expect.poll(async () => ((await (await get(callId, headers)).json()) as { state: string }).state, { timeout: 10_000 }).toBe('failed');
    expect(lab.acs.requests.some((r) => r.operation === 'createCall' && (r.body as { callbackUri: string }).callbackUri.endsWith(callId))).toBe(true);
    // Attributable: the caller's ids (never a name or the token) travel with the request to call.outbound.requested.
    await expect.poll(() => requestedBy(callId), { timeout: 5000 }).toEqual({ appId: lab.entra!.caller.appId, objectId: lab.entra!.caller.objectId, tenantId: lab.entra!.tenantId });
  });

  it('accepts a v1.0 token (sts.windows.net issuer, appid, the app id URI as audience) as Entra issues it when the manifest leaves the version unset', async () => {
    lab.acs.outbound.script('+15550108002', { kind: 'busy', afterMs: 20 });
    const response = await post({ to: '+15550108002' }, await bearer({ ...place, version: '1.0', appId: '0c5e11e7-0000-4000-8000-000000000001' }));
    expect(response.status).toBe(202);
    const { callId } = (await response.json()) as { callId: string };
    await expect.poll(() => requestedBy(callId), { timeout: 10_000 }).toMatchObject({ appId: '0c5e11e7-0000-4000-8000-000000000001' });
  });

  it('refuses a request without a token with 401 and a bare Bearer challenge, before reading the body', async () => {
    const response = await post({ to: 'not a number' });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer');
    expect(await response.json()).toMatchObject({ error: 'missing_token' });
    expect((await get('00000000-0000-8000-8000-000000000000')).status).toBe(401);
  });

  it('no longer takes the function key on these routes', async () => {
    const response = await post({ to: '+15550108003' }, { 'x-functions-key': lab.functions.functionKey });
    expect(response.status).toBe(401);
  });

  it.each<[string, () => Promise<string>]>([
    ['expired', () => lab.entra!.issue({ ...place, expiresInSeconds: -120 })],
    ['for another audience', () => lab.entra!.issue({ ...place, audience: 'api://someone-else' })],
    ['from another issuer', () => lab.entra!.issue({ ...place, issuer: 'https://login.microsoftonline.com/11111111-1111-4111-8111-111111111111/v2.0' })],
    ['from another tenant of the same authority', () => lab.entra!.issue({ ...place, tenantId: '22222222-2222-4222-8222-222222222222' })],
    ['signed by a key the tenant does not publish', () => lab.entra!.issueWithUnknownKey(place)],
    ['whose ver disagrees with its issuer', () => lab.entra!.issue({ ...place, claims: { ver: '1.0' } })],
    ['that is not a JWT', async () => 'not-a-jwt'],
  ])('refuses a token %s with 401 invalid_token, before reading the body', async (_name, token) => {
    const response = await post({ to: 'not a number' }, { authorization: `Bearer ${await token()}` });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token", error_description="[^"]+"$/);
    expect(await response.json()).toMatchObject({ error: expect.stringMatching(/^(invalid_token|expired_token)$/) });
  });

  it('refuses a valid token without the place role with 403 naming the role', async () => {
    const response = await post({ to: '+15550108004' }, await bearer({ roles: ['Something.Else'] }));
    expect(response.status).toBe(403);
    expect(response.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
    expect(await response.json()).toMatchObject({ error: 'forbidden', role: 'Calls.Place', message: expect.stringContaining('Calls.Place') });
  });

  it('lets the read role read a status but not place a call', async () => {
    const reader = await bearer({ roles: ['Calls.Read'] });
    const refused = await post({ to: '+15550108005' }, reader);
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ role: 'Calls.Place' });
    // Authenticated and authorised: the handler runs and answers for an unknown call.
    expect((await get('00000000-0000-8000-8000-000000000000', reader)).status).toBe(404);
    const none = await get('00000000-0000-8000-8000-000000000000', await bearer({ roles: [] }));
    expect(none.status).toBe(403);
    expect(await none.json()).toMatchObject({ message: expect.stringContaining('Calls.Read or Calls.Place') });
  });

  it('cancels only for the place role: the read role gets 403, the place role reaches the handler', async () => {
    const unknown = `${callsUrl()}/00000000-0000-8000-8000-000000000000`;
    const reader = await fetch(unknown, { method: 'DELETE', headers: await bearer({ roles: ['Calls.Read'] }) });
    expect(reader.status).toBe(403);
    expect(await reader.json()).toMatchObject({ role: 'Calls.Place' });
    expect((await fetch(unknown, { method: 'DELETE' })).status).toBe(401);
    expect((await fetch(unknown, { method: 'DELETE', headers: await bearer(place) })).status).toBe(404);
  });
});

describe('outbound API with Entra: role names from the settings', () => {
  it('requires the roles OUTBOUND_AUTH_ENTRA_PLACE_ROLE and _READ_ROLE name', async () => {
    const lab = await startLab({ logLevel: 'silent', greeting: false, entra: true, functionsEnv: { OUTBOUND_AUTH_ENTRA_PLACE_ROLE: 'Outbound.Dial', OUTBOUND_AUTH_ENTRA_READ_ROLE: 'Outbound.Watch' } });
    try {
      const post = async (roles: string[]) =>
        fetch(`${lab.functions.url}/api/calls`, { method: 'POST', headers: { authorization: `Bearer ${await lab.entra!.issue({ roles })}` }, body: '{"to":"not a number"}' });
      expect((await post(['Calls.Place'])).status).toBe(403);
      // Past authentication, the handler judges the body.
      expect((await post(['Outbound.Dial'])).status).toBe(400);
      const watch = await fetch(`${lab.functions.url}/api/calls/00000000-0000-8000-8000-000000000000`, { headers: { authorization: `Bearer ${await lab.entra!.issue({ roles: ['Outbound.Watch'] })}` } });
      expect(watch.status).toBe(404);
    } finally {
      await lab.close();
    }
  }, 30_000);
});

describe('npm run calls against an Entra-protected API', () => {
  it('sends a bearer token given as FUNCTIONS_BEARER_TOKEN, or one DefaultAzureCredential gets for --scope (the App Service managed identity endpoint of the stand-in); the function key is refused', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const { execFile } = await import('node:child_process');
    const lab = await startLab({ logLevel: 'silent', greeting: false, entra: true });
    try {
      const dir = mkdtempSync(join(tmpdir(), 'campaign-entra-'));
      const csv = (name: string, number: string) => {
        const path = join(dir, `${name}.csv`);
        writeFileSync(path, `to,name\n${number},Ada\n`);
        lab.acs.outbound.script(number, { kind: 'busy', afterMs: 10 });
        return path;
      };
      // Only what the test gives: no key, token or Azure sign-in of the machine running the test.
      const baseEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(FUNCTIONS_|AZURE_|IDENTITY_|MSI_|IDENTITY)/.test(k)));
      const run = (args: string[], env: Record<string, string>) =>
        new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
          execFile(process.execPath, ['--import', 'tsx', 'scripts/calls.ts', ...args, '--url', lab.functions.url], { encoding: 'utf8', cwd: join(__dirname, '..', '..'), timeout: 30_000, env: { ...baseEnv, ...env } }, (error, stdout, stderr) =>
            resolve({ status: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr }),
          );
        });

      const withKey = await run(['--csv', csv('key', '+15550108101'), `--key=${lab.functions.functionKey}`], {});
      expect(withKey.status).toBe(1);
      expect(withKey.stdout).toContain('refused (401)');

      const token = await lab.entra!.issue({ roles: ['Calls.Place'] });
      const withToken = await run(['--csv', csv('token', '+15550108102')], { FUNCTIONS_BEARER_TOKEN: token });
      expect(withToken.stdout).toContain('1 queued, 0 refused');
      expect(withToken.status).toBe(0);

      const withScope = await run(['--csv', csv('scope', '+15550108103'), '--scope', `${lab.entra!.appIdUri}/.default`], {
        IDENTITY_ENDPOINT: lab.entra!.managedIdentity.endpoint,
        IDENTITY_HEADER: lab.entra!.managedIdentity.header,
      });
      expect(withScope.stderr).toBe('');
      expect(withScope.stdout).toContain('1 queued, 0 refused');

      const unknownScope = await run(['--csv', csv('unknown', '+15550108104'), '--scope', 'api://not-our-api/.default'], {
        IDENTITY_ENDPOINT: lab.entra!.managedIdentity.endpoint,
        IDENTITY_HEADER: lab.entra!.managedIdentity.header,
      });
      expect(unknownScope.status).toBe(2);
      expect(unknownScope.stderr).toMatch(/^calls: no token for api:\/\/not-our-api\/\.default/);

      const both = await run(['--csv', csv('both', '+15550108105'), '--key', 'k', '--token', 't'], {});
      expect(both.status).toBe(2);
      await expect.poll(() => lab.acs.requests.filter((r) => r.operation === 'createCall').length, { timeout: 10_000 }).toBe(2);
    } finally {
      await lab.close();
    }
  }, 90_000);
});

describe('outbound API with Entra when the tenant keys cannot be fetched', () => {
  it('answers 503 with Retry-After (the token was not judged), not 401', async () => {
    const { freePort } = await import('../../lab/free-port.js');
    const unreachable = `http://127.0.0.1:${await freePort('127.0.0.1')}`;
    const lab = await startLab({ logLevel: 'silent', greeting: false, entra: true, functionsEnv: { OUTBOUND_AUTH_ENTRA_AUTHORITY_HOST: unreachable } });
    try {
      const token = await lab.entra!.issue({ roles: ['Calls.Place'], issuer: `${unreachable}/${lab.entra!.tenantId}/v2.0` });
      const response = await fetch(`${lab.functions.url}/api/calls`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: '{"to":"+15550108201"}' });
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe('5');
      expect(await response.json()).toMatchObject({ error: 'keys_unavailable' });
    } finally {
      await lab.close();
    }
  }, 30_000);
});
