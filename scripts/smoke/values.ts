import { spawnSync } from 'node:child_process';

/** The deployment's values the smoke check reads: azd outputs (infra/main.bicep) and azd's own. */
export interface SmokeValues {
  functionsBaseUrl: string;
  /** http(s) base of the worker's public ingress, derived from WORKER_MEDIA_URL (wss://<fqdn>/ws). */
  workerBaseUrl: string;
  subscriptionId: string | undefined;
  resourceGroup: string | undefined;
  systemTopic: string | undefined;
  incomingCallSubscription: string;
  incomingCallPath: string;
}

/** `KEY="value"` lines as `azd env get-values` prints them (values are double-quoted, with \" escapes). */
export function parseEnvValues(text: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line.trim());
    if (!match) continue;
    let value = match[2]!;
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1).replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    values[match[1]!] = value;
  }
  return values;
}

/**
 * The azd environment's values (`azd env get-values`), with the process environment on top, so the same values can
 * be given as variables (CI, the lab) without azd. azd is only asked when FUNCTIONS_BASE_URL is not given.
 */
export function loadValues(env: NodeJS.ProcessEnv): { values: SmokeValues } | { error: string } {
  let merged: Record<string, string | undefined> = { ...env };
  if (!env.FUNCTIONS_BASE_URL) {
    const azd = spawnSync('azd', ['env', 'get-values'], { encoding: 'utf8', shell: process.platform === 'win32' });
    if (azd.error || azd.status !== 0) {
      const why = azd.error ? azd.error.message : (azd.stderr || azd.stdout).trim();
      return { error: `could not read the azd environment (azd env get-values): ${why}\nRun this in the project folder after azd up, or give FUNCTIONS_BASE_URL and WORKER_MEDIA_URL as environment variables.` };
    }
    merged = { ...parseEnvValues(azd.stdout), ...env };
  }
  const missing = ['FUNCTIONS_BASE_URL', 'WORKER_MEDIA_URL'].filter((name) => !merged[name]);
  if (missing.length > 0) return { error: `${missing.join(', ')} not set: run azd provision first (they are outputs of infra/main.bicep)` };
  let workerBaseUrl: string;
  try {
    const media = new URL(merged.WORKER_MEDIA_URL!);
    media.protocol = media.protocol === 'wss:' ? 'https:' : media.protocol === 'ws:' ? 'http:' : media.protocol;
    workerBaseUrl = media.origin;
  } catch {
    return { error: `WORKER_MEDIA_URL is not a URL: ${merged.WORKER_MEDIA_URL}` };
  }
  return {
    values: {
      functionsBaseUrl: merged.FUNCTIONS_BASE_URL!.replace(/\/+$/, ''),
      workerBaseUrl,
      subscriptionId: merged.AZURE_SUBSCRIPTION_ID || undefined,
      resourceGroup: merged.AZURE_RESOURCE_GROUP || undefined,
      systemTopic: merged.ACS_SYSTEM_TOPIC_NAME || undefined,
      incomingCallSubscription: merged.INCOMING_CALL_SUBSCRIPTION_NAME || 'incoming-call',
      incomingCallPath: merged.INCOMING_CALL_PATH || '/api/incomingCall',
    },
  };
}
