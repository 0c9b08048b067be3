// npm run calls -- --csv people.csv [--profile reminders] [--campaign name] [--dry-run] [--url <functions base URL>] [--key <function key>]
// Places one outbound call per CSV row through POST /api/calls (so every safety check of the API applies). The file
// is validated whole first; a bad row stops everything before a single call is requested. docs/outbound.md.
import { readFileSync } from 'node:fs';
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
    },
  });
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
  if (!values.url || !values.key) {
    process.stderr.write('calls: --url and --key (or FUNCTIONS_BASE_URL and FUNCTIONS_KEY) are required to send\n');
    return 2;
  }
  let failed = 0;
  for (const row of rows) {
    const response = await fetch(`${values.url.replace(/\/+$/, '')}/api/calls`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-functions-key': values.key },
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
