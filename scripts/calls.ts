// npm run calls -- --csv people.csv [--profile reminders] [--campaign name] [--dry-run | --report | --cancel] [--url <functions base URL>]
//   [--key <function key> | --token <Entra access token> | --scope api://<API client id>/.default]
// Places one outbound call per CSV row through POST /api/calls (so every safety check of the API applies). The file
// is validated whole first; a bad row stops everything before a single call is requested. --report sends nothing:
// it reads each row's call (GET /api/calls/{callId}, the callId that row's idempotencyKey names) and counts the
// outcomes. --cancel cancels each row's call that is still queued (DELETE /api/calls/{callId}). docs/outbound.md.
import { readFileSync } from 'node:fs';
import { DefaultAzureCredential } from '@azure/identity';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { maskPhoneNumber } from '../shared/privacy.js';
import { callIdFor } from '../shared/outbound-call.js';
import { readCampaign, type CampaignRow } from './campaign/csv.js';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      csv: { type: 'string' },
      profile: { type: 'string' },
      campaign: { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
      report: { type: 'boolean', default: false },
      cancel: { type: 'boolean', default: false },
      url: { type: 'string', default: process.env.FUNCTIONS_BASE_URL },
      key: { type: 'string', default: process.env.FUNCTIONS_KEY },
      token: { type: 'string', default: process.env.FUNCTIONS_BEARER_TOKEN },
      scope: { type: 'string', default: process.env.FUNCTIONS_TOKEN_SCOPE },
    },
  });
  const credentials = [values.key, values.token, values.scope].filter((v) => v !== undefined && v !== '').length;
  if (credentials > 1) {
    process.stderr.write('calls: give one of --key (FUNCTIONS_KEY), --token (FUNCTIONS_BEARER_TOKEN) or --scope (FUNCTIONS_TOKEN_SCOPE)\n');
    return 2;
  }
  if (!values.csv) {
    process.stderr.write('calls: --csv <file> is required\n');
    return 2;
  }
  let text: string;
  try {
    text = readFileSync(values.csv, 'utf8');
  } catch (error) {
    process.stderr.write(`calls: cannot read ${values.csv}: ${(error as Error).message}\n`);
    return 2;
  }
  const campaign = values.campaign ?? basename(values.csv).replace(/\.csv$/i, '');
  const { rows, problems } = readCampaign(text, { campaign, ...(values.profile ? { profile: values.profile } : {}) });
  if (problems.length > 0) {
    for (const p of problems.slice(0, 50)) process.stderr.write(`calls: row ${p.rowNumber}: ${p.field}: ${p.message}\n`);
    process.stderr.write(`calls: ${problems.length} problem(s); nothing was sent\n`);
    return 2;
  }
  if ([values['dry-run'], values.report, values.cancel].filter(Boolean).length > 1) {
    process.stderr.write('calls: give at most one of --dry-run, --report and --cancel\n');
    return 2;
  }
  process.stdout.write(`calls: ${rows.length} call(s) in campaign ${campaign}${values['dry-run'] ? ' (dry run: nothing sent)' : ''}\n`);
  if (values['dry-run']) {
    for (const row of rows) process.stdout.write(`  row ${row.rowNumber}: ${maskPhoneNumber(row.request.to)}${row.request.profile ? ` profile ${row.request.profile}` : ''}${row.request.notBefore ? ` not before ${row.request.notBefore}` : ''}\n`);
    return 0;
  }
  if (!values.url || credentials === 0) {
    process.stderr.write(
      'calls: --url (FUNCTIONS_BASE_URL) and one of --key (FUNCTIONS_KEY), --token (FUNCTIONS_BEARER_TOKEN) or --scope (FUNCTIONS_TOKEN_SCOPE, for a Microsoft Entra token) are required to send\n',
    );
    return 2;
  }
  const authorization = await authorizationHeader(values);
  if (!authorization) return 2;
  if (values.report) return report(values.url, authorization, rows);
  if (values.cancel) return cancel(values.url, authorization, rows);
  let failed = 0;
  for (const row of rows) {
    const response = await fetch(`${values.url.replace(/\/+$/, '')}/api/calls`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...authorization },
      body: JSON.stringify(row.request),
    }).catch((error: Error) => ({ status: 0, text: async () => error.message }) as const);
    const body = await response.text();
    if (response.status === 202) {
      const { callId, duplicate } = JSON.parse(body) as { callId: string; duplicate: boolean };
      process.stdout.write(`  row ${row.rowNumber}: ${maskPhoneNumber(row.request.to)} ${duplicate ? 'already requested' : 'queued'} callId ${callId}\n`);
    } else {
      failed++;
      process.stdout.write(`  row ${row.rowNumber}: ${maskPhoneNumber(row.request.to)} refused (${response.status}): ${body.slice(0, 200)}\n`);
    }
  }
  process.stdout.write(`calls: ${rows.length - failed} queued, ${failed} refused\n`);
  return failed === 0 ? 0 : 1;
}

/** The request header of the credential given; undefined (reported) when no token could be had. */
async function authorizationHeader(values: { key?: string | undefined; token?: string | undefined; scope?: string | undefined }): Promise<Record<string, string> | undefined> {
  if (values.key) return { 'x-functions-key': values.key };
  if (values.token) return { authorization: `Bearer ${values.token}` };
  const scope = values.scope ?? '';
  // The signed-in identity (managed identity, az login, environment): the app role must be assigned to it.
  try {
    const token = await new DefaultAzureCredential().getToken(scope);
    return { authorization: `Bearer ${token.token}` };
  } catch (error) {
    process.stderr.write(`calls: no token for ${scope}: ${(error as Error).message.split('\n')[0]}\n`);
    return undefined;
  }
}

/** What one row's answer comes to: the total it counts in, the row's line, and whether the request failed. */
interface RowVerdict {
  summary: string;
  line: string;
  failed?: boolean;
}

/**
 * One request per row to /api/calls/{callId}, the callId the row's idempotencyKey names (derived as the API derives
 * it), a line per row and the totals; exit 0 when no request failed (404, a row never requested, is an answer).
 */
async function perRowCall(
  verb: string,
  method: 'GET' | 'DELETE',
  url: string,
  authorization: Record<string, string>,
  rows: CampaignRow[],
  judge: (status: number, body: string) => RowVerdict,
): Promise<number> {
  const counts = new Map<string, number>();
  let failures = 0;
  for (const row of rows) {
    const callId = callIdFor(row.request.idempotencyKey);
    const response = await fetch(`${url.replace(/\/+$/, '')}/api/calls/${callId}`, { method, headers: authorization }).catch((error: Error) => ({ status: 0, text: async () => error.message }) as const);
    const verdict = judge(response.status, await response.text());
    if (verdict.failed) failures++;
    process.stdout.write(`  row ${row.rowNumber}: ${maskPhoneNumber(row.request.to)} ${verdict.line} callId ${callId}\n`);
    counts.set(verdict.summary, (counts.get(verdict.summary) ?? 0) + 1);
  }
  const totals = [...counts.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([summary, n]) => `${n} ${summary}`);
  process.stdout.write(`calls: ${verb}: ${totals.join(', ')}\n`);
  return failures === 0 ? 0 : 1;
}

/** --report: each row's call as GET /api/calls/{callId} has it, and a count per state and outcome. */
function report(url: string, authorization: Record<string, string>, rows: CampaignRow[]): Promise<number> {
  return perRowCall('report', 'GET', url, authorization, rows, (status, body) => {
    if (status === 404) return { summary: 'not requested', line: 'not requested (or its status was cleared)' };
    if (status !== 200) return { summary: 'unreadable', line: `could not be read (${status}): ${body.slice(0, 200)}`, failed: true };
    const call = JSON.parse(body) as { state: string; outcome?: string; attempt: number; reason?: string; deferredUntil?: string; retryAt?: string };
    const summary = [call.state, call.outcome].filter(Boolean).join(' ');
    const detail = call.reason ?? (call.retryAt ? `next attempt ${call.retryAt}` : call.deferredUntil ? `waits until ${call.deferredUntil}` : undefined);
    return { summary, line: `${summary}, attempt ${call.attempt}${detail ? ` (${detail})` : ''}` };
  });
}

/** --cancel: DELETE /api/calls/{callId} for each row's call: cancelled while still queued, else left as it is (409). */
function cancel(url: string, authorization: Record<string, string>, rows: CampaignRow[]): Promise<number> {
  return perRowCall('cancel', 'DELETE', url, authorization, rows, (status, body) => {
    if (status === 200) return { summary: 'cancelled', line: 'cancelled' };
    if (status === 404) return { summary: 'not requested', line: 'not requested' };
    if (status === 409) {
      const summary = `too late (${(JSON.parse(body) as { status?: { state?: string } }).status?.state ?? 'in progress'})`;
      return { summary, line: summary };
    }
    return { summary: 'not cancelled', line: `not cancelled (${status}): ${body.slice(0, 200)}`, failed: true };
  });
}

main().then(
  (code) => process.exit(code),
  (error: Error) => {
    process.stderr.write(`calls: ${error.message}\n`);
    process.exit(2);
  },
);
