// Stand-in for the Azure Developer CLI: an azd environment kept in the JSON file FAKE_AZD_ENV, read by
// `azd env get-values --output json` and changed by `azd env set NAME VALUE`; every call is one JSON line in
// FAKE_AZD_LOG. Without the file it fails as azd does outside a project with no environment. Any other command
// fails, so a script cannot pass by calling something the test did not expect.
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';

const argv = process.argv.slice(2);
const { FAKE_AZD_ENV: envPath, FAKE_AZD_LOG: logPath } = process.env;
if (!envPath || !logPath) {
  process.stderr.write('fake azd: FAKE_AZD_ENV and FAKE_AZD_LOG must be set\n');
  process.exit(2);
}
appendFileSync(logPath, `${JSON.stringify(argv)}\n`);
const args = argv.filter((arg, i) => arg !== '--environment' && argv[i - 1] !== '--environment');
if (!existsSync(envPath)) {
  process.stderr.write('ERROR: no project exists; to create a new project, run `azd init`\n');
  process.exit(1);
}
const values = JSON.parse(readFileSync(envPath, 'utf8'));
if (args[0] === 'env' && args[1] === 'get-values' && args[2] === '--output' && args[3] === 'json' && args.length === 4) {
  process.stdout.write(`${JSON.stringify(values, null, 2)}\n`);
} else if (args[0] === 'env' && args[1] === 'set' && args.length === 4) {
  values[args[2]] = args[3];
  writeFileSync(envPath, JSON.stringify(values));
} else {
  process.stderr.write(`ERROR: fake azd: unexpected command: azd ${argv.join(' ')}\n`);
  process.exit(2);
}
