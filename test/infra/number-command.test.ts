import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startAcsEmulator, type AcsEmulator } from '../../lab/acs/emulator.js';
import { startAcsTokenIssuer, type AcsTokenIssuer } from '../../lab/acs-token-issuer.js';

const repo = resolve(__dirname, '..', '..');
const fakeAzdDir = join(__dirname, 'fake-azd');

interface NumberRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The azd environment after the run (undefined when there was none). */
  azdEnv: Record<string, string> | undefined;
  azdCalls: string[][];
}

let issuer: AcsTokenIssuer;
let acs: AcsEmulator;
let dir: string;

beforeAll(async () => {
  issuer = await startAcsTokenIssuer();
});
afterAll(async () => {
  await issuer.close();
});
beforeEach(async () => {
  acs = await startAcsEmulator({ eventGridWebhookUrl: 'http://127.0.0.1:9/api/incomingCall', tokenIssuer: issuer });
  dir = mkdtempSync(join(tmpdir(), 'number-command-'));
});
afterEach(async () => {
  await acs.close();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * Runs `npm run number` as its own process against the ACS emulator (a connection string, as a user with the
 * resource's keys would), the stand-in `azd` first on PATH with `azdEnv` as the environment (none when undefined).
 */
function runNumber(args: string[], options: { azdEnv?: Record<string, string>; stdin?: string; env?: Record<string, string> } = {}): Promise<NumberRun> {
  const envPath = join(dir, 'azd-env.json');
  const logPath = join(dir, 'azd-calls.jsonl');
  if (options.azdEnv) writeFileSync(envPath, JSON.stringify(options.azdEnv));
  writeFileSync(logPath, '');
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/number.ts', ...args], {
    cwd: repo,
    env: {
      PATH: `${fakeAzdDir}${delimiter}${dirname(process.execPath)}${delimiter}/usr/bin${delimiter}/bin`,
      HOME: dir,
      FAKE_AZD_ENV: envPath,
      FAKE_AZD_LOG: logPath,
      ACS_CONNECTION_STRING: acs.connectionString,
      ...options.env,
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  child.stdin.end(options.stdin ?? '');
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((done) => {
    child.on('close', (code) =>
      done({
        code,
        stdout,
        stderr,
        azdEnv: existsSync(envPath) ? (JSON.parse(readFileSync(envPath, 'utf8')) as Record<string, string>) : undefined,
        azdCalls: readFileSync(logPath, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as string[]),
      }),
    );
  });
}

const owned = () => [...acs.phoneNumbers.purchased.keys()];

describe('npm run number: buy a number and wire it into the azd environment', () => {
  it('searches a toll-free number with inbound+outbound calling, shows the monthly cost the API reports, buys it with --yes and adds it to CALLED_NUMBERS_ALLOWED', async () => {
    const run = await runNumber(['--country', 'US', '--type', 'toll-free', '--yes'], { azdEnv: { AZURE_ENV_NAME: 'dev', CALLED_NUMBERS_ALLOWED: '+18005550100' } });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(owned()).toHaveLength(1);
    const bought = acs.phoneNumbers.purchased.get(owned()[0]!)!;
    expect(bought).toMatchObject({ phoneNumberType: 'tollFree', assignmentType: 'application', capabilities: { calling: 'inbound+outbound', sms: 'none' } });
    expect(run.stdout).toContain(`found ${bought.phoneNumber}`);
    expect(run.stdout).toMatch(/cost the API reports: 2\.00 USD per month/);
    expect(run.stdout).toMatch(/per-minute calling charges: not reported by the API; see https:\/\/azure\.microsoft\.com\/pricing/);
    expect(run.azdEnv?.CALLED_NUMBERS_ALLOWED).toBe(`+18005550100,${bought.phoneNumber}`);
    expect(run.stdout).toMatch(/next: azd up/);
    // Every request was signed with the resource's key and used the SDK's api-version.
    expect(acs.phoneNumbers.requests.every((r) => r.authenticated && r.apiVersion === '2025-06-01')).toBe(true);
    expect(acs.phoneNumbers.requests.map((r) => `${r.method} ${r.path.replace(/[0-9a-f-]{36}/, '<id>')}`)).toEqual([
      'POST /availablePhoneNumbers/countries/US/:search',
      'GET /phoneNumbers/operations/search_<id>',
      'GET /availablePhoneNumbers/searchResults/<id>',
      'POST /availablePhoneNumbers/:purchase',
      'GET /phoneNumbers/operations/purchase_<id>',
    ]);
  }, 90_000);

  it('asks before buying: no answer or "n" buys nothing and leaves the azd environment alone; "y" buys', async () => {
    const declined = await runNumber(['--type', 'geographic'], { azdEnv: { CALLED_NUMBERS_ALLOWED: '+18005550100' }, stdin: 'n\n' });
    expect(declined.code).toBe(1);
    expect(declined.stdout).toMatch(/cost the API reports: 1\.00 USD per month[\s\S]*Buy \+1\d+ for 1\.00 USD a month\? \[y\/N\]/);
    expect(declined.stdout).toMatch(/not bought: nothing changed/);
    expect(owned()).toEqual([]);
    expect(declined.azdCalls.filter((call) => call[1] === 'set')).toEqual([]);

    const silent = await runNumber([], { azdEnv: {}, stdin: '' });
    expect(silent.code).toBe(1);
    expect(owned()).toEqual([]);

    const accepted = await runNumber([], { azdEnv: { CALLED_NUMBERS_ALLOWED: '+18005550100' }, stdin: 'y\n' });
    expect(accepted.code).toBe(0);
    expect(owned()).toHaveLength(1);
  }, 150_000);

  it('an empty CALLED_NUMBERS_ALLOWED (every number answered) becomes the list of every calling number of the resource, so none stops being answered', async () => {
    acs.phoneNumbers.addPurchased('+18335550100');
    const run = await runNumber(['--yes'], { azdEnv: { CALLED_NUMBERS_ALLOWED: '' } });
    expect(run.code).toBe(0);
    const bought = owned().find((n) => n !== '+18335550100')!;
    expect(run.azdEnv?.CALLED_NUMBERS_ALLOWED?.split(',').sort()).toEqual(['+18335550100', bought].sort());
    expect(run.stdout).toMatch(/CALLED_NUMBERS_ALLOWED was empty/);
  }, 90_000);

  it('bought but the list of the resource\'s numbers fails: says the number is bought and what to set, no stack trace', async () => {
    acs.phoneNumbers.refuseNext('list', { status: 400, code: 'BadRequest', message: 'the list is unavailable' });
    const run = await runNumber(['--yes'], { azdEnv: { CALLED_NUMBERS_ALLOWED: '' } });
    expect(run.code).toBe(1);
    expect(owned()).toHaveLength(1);
    expect(run.stderr).toMatch(new RegExp(`^npm run number: \\${owned()[0]} is bought, but .*azd env set CALLED_NUMBERS_ALLOWED`));
    expect(run.stderr).not.toMatch(/^\s+at /m);
    expect(run.azdEnv?.CALLED_NUMBERS_ALLOWED).toBe('');
  }, 90_000);

  it('--no-azd buys without an azd environment and says what is left to do', async () => {
    const run = await runNumber(['--yes', '--no-azd']);
    expect(run.code).toBe(0);
    expect(owned()).toHaveLength(1);
    expect(run.azdCalls).toEqual([]);
    expect(run.stdout).toMatch(/add it to the Functions app's CALLED_NUMBERS_ALLOWED yourself/);
  }, 90_000);
});

describe('npm run number -- --release', () => {
  it('releases the number and removes it from CALLED_NUMBERS_ALLOWED, keeping the others', async () => {
    acs.phoneNumbers.addPurchased('+18335550100');
    acs.phoneNumbers.addPurchased('+18335550111');
    const run = await runNumber(['--release', '+18335550100', '--yes'], { azdEnv: { CALLED_NUMBERS_ALLOWED: '+18335550100,+18335550111' } });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(owned()).toEqual(['+18335550111']);
    expect(run.azdEnv?.CALLED_NUMBERS_ALLOWED).toBe('+18335550111');
  }, 90_000);

  it('a number the resource does not own: one clear line, nothing changed', async () => {
    acs.phoneNumbers.addPurchased('+18335550111');
    const run = await runNumber(['--release', '+18335550100', '--yes'], { azdEnv: { CALLED_NUMBERS_ALLOWED: '+18335550111' } });
    expect(run.code).toBe(1);
    expect(run.stderr.trim()).toBe('npm run number: +18335550100 is not a number of this ACS resource: nothing released');
    expect(owned()).toEqual(['+18335550111']);
    expect(run.azdEnv?.CALLED_NUMBERS_ALLOWED).toBe('+18335550111');
  }, 90_000);
});

describe('npm run number when it cannot buy', () => {
  it('a subscription that may not buy numbers (a free trial) gets the reason and the alternatives, no stack trace', async () => {
    acs.phoneNumbers.refuseNext('search', { status: 400, code: 'BadRequest', message: "Your subscription isn't eligible to acquire phone numbers." });
    const run = await runNumber(['--yes'], { azdEnv: { CALLED_NUMBERS_ALLOWED: '' } });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/isn't eligible to acquire phone numbers/);
    expect(run.stderr).toMatch(/cannot buy phone numbers\. Azure sells numbers only to paid subscriptions/);
    expect(run.stderr).toMatch(/npm start/);
    expect(run.stderr).toMatch(/trial phone number/);
    expect(run.stderr).not.toMatch(/^\s+at /m);
    expect(owned()).toEqual([]);
  }, 90_000);

  it('a country or type with no numbers: says so and what to try', async () => {
    const run = await runNumber(['--country', 'FR', '--yes'], { azdEnv: {} });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/No number could be found .*Try another type/);
    expect(run.stderr).not.toMatch(/^\s+at /m);
  }, 90_000);

  it('credentials ACS refuses (a wrong key): says which roles or keys are needed', async () => {
    const wrongKey = acs.connectionString.replace(/accesskey=[^;]+/i, `accesskey=${Buffer.alloc(32, 7).toString('base64')}`);
    const run = await runNumber(['--yes'], { azdEnv: {}, env: { ACS_CONNECTION_STRING: wrongKey } });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/ACS refused the search \(401/);
    expect(acs.phoneNumbers.requests.map((r) => r.authenticated)).toEqual([false]);
  }, 90_000);

  it('no ACS resource to talk to: points to azd up or ACS_ENDPOINT', async () => {
    const run = await runNumber(['--yes'], { azdEnv: { AZURE_ENV_NAME: 'dev' }, env: { ACS_CONNECTION_STRING: '' } });
    expect(run.code).toBe(1);
    expect(run.stderr.trim()).toBe('npm run number: no ACS resource: deploy with azd up first (its environment names ACS_ENDPOINT), or set ACS_ENDPOINT (or ACS_CONNECTION_STRING)');
  }, 90_000);

  it('no azd project here: says so in one line', async () => {
    const run = await runNumber(['--yes']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^npm run number: azd env get-values failed: ERROR: no project exists/);
    expect(owned()).toEqual([]);
  }, 90_000);

  it('a usage mistake: exit code 2 with the usage', async () => {
    const run = await runNumber(['--type', 'mobile']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--type must be toll-free or geographic[\s\S]*usage: npm run number/);
  }, 90_000);
});
