// Shared by the azd hooks (preprovision, predeploy, postdeploy). Node built-ins only: azd runs the hooks before any
// `npm install` of this project could have happened, so nothing from node_modules is available here.
import { spawnSync } from 'node:child_process';

/** A hook failure with the message the user reads; `main` prints it and exits 1. */
export class HookError extends Error {}

/**
 * @param {string} hook
 * @returns {{ info: (message: string) => void, warn: (message: string) => void }}
 */
export function logger(hook) {
  return {
    info: (message) => process.stdout.write(`${hook}: ${message}\n`),
    warn: (message) => process.stderr.write(`${hook}: WARNING: ${message}\n`),
  };
}

/**
 * The azd environment values a hook needs (azd passes the whole environment to hooks as process variables).
 * @param {readonly string[]} names
 * @param {string} hint what to run when one is missing
 * @returns {Record<string, string>}
 */
export function requireEnv(names, hint) {
  /** @type {Record<string, string>} */
  const values = {};
  const missing = [];
  for (const name of names) {
    const value = (process.env[name] ?? '').trim();
    if (value) values[name] = value;
    else missing.push(name);
  }
  if (missing.length > 0) throw new HookError(`${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not set in the azd environment; ${hint}`);
  return values;
}

/**
 * Delay between retries. AZD_HOOK_RETRY_DELAY_MS replaces every delay (tests, or a slow region: a larger value).
 * @param {number} defaultMs
 */
export function retryDelayMs(defaultMs) {
  const override = Number(process.env.AZD_HOOK_RETRY_DELAY_MS);
  return Number.isFinite(override) && override >= 0 && process.env.AZD_HOOK_RETRY_DELAY_MS !== '' ? override : defaultMs;
}

/** @param {number} ms */
export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * @typedef {{ ok: boolean, code: number, stdout: string, stderr: string }} AzResult
 */

/**
 * Runs the Azure CLI. Every call names the azd environment's subscription with `--subscription`, so the CLI's own
 * default subscription (`az account set`) never decides where the hook reads or writes. `az rest` has no
 * `--subscription` option (azure-cli util/_params.py): its calls carry the subscription in the ARM path instead.
 * @param {string} subscriptionId
 * @returns {(args: readonly string[]) => AzResult}
 */
export function azCli(subscriptionId) {
  return (args) => {
    const withSubscription = args[0] === 'rest' ? [...args] : [...args, '--subscription', subscriptionId];
    return runAz(withSubscription);
  };
}

/**
 * @param {readonly string[]} args
 * @returns {AzResult}
 */
export function runAz(args) {
  const windows = process.platform === 'win32';
  // On Windows `az` is az.cmd, which Node starts only through the shell: quote every argument for cmd.exe.
  const result = windows
    ? spawnSync(['az', ...args.map((arg) => `"${arg.replace(/"/g, '""')}"`)].join(' '), { shell: true, encoding: 'utf8' })
    : spawnSync('az', [...args], { encoding: 'utf8' });
  if (result.error) {
    const reason = /** @type {NodeJS.ErrnoException} */ (result.error).code === 'ENOENT' ? 'the Azure CLI (az) is not installed or not on PATH; install it: https://aka.ms/installazurecli' : result.error.message;
    return { ok: false, code: -1, stdout: '', stderr: reason };
  }
  return { ok: result.status === 0, code: result.status ?? -1, stdout: result.stdout ?? '', stderr: (result.stderr ?? '').trim() };
}

/**
 * Azure's own error text of a failed call (the CLI writes it to stderr), never swallowed.
 * @param {AzResult} result
 */
export function azureError(result) {
  return result.stderr || `az exited with code ${result.code} and printed no error`;
}

/**
 * @param {AzResult} result
 * @param {string} what
 * @returns {unknown}
 */
export function parseJson(result, what) {
  try {
    return JSON.parse(result.stdout);
  } catch {
    throw new HookError(`${what}: the Azure CLI answered something that is not JSON: ${result.stdout.slice(0, 200)}`);
  }
}

/**
 * Errors no retry can fix: wrong subscription, no access, missing resources, not signed in.
 * @param {string} stderr
 */
export function isPermanentAzureError(stderr) {
  return /AuthorizationFailed|SubscriptionNotFound|InvalidSubscriptionId|ResourceGroupNotFound|ResourceNotFound|az login|InvalidAuthenticationToken/i.test(stderr);
}

/**
 * Runs a hook's body and turns a HookError into one clear message and exit code 1.
 * @param {string} hook
 * @param {() => Promise<void>} body
 */
export function main(hook, body) {
  body().catch((error) => {
    const message = error instanceof HookError ? error.message : (error instanceof Error ? error.stack ?? error.message : String(error));
    process.stderr.write(`${hook}: ERROR: ${message}\n`);
    process.exit(1);
  });
}
