// Stand-in for the Azure CLI: records every call (argv) as one JSON line in FAKE_AZ_LOG and answers from the script
// in FAKE_AZ_SCRIPT: the first rule whose `args` all occur in argv answers with its next reply (the last one repeats).
// A call no rule answers fails like the CLI does for an unknown command, so a hook cannot pass by accident.
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';

const argv = process.argv.slice(2);
const { FAKE_AZ_SCRIPT: scriptPath, FAKE_AZ_LOG: logPath } = process.env;
if (!scriptPath || !logPath) {
  process.stderr.write('fake az: FAKE_AZ_SCRIPT and FAKE_AZ_LOG must be set\n');
  process.exit(2);
}
appendFileSync(logPath, `${JSON.stringify(argv)}\n`);
const script = JSON.parse(readFileSync(scriptPath, 'utf8'));
const statePath = `${scriptPath}.state.json`;
const used = existsSync(statePath) ? JSON.parse(readFileSync(statePath, 'utf8')) : {};
const index = script.rules.findIndex((rule) => rule.args.every((arg) => argv.includes(arg)));
if (index < 0) {
  process.stderr.write(`ERROR: fake az: no answer scripted for: az ${argv.join(' ')}\n`);
  process.exit(2);
}
const rule = script.rules[index];
const count = used[index] ?? 0;
used[index] = count + 1;
writeFileSync(statePath, JSON.stringify(used));
const reply = rule.replies[Math.min(count, rule.replies.length - 1)];
if (reply.stdout !== undefined) process.stdout.write(typeof reply.stdout === 'string' ? reply.stdout : JSON.stringify(reply.stdout));
if (reply.stderr) process.stderr.write(`${reply.stderr}\n`);
process.exit(reply.code ?? 0);
