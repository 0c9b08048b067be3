// azd predeploy hook (azure.yaml runs it with `node` on every platform), before the services are deployed.
// First-deploy race: provisioning grants the worker's identity AcrPull on the registry, and `azd deploy` then points
// the worker at its first image in that registry. A role assignment takes minutes to take effect; a pull before that
// fails the revision and `azd up` with it. Nothing can test the worker identity's access from the deployer's
// sign-in, so this hook waits until the assignment is old enough (ROLE_PROPAGATION_WAIT_S after its createdOn).
// Only the first deploy waits: later ones find an assignment long since in effect.
import { HookError, azCli, azureError, logger, main, parseJson, requireEnv, retryDelayMs, sleep } from './lib.mjs';

const HOOK = 'predeploy';
const log = logger(HOOK);
const ACR_PULL_ROLE_ID = '7f951dda-4ed3-4680-a7ca-43fe172d538d';
// Microsoft's RBAC troubleshooting page gives up to 10 minutes for a change to take effect (docs/deploy.md); the
// registry build between provisioning and the image pull adds minutes of its own, so 5 more are waited at most.
const DEFAULT_PROPAGATION_WAIT_S = 300;
const LIST_ATTEMPTS = 5;

main(HOOK, async () => {
  const env = requireEnv(['AZURE_SUBSCRIPTION_ID', 'AZURE_RESOURCE_GROUP', 'AZURE_CONTAINER_REGISTRY_NAME', 'WORKER_PRINCIPAL_ID'], "run 'azd provision' first");
  const az = azCli(env.AZURE_SUBSCRIPTION_ID);
  const configuredWait = Number(process.env.ROLE_PROPAGATION_WAIT_S);
  const waitS = Number.isFinite(configuredWait) && configuredWait >= 0 && process.env.ROLE_PROPAGATION_WAIT_S !== '' ? configuredWait : DEFAULT_PROPAGATION_WAIT_S;
  const scope = `/subscriptions/${env.AZURE_SUBSCRIPTION_ID}/resourceGroups/${env.AZURE_RESOURCE_GROUP}/providers/Microsoft.ContainerRegistry/registries/${env.AZURE_CONTAINER_REGISTRY_NAME}`;

  let createdOn;
  for (let attempt = 1; attempt <= LIST_ATTEMPTS && createdOn === undefined; attempt++) {
    const listed = az(['role', 'assignment', 'list', '--assignee', env.WORKER_PRINCIPAL_ID, '--role', ACR_PULL_ROLE_ID, '--scope', scope, '--output', 'json']);
    if (!listed.ok) throw new HookError(`could not read the worker identity's role assignments on ${env.AZURE_CONTAINER_REGISTRY_NAME}. Azure said:\n${azureError(listed)}`);
    const assignments = /** @type {Array<{ createdOn?: string }>} */ (parseJson(listed, 'role assignment list'));
    const times = assignments.map((a) => Date.parse(a.createdOn ?? '')).filter(Number.isFinite);
    if (times.length > 0) createdOn = Math.min(...times);
    else if (attempt < LIST_ATTEMPTS) {
      // Just written role assignments can take a moment to be listed (ARM replicates reads).
      log.info(`AcrPull of the worker identity on ${env.AZURE_CONTAINER_REGISTRY_NAME} not listed yet (${attempt}/${LIST_ATTEMPTS})`);
      await sleep(retryDelayMs(10_000));
    }
  }
  if (createdOn === undefined) {
    throw new HookError(`the worker identity (${env.WORKER_PRINCIPAL_ID}) has no AcrPull role on registry ${env.AZURE_CONTAINER_REGISTRY_NAME}: the worker could not pull its image. Run 'azd provision' (infra/modules/role-assignments.bicep grants it).`);
  }
  const remainingMs = createdOn + waitS * 1000 - Date.now();
  if (remainingMs > 0) {
    log.info(`the worker's AcrPull role was granted ${Math.round((Date.now() - createdOn) / 1000)} s ago; waiting ${Math.ceil(remainingMs / 1000)} s more for it to take effect before the first image pull`);
    await sleep(remainingMs);
  }
  log.info('the worker identity can pull from the registry');
});
