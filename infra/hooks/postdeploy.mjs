// azd postdeploy hook (azure.yaml runs it with `node` on every platform). After both services are deployed:
// 1. writes the ACS IncomingCall Event Grid subscription to the Functions webhook (Event Grid validates the webhook
//    when the subscription is written, so the code must be deployed first), with the called-number filter;
// 2. leaves exactly one worker revision serving (old active revisions are deactivated, which drains their calls).
// Idempotent: re-run it with `azd hooks run postdeploy`. The function key is read here and goes only into the
// subscription; it is never printed and never stored in the azd environment.
import { HookError, azCli, azureError, isPermanentAzureError, logger, main, parseJson, requireEnv, retryDelayMs, sleep } from './lib.mjs';

const HOOK = 'postdeploy';
const log = logger(HOOK);
const INCOMING_CALL = 'Microsoft.Communication.IncomingCall';
const CALLED_NUMBER_FIELD = 'data.to.PhoneNumber.Value';
// Microsoft.Web API version of the host keys endpoint (stable, supports Flex Consumption apps).
const WEB_API_VERSION = '2024-11-01';
const KEY_ATTEMPTS = 20;
const SUBSCRIPTION_ATTEMPTS = 3;

main(HOOK, async () => {
  const env = requireEnv(
    ['AZURE_SUBSCRIPTION_ID', 'AZURE_RESOURCE_GROUP', 'AZURE_FUNCTION_APP_NAME', 'FUNCTIONS_BASE_URL', 'ACS_SYSTEM_TOPIC_NAME'],
    "run 'azd provision' first",
  );
  const az = azCli(env.AZURE_SUBSCRIPTION_ID);
  const key = await readFunctionKey(az, env);
  /** @param {string} text */
  const redact = (text) => text.split(key).join('***');
  await writeIncomingCallSubscription(az, env, key, redact);
  const workerApp = (process.env.WORKER_APP_NAME ?? '').trim();
  if (workerApp) keepOneWorkerRevision(az, env.AZURE_RESOURCE_GROUP, workerApp);
  else log.warn('WORKER_APP_NAME is not set: worker revisions not checked (run azd provision to refresh the environment)');
  log.info("calls to the ACS resource's phone numbers now reach the agent; check the whole path with: npm run smoke");
});

/**
 * The Functions host's default function key, from the ARM `host/default/listKeys` action (sturdier than
 * `az functionapp keys list`, which has answered nothing in recent CLI versions). A freshly deployed Flex app needs
 * a moment before its host hands out keys, so failures are retried, except those no wait can fix.
 * @param {(args: readonly string[]) => import('./lib.mjs').AzResult} az
 * @param {Record<string, string>} env
 * @returns {Promise<string>}
 */
async function readFunctionKey(az, env) {
  const url = `/subscriptions/${env.AZURE_SUBSCRIPTION_ID}/resourceGroups/${env.AZURE_RESOURCE_GROUP}/providers/Microsoft.Web/sites/${env.AZURE_FUNCTION_APP_NAME}/host/default/listKeys?api-version=${WEB_API_VERSION}`;
  let lastError = '';
  for (let attempt = 1; attempt <= KEY_ATTEMPTS; attempt++) {
    const result = az(['rest', '--method', 'post', '--url', url, '--output', 'json']);
    if (result.ok) {
      const keys = /** @type {{ functionKeys?: { default?: unknown } }} */ (parseJson(result, 'listKeys'));
      const key = keys.functionKeys?.default;
      if (typeof key === 'string' && key.length > 0) return key;
      lastError = 'the host answered without a default function key (functionKeys.default)';
    } else {
      lastError = azureError(result);
      if (isPermanentAzureError(lastError)) break;
    }
    if (attempt < KEY_ATTEMPTS) {
      log.info(`waiting for the Functions host of ${env.AZURE_FUNCTION_APP_NAME} to hand out keys (${attempt}/${KEY_ATTEMPTS}): ${firstLine(lastError)}`);
      await sleep(retryDelayMs(15_000));
    }
  }
  throw new HookError(
    `could not read the function key of ${env.AZURE_FUNCTION_APP_NAME} in subscription ${env.AZURE_SUBSCRIPTION_ID}. Azure said:\n${lastError}\n` +
      'Retry with: azd hooks run postdeploy',
  );
}

/**
 * Creates or replaces the IncomingCall subscription. Always with `create`, which PUTs the whole subscription:
 * `az eventgrid system-topic event-subscription update` copies the existing filter and only overwrites the advanced
 * filters when `--advanced-filter` is passed (azure-cli eventgrid/custom.py, `_update_event_subscription_internal`
 * and `_update_event_subscription_filter`: `if advanced_filter is not None: ...advanced_filters = advanced_filter`),
 * and offers no way to pass "no filter". So an update would keep an old number filter after CALLED_NUMBERS_ALLOWED
 * changed to a prefix or to empty, and calls to other numbers would silently never arrive. `create`
 * (`cli_system_topic_event_subscription_create_or_update`) sends a complete EventSubscription with begin_create_or_update,
 * which replaces filter, destination and retry policy together.
 * @param {(args: readonly string[]) => import('./lib.mjs').AzResult} az
 * @param {Record<string, string>} env
 * @param {string} key
 * @param {(text: string) => string} redact
 */
async function writeIncomingCallSubscription(az, env, key, redact) {
  const name = (process.env.INCOMING_CALL_SUBSCRIPTION_NAME ?? '').trim() || 'incoming-call';
  const path = (process.env.INCOMING_CALL_PATH ?? '').trim() || '/api/incomingCall';
  const webhook = `${env.FUNCTIONS_BASE_URL.replace(/\/+$/, '')}${path}`;
  const filterNumbers = calledNumberFilter(process.env.CALLED_NUMBERS_ALLOWED ?? '');
  const target = ['-g', env.AZURE_RESOURCE_GROUP, '--system-topic-name', env.ACS_SYSTEM_TOPIC_NAME, '-n', name];

  const existing = az(['eventgrid', 'system-topic', 'event-subscription', 'show', ...target, '--output', 'json']);
  if (!existing.ok && !/ResourceNotFound|not found|does not exist/i.test(existing.stderr)) {
    throw new HookError(`could not read the Event Grid subscription '${name}' of system topic ${env.ACS_SYSTEM_TOPIC_NAME}. Azure said:\n${redact(azureError(existing))}`);
  }
  const previousFilter = existing.ok ? describeFilters(parseJson(existing, 'event-subscription show')) : undefined;

  const args = [
    'eventgrid', 'system-topic', 'event-subscription', 'create', ...target,
    '--endpoint-type', 'webhook',
    '--endpoint', `${webhook}?code=${key}`,
    '--included-event-types', INCOMING_CALL,
    // One event per delivery: the Functions app refuses larger deliveries (functions/incoming-call.ts MAX_EVENTS_PER_DELIVERY).
    '--max-events-per-batch', '1',
    // An expired IncomingCall cannot be answered: retry briefly, then drop.
    '--max-delivery-attempts', '3',
    '--event-ttl', '2',
    ...(filterNumbers.length > 0 ? ['--advanced-filter', CALLED_NUMBER_FIELD, 'StringIn', ...filterNumbers] : []),
    '--output', 'none',
  ];
  // The first request to a cold instance can miss Event Grid's validation window: try a few times.
  for (let attempt = 1; ; attempt++) {
    const result = az(args);
    if (result.ok) break;
    const error = redact(azureError(result));
    if (attempt >= SUBSCRIPTION_ATTEMPTS || isPermanentAzureError(error)) {
      throw new HookError(`Event Grid could not create the subscription '${name}' to ${webhook}. Azure said:\n${error}\nRetry with: azd hooks run postdeploy`);
    }
    log.info(`retrying the subscription (${attempt + 1}/${SUBSCRIPTION_ATTEMPTS}): ${firstLine(error)}`);
    await sleep(retryDelayMs(20_000));
  }

  const action = existing.ok ? 'replaced' : 'created';
  const scope = filterNumbers.length > 0 ? `only for called numbers: ${filterNumbers.join(' ')}` : 'for every number of the ACS resource';
  log.info(`IncomingCall subscription '${name}' ${action} (webhook ${webhook}), ${scope}`);
  if (previousFilter && previousFilter !== describeNumbers(filterNumbers)) log.info(`previous filter removed: ${previousFilter}`);
}

/**
 * Event Grid ANDs its filters, so it filters on the called number only when every entry of CALLED_NUMBERS_ALLOWED is
 * an exact E.164 number; prefixes (`+1833*`) or raw ids are left to the app's own allow list.
 * @param {string} allowed
 * @returns {string[]}
 */
function calledNumberFilter(allowed) {
  const entries = allowed.split(',').map((entry) => entry.trim()).filter(Boolean);
  return entries.length > 0 && entries.every((entry) => /^\+\d+$/.test(entry)) ? entries : [];
}

/** @param {readonly string[]} numbers */
function describeNumbers(numbers) {
  return numbers.length > 0 ? `${CALLED_NUMBER_FIELD} StringIn ${numbers.join(' ')}` : 'none';
}

/**
 * @param {unknown} subscription `az eventgrid system-topic event-subscription show` output
 */
function describeFilters(subscription) {
  const filters = /** @type {{ filter?: { advancedFilters?: Array<{ key?: string, operatorType?: string, values?: unknown[] }> } }} */ (subscription).filter?.advancedFilters ?? [];
  if (filters.length === 0) return 'none';
  return filters.map((f) => `${f.key} ${f.operatorType}${Array.isArray(f.values) ? ` ${f.values.join(' ')}` : ''}`).join('; ');
}

/**
 * The worker runs in single revision mode (infra/modules/worker.bicep): a deploy moves traffic to the new revision
 * once it is ready and the platform deactivates the old one, whose replicas get SIGTERM and drain their live calls
 * (DRAIN_TIMEOUT_S, within terminationGracePeriodSeconds). Revisions left active by the earlier multiple-revision
 * mode (or by a switch the platform has not finished) keep a minimum replica each, billed and idle: any active
 * revision without traffic other than the latest is deactivated here, which drains it the same way.
 * @param {(args: readonly string[]) => import('./lib.mjs').AzResult} az
 * @param {string} resourceGroup
 * @param {string} app
 */
function keepOneWorkerRevision(az, resourceGroup, app) {
  const target = ['-n', app, '-g', resourceGroup];
  const shown = az(['containerapp', 'show', ...target, '--query', 'properties.latestReadyRevisionName', '--output', 'tsv']);
  if (!shown.ok) throw new HookError(`could not read the worker app ${app}. Azure said:\n${azureError(shown)}`);
  const latest = shown.stdout.trim();
  const listed = az(['containerapp', 'revision', 'list', ...target, '--output', 'json']);
  if (!listed.ok) throw new HookError(`could not list the revisions of ${app}. Azure said:\n${azureError(listed)}`);
  const revisions = /** @type {Array<{ name?: string, properties?: { active?: boolean, trafficWeight?: number } }>} */ (parseJson(listed, 'revision list'));
  const stale = revisions.filter((r) => r.properties?.active === true && r.name !== latest && !(Number(r.properties?.trafficWeight) > 0));
  for (const revision of stale) {
    const name = String(revision.name);
    const result = az(['containerapp', 'revision', 'deactivate', '--revision', name, ...target, '--output', 'none']);
    if (!result.ok) throw new HookError(`could not deactivate the old worker revision ${name}. Azure said:\n${azureError(result)}`);
    log.info(`old worker revision ${name} deactivated: its replicas drain their live calls, then stop`);
  }
  log.info(`worker revision serving: ${latest || '(none ready yet)'}${stale.length === 0 ? ' (the only active one)' : ''}`);
}

/** @param {string} text */
function firstLine(text) {
  return text.split('\n').find((line) => line.trim().length > 0)?.trim() ?? '';
}
