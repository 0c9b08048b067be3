import { spawnSync } from 'node:child_process';
import type { SmokeValues } from './values.js';

/** One line of the report: what was checked, and on failure what to fix. `skipped` when it could not be checked. */
export interface CheckResult {
  name: string;
  outcome: 'ok' | 'failed' | 'skipped';
  detail: string;
  fix?: string;
}

const HTTP_TIMEOUT_MS = 30_000;

interface HttpAnswer {
  status: number;
  text: string;
  json: unknown;
}

async function get(url: string, timeoutMs = HTTP_TIMEOUT_MS): Promise<HttpAnswer | { error: string }> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
    const text = await response.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: response.status, text, json };
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    return { error: cause?.code ?? cause?.message ?? (error as Error).message };
  }
}

const excerpt = (text: string) => (text.length > 200 ? `${text.slice(0, 200)}...` : text).replace(/\s+/g, ' ').trim();

/** GET /api/health: 200 `{status:"ok"}` when the app's configuration is valid, 503 `{status:"misconfigured", problems}`. */
export async function checkFunctionsHealth(values: SmokeValues): Promise<CheckResult[]> {
  const name = 'Functions app health';
  const url = `${values.functionsBaseUrl}/api/health`;
  const answer = await get(url);
  if ('error' in answer) {
    return [{ name, outcome: 'failed', detail: `${url} did not answer (${answer.error})`, fix: 'Check that the functions service deployed: azd deploy functions, then the app\'s logs in the portal (Log stream).' }];
  }
  const body = (answer.json ?? {}) as { status?: unknown; problems?: unknown; serviceBus?: unknown; checks?: unknown; outboundCalls?: unknown };
  const results: CheckResult[] = [];
  if (answer.status === 200 && body.status === 'ok') {
    results.push({ name, outcome: 'ok', detail: `${url}: configuration valid` });
  } else if (body.status === 'degraded') {
    results.push({ name, outcome: 'ok', detail: `${url}: configuration valid (a dependency failed: see below)` });
  } else if (body.status === 'misconfigured') {
    const problems = Array.isArray(body.problems) ? (body.problems as { variable?: unknown; message?: unknown }[]) : [];
    const listed = problems.map((p) => `${String(p.variable)}: ${String(p.message)}`).join('; ');
    results.push({
      name,
      outcome: 'failed',
      detail: `the app runs but its configuration is invalid: ${listed || excerpt(answer.text)}`,
      fix: `Set ${problems.map((p) => String(p.variable)).join(', ') || 'the named settings'} (azd env set NAME value, then azd provision).`,
    });
  } else if (answer.status === 404) {
    results.push({ name, outcome: 'failed', detail: `${url} answered 404: no health function is registered`, fix: 'The functions code is not deployed (or failed to index): azd deploy functions.' });
  } else {
    results.push({ name, outcome: 'failed', detail: `${url} answered ${answer.status}: ${excerpt(answer.text)}`, fix: 'Read the app\'s logs (portal: Log stream) and redeploy: azd deploy functions.' });
  }
  results.push(serviceBusFromHealth(body, 'Functions identity'));
  results.push(outboundCallsFromHealth(body));
  return results;
}

/** How POST /api/calls is set up, as the health route reports it: information, not a pass or fail. */
function outboundCallsFromHealth(body: { outboundCalls?: unknown }): CheckResult {
  const name = 'Outbound calls';
  const reported = body.outboundCalls as { auth?: unknown; killSwitch?: unknown; allowedPrefixes?: unknown } | undefined;
  if (typeof reported !== 'object' || reported === null) return { name, outcome: 'skipped', detail: 'not reported by /api/health' };
  const auth = reported.auth === 'entra' ? 'Microsoft Entra tokens (app roles)' : 'the function key';
  const prefixes = typeof reported.allowedPrefixes === 'number' ? reported.allowedPrefixes : 0;
  const reach = reported.killSwitch === 'on' ? 'kill switch ON: no new call is placed' : prefixes === 0 ? 'no destination allowed (OUTBOUND_ALLOWED_PREFIXES is empty): every call is refused' : `${prefixes} destination prefix${prefixes === 1 ? '' : 'es'} allowed`;
  return { name, outcome: 'ok', detail: `POST /api/calls takes ${auth}; ${reach}` };
}

/** Service Bus as the Functions health route reports it, when it does (`serviceBus` or `checks.serviceBus`). */
function serviceBusFromHealth(body: { serviceBus?: unknown; checks?: unknown }, who: string): CheckResult {
  const name = `Service Bus (${who})`;
  const reported = body.serviceBus ?? (body.checks as { serviceBus?: unknown } | undefined)?.serviceBus;
  if (reported === undefined) return { name, outcome: 'skipped', detail: 'not reported by /api/health' };
  const status = typeof reported === 'object' && reported !== null ? (reported as { status?: unknown }).status : reported;
  const ok = status === 'ok' || status === true;
  return ok
    ? { name, outcome: 'ok', detail: 'reachable' }
    : { name, outcome: 'failed', detail: `not reachable: ${JSON.stringify(reported)}`, fix: 'Check the identity\'s Azure Service Bus Data Sender role on the namespace (infra/modules/role-assignments.bicep); new roles take minutes.' };
}

/** The ACS IncomingCall subscription exists, points at our webhook, and Event Grid validated it. */
export function checkIncomingCallSubscription(values: SmokeValues): CheckResult {
  const name = 'IncomingCall Event Grid subscription';
  const missing = [
    ['AZURE_SUBSCRIPTION_ID', values.subscriptionId],
    ['AZURE_RESOURCE_GROUP', values.resourceGroup],
    ['ACS_SYSTEM_TOPIC_NAME', values.systemTopic],
  ].filter(([, value]) => !value).map(([variable]) => variable);
  if (missing.length > 0) return { name, outcome: 'skipped', detail: `${missing.join(', ')} not set` };
  const args = [
    'eventgrid', 'system-topic', 'event-subscription', 'show',
    '-g', values.resourceGroup!, '--system-topic-name', values.systemTopic!, '-n', values.incomingCallSubscription,
    '--subscription', values.subscriptionId!, '--output', 'json',
  ];
  const windows = process.platform === 'win32';
  const az = windows
    ? spawnSync(['az', ...args.map((a) => `"${a}"`)].join(' '), { shell: true, encoding: 'utf8' })
    : spawnSync('az', args, { encoding: 'utf8' });
  if (az.error) return { name, outcome: 'skipped', detail: `the Azure CLI could not run (${az.error.message})`, fix: 'Install the Azure CLI to check the subscription: https://aka.ms/installazurecli' };
  if (az.status !== 0) {
    const error = (az.stderr || '').trim();
    const notFound = /ResourceNotFound|not found/i.test(error);
    return {
      name,
      outcome: 'failed',
      detail: notFound ? `subscription '${values.incomingCallSubscription}' does not exist on ${values.systemTopic}: no call reaches the app` : `Azure said: ${error}`,
      fix: 'Create it: azd hooks run postdeploy',
    };
  }
  const subscription = JSON.parse(az.stdout) as {
    provisioningState?: string;
    destination?: { endpointBaseUrl?: string; endpointType?: string };
    filter?: { includedEventTypes?: string[]; advancedFilters?: { key?: string; values?: unknown[] }[] };
  };
  const expected = `${values.functionsBaseUrl}${values.incomingCallPath}`;
  const actual = subscription.destination?.endpointBaseUrl ?? '';
  if (subscription.provisioningState !== 'Succeeded') {
    return {
      name,
      outcome: 'failed',
      detail: `provisioningState is ${subscription.provisioningState}: Event Grid has not validated the webhook`,
      fix: 'Make /api/health answer ok first, then: azd hooks run postdeploy',
    };
  }
  if (actual.replace(/\/+$/, '').toLowerCase() !== expected.toLowerCase()) {
    return { name, outcome: 'failed', detail: `it delivers to ${actual || '(no webhook)'}, not to ${expected}`, fix: 'Point it at this deployment: azd hooks run postdeploy' };
  }
  if (!(subscription.filter?.includedEventTypes ?? []).includes('Microsoft.Communication.IncomingCall')) {
    return { name, outcome: 'failed', detail: `it does not include Microsoft.Communication.IncomingCall events`, fix: 'azd hooks run postdeploy' };
  }
  const numbers = (subscription.filter?.advancedFilters ?? []).flatMap((f) => (f.values ?? []).map(String));
  return { name, outcome: 'ok', detail: `validated, delivers to ${expected}${numbers.length > 0 ? `, only for called numbers ${numbers.join(' ')}` : ', for every number'}` };
}

/** The worker's readiness through its public ingress (the same /readyz the platform probes). */
export async function checkWorkerReadiness(values: SmokeValues): Promise<CheckResult> {
  const name = 'Worker readiness (public ingress)';
  const url = `${values.workerBaseUrl}/readyz`;
  const answer = await get(url);
  if ('error' in answer) {
    return { name, outcome: 'failed', detail: `${url} did not answer (${answer.error})`, fix: 'Check the worker revision: az containerapp revision list -n <WORKER_APP_NAME> -g <AZURE_RESOURCE_GROUP> -o table, and its logs: az containerapp logs show.' };
  }
  if (answer.status === 200) return { name, outcome: 'ok', detail: `${url}: ${excerpt(answer.text)}` };
  return {
    name,
    outcome: 'failed',
    detail: `${url} answered ${answer.status}: ${excerpt(answer.text)}`,
    fix: answer.text.includes('draining') ? 'The replica is shutting down (a deploy or scale-in); try again in a minute.' : answer.text.includes('capacity') ? 'Every replica is at MAX_CALLS: raise WORKER_MAX_REPLICAS or MAX_CALLS.' : 'Read the worker logs: az containerapp logs show -n <WORKER_APP_NAME> -g <AZURE_RESOURCE_GROUP>.',
  };
}

/** The worker opens one Voice Live session with its own identity (GET /readyz/voice-live, cached 60 s by the worker). */
export async function checkVoiceLive(values: SmokeValues): Promise<CheckResult> {
  const name = 'Voice Live session with the worker identity';
  const url = `${values.workerBaseUrl}/readyz/voice-live`;
  const answer = await get(url);
  if ('error' in answer) return { name, outcome: 'failed', detail: `${url} did not answer (${answer.error})`, fix: 'See the worker readiness above.' };
  const body = (answer.json ?? {}) as { voiceLive?: { ok?: boolean; error?: string; checkedAt?: string; cached?: boolean } };
  if (answer.status === 404) return { name, outcome: 'failed', detail: `${url} answered 404: the running worker image has no Voice Live check`, fix: 'Deploy the current worker: azd deploy worker' };
  if (answer.status === 200 && body.voiceLive?.ok) {
    return { name, outcome: 'ok', detail: `session opened and configured${body.voiceLive.cached ? ` (result of ${body.voiceLive.checkedAt}, cached by the worker)` : ''}` };
  }
  const error = body.voiceLive?.error ?? excerpt(answer.text);
  return { name, outcome: 'failed', detail: `Voice Live refused the worker's session: ${error}`, fix: voiceLiveFix(error) };
}

function voiceLiveFix(error: string): string {
  if (/\b(401|403)\b|AUTH|denied|unauthori[sz]ed|forbidden/i.test(error)) {
    return "The worker identity needs Cognitive Services User and Azure AI User on the AI Services account (infra/modules/role-assignments.bicep; with VOICE_LIVE_ENDPOINT_OVERRIDE you grant them yourself). New roles take minutes: try again in 10 minutes.";
  }
  if (/\b404\b|not ?found|DeploymentNotFound/i.test(error)) return 'Check VOICE_LIVE_ENDPOINT and the model or agent name (VOICE_LIVE_MODEL, VOICE_LIVE_AGENT_NAME), then azd provision.';
  if (/\b429\b|rate|quota/i.test(error)) return 'The AI Services account is throttled or out of quota: check its quota in the Foundry portal.';
  return 'Read the worker logs (az containerapp logs show) and docs/deploy.md, Smoke check.';
}

/** The worker attaches to Service Bus with its identity (GET /readyz/service-bus, cached 60 s by the worker). */
export async function checkWorkerServiceBus(values: SmokeValues): Promise<CheckResult> {
  const name = 'Service Bus (worker identity)';
  const url = `${values.workerBaseUrl}/readyz/service-bus`;
  const answer = await get(url);
  if ('error' in answer) return { name, outcome: 'failed', detail: `${url} did not answer (${answer.error})`, fix: 'See the worker readiness above.' };
  if (answer.status === 404) return { name, outcome: 'failed', detail: `${url} answered 404: the running worker image has no Service Bus check`, fix: 'Deploy the current worker: azd deploy worker' };
  const body = (answer.json ?? {}) as { serviceBus?: { ok?: boolean; error?: string } };
  if (answer.status === 200 && body.serviceBus?.ok) return { name, outcome: 'ok', detail: 'the worker attached to the call-records queue' };
  return {
    name,
    outcome: 'failed',
    detail: `the worker could not attach to Service Bus: ${body.serviceBus?.error ?? excerpt(answer.text)}`,
    fix: 'The worker identity needs Azure Service Bus Data Sender on call-records and Data Receiver on call-events (infra/modules/role-assignments.bicep); new roles take minutes. Check SERVICEBUS_FULLY_QUALIFIED_NAMESPACE on the worker.',
  };
}
