// npm run calls -- --csv people.csv [--profile reminders] [--campaign name] [--dry-run] [--url <functions base URL>]
//   [--key <function key> | --token <Entra access token> | --scope api://<API client id>/.default]
// Places one outbound call per CSV row through POST /api/calls (so every safety check of the API applies). The file
// is validated whole first; a bad row stops everything before a single call is requested. docs/outbound.md.
import { readFileSync } from 'node:fs';
import { DefaultAzureCredential } from '@azure/identity';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { maskPhoneNumber } from '../shared/privacy.js';
import { readCampaign } from './campaign/csv.js';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      csv: { type: 'string' },
      profile: { type: 'string' },
      campaign: { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
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
  let authorization: Record<string, string>;
  if (values.key) {
    authorization = { 'x-functions-key': values.key };
  } else if (values.token) {
    authorization = { authorization: `Bearer ${values.token}` };
  } else {
    const scope = values.scope ?? '';
    // The signed-in identity (managed identity, az login, environment): the app role must be assigned to it.
    try {
      const token = await new DefaultAzureCredential().getToken(scope);
      authorization = { authorization: `Bearer ${token.token}` };
    } catch (error) {
      process.stderr.write(`calls: no token for ${scope}: ${(error as Error).message.split('\n')[0]}\n`);
      return 2;
    }
  }
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

main().then(
  (code) => process.exit(code),
  (error: Error) => {
    process.stderr.write(`calls: ${error.message}\n`);
    process.exit(2);
  },
);
