// npm run smoke: can the deployment take a call? Reads the azd environment (or the same values as environment
// variables) and checks the Functions app, the IncomingCall subscription, the worker, its Voice Live session and
// its Service Bus link.
// Exit code 0 when nothing failed. docs/deploy.md, "Smoke check".
import { type CheckResult, checkFunctionsHealth, checkIncomingCallSubscription, checkVoiceLive, checkWorkerReadiness, checkWorkerServiceBus } from './smoke/checks.js';
import { loadValues } from './smoke/values.js';

const MARK: Record<CheckResult['outcome'], string> = { ok: 'ok  ', failed: 'FAIL', skipped: 'skip' };

async function main(): Promise<number> {
  const loaded = loadValues(process.env);
  if ('error' in loaded) {
    process.stderr.write(`smoke: ${loaded.error}\n`);
    return 2;
  }
  const { values } = loaded;
  process.stdout.write(`smoke: Functions ${values.functionsBaseUrl}, worker ${values.workerBaseUrl}\n`);
  const results: CheckResult[] = [
    ...(await checkFunctionsHealth(values)),
    checkIncomingCallSubscription(values),
    await checkWorkerReadiness(values),
    await checkVoiceLive(values),
    await checkWorkerServiceBus(values),
  ];
  for (const result of results) {
    process.stdout.write(`[${MARK[result.outcome]}] ${result.name}: ${result.detail}\n`);
    if (result.fix && result.outcome !== 'ok') process.stdout.write(`       fix: ${result.fix}\n`);
  }
  const failed = results.filter((r) => r.outcome === 'failed').length;
  process.stdout.write(failed === 0 ? 'smoke: the deployment can take a call\n' : `smoke: ${failed} check(s) failed: no call should be expected to work until they pass\n`);
  return failed === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: Error) => {
    process.stderr.write(`smoke: ${error.stack ?? error.message}\n`);
    process.exit(2);
  },
);
