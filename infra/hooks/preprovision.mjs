// azd preprovision hook (azure.yaml runs it with `node` on every platform): fails fast, before anything is created,
// when the Azure CLI cannot act on the subscription azd deploys to, or when the chosen regions cannot host the
// deployment (Functions Flex Consumption, Voice Live, the ACS data location).
import { HookError, azCli, azureError, logger, main, parseJson, requireEnv, runAz } from './lib.mjs';

const HOOK = 'preprovision';
const log = logger(HOOK);

// Voice Live regions: the official call-center accelerator's allowed list (Azure-Samples/call-center-voice-agent-
// accelerator, infra/main.bicep). Per-model availability differs; Microsoft's table is the authority (docs/deploy.md).
export const VOICE_LIVE_REGIONS = [
  'australiaeast', 'brazilsouth', 'canadaeast', 'eastus', 'eastus2', 'francecentral', 'germanywestcentral', 'italynorth',
  'japaneast', 'norwayeast', 'southafricanorth', 'southcentralus', 'southeastasia', 'swedencentral', 'switzerlandnorth',
  'uksouth', 'westeurope', 'westus', 'westus2', 'westus3',
];

// ACS data locations (Microsoft.Communication/communicationServices properties.dataLocation). Not listable through
// the CLI; this list is from community templates and may lag behind Azure (docs/deploy.md says how to skip it).
export const ACS_DATA_LOCATIONS = [
  'Africa', 'Asia Pacific', 'Australia', 'Brazil', 'Canada', 'Europe', 'France', 'Germany', 'India', 'Japan', 'Korea',
  'Norway', 'Switzerland', 'UAE', 'United Kingdom', 'United States',
];

main(HOOK, async () => {
  const env = requireEnv(['AZURE_SUBSCRIPTION_ID', 'AZURE_LOCATION'], 'choose them with: azd env set AZURE_SUBSCRIPTION_ID <id>; azd env set AZURE_LOCATION <region>');
  const subscription = env.AZURE_SUBSCRIPTION_ID;
  const az = azCli(subscription);
  checkSubscription(az, subscription);
  const problems = process.env.PREPROVISION_SKIP_REGION_CHECK === 'true' ? [] : checkRegions(az, env.AZURE_LOCATION);
  if (problems.length > 0) throw new HookError(problems.join('\n'));
  log.info(`subscription ${subscription} and region ${env.AZURE_LOCATION} are fine for this deployment`);
});

/**
 * The hooks pass `--subscription` on every call, so the CLI's default subscription does not decide where they act;
 * but the CLI must be signed in to an account that can act on azd's subscription, in azd's tenant.
 * @param {(args: readonly string[]) => import('./lib.mjs').AzResult} az
 * @param {string} subscription
 */
function checkSubscription(az, subscription) {
  const tenant = (process.env.AZURE_TENANT_ID ?? '').trim();
  const login = `az login${tenant ? ` --tenant ${tenant}` : ''}`;
  const shown = az(['account', 'show', '--output', 'json']);
  if (!shown.ok) {
    throw new HookError(
      `the Azure CLI cannot use subscription ${subscription}, the one azd deploys to (AZURE_SUBSCRIPTION_ID). Azure said:\n${azureError(shown)}\n` +
        `Sign the Azure CLI in with the account azd uses: ${login}, or pick azd's subscription to match the CLI: azd env set AZURE_SUBSCRIPTION_ID <id>`,
    );
  }
  const account = /** @type {{ id?: string, tenantId?: string, user?: { name?: string } }} */ (parseJson(shown, 'account show'));
  if (account.id !== subscription) {
    throw new HookError(`the Azure CLI answered for subscription ${account.id}, not ${subscription} (AZURE_SUBSCRIPTION_ID). Run: az account set --subscription ${subscription}`);
  }
  if (tenant && account.tenantId && account.tenantId !== tenant) {
    throw new HookError(`the Azure CLI uses tenant ${account.tenantId} for subscription ${subscription}, azd uses tenant ${tenant} (AZURE_TENANT_ID). Run: ${login}`);
  }
  // Read without --subscription on purpose: the CLI's default, only to tell the user (the hooks never rely on it).
  const fallback = runAz(['account', 'show', '--query', 'id', '--output', 'tsv']);
  const defaultSubscription = fallback.ok ? fallback.stdout.trim() : '';
  if (defaultSubscription && defaultSubscription !== subscription) {
    log.warn(`the Azure CLI's default subscription is ${defaultSubscription}, azd deploys to ${subscription}; the hooks name azd's subscription on every call, but your own az commands will not (az account set --subscription ${subscription})`);
  }
}

/**
 * @param {(args: readonly string[]) => import('./lib.mjs').AzResult} az
 * @param {string} location
 * @returns {string[]} what is wrong, each with what to do
 */
function checkRegions(az, location) {
  const problems = [];
  const region = normalizeRegion(location);
  const listed = az(['functionapp', 'list-flexconsumption-locations', '--output', 'json']);
  if (!listed.ok) throw new HookError(`could not list the Flex Consumption regions. Azure said:\n${azureError(listed)}`);
  const flexRegions = /** @type {Array<{ name?: string, displayName?: string }>} */ (parseJson(listed, 'list-flexconsumption-locations'))
    .map((entry) => normalizeRegion(entry.name ?? entry.displayName ?? ''))
    .filter(Boolean)
    .sort();
  const both = flexRegions.filter((r) => VOICE_LIVE_REGIONS.includes(r));
  if (!flexRegions.includes(region)) {
    problems.push(`AZURE_LOCATION=${location} does not offer Azure Functions Flex Consumption. Regions with Flex Consumption and Voice Live: ${both.join(', ')}. Run: azd env set AZURE_LOCATION <region>`);
  }
  if (!(process.env.VOICE_LIVE_ENDPOINT_OVERRIDE ?? '').trim()) {
    const aiVariable = (process.env.AZURE_AI_LOCATION ?? '').trim() ? 'AZURE_AI_LOCATION' : 'AZURE_LOCATION';
    const aiLocation = aiVariable === 'AZURE_AI_LOCATION' ? String(process.env.AZURE_AI_LOCATION).trim() : location;
    if (!VOICE_LIVE_REGIONS.includes(normalizeRegion(aiLocation))) {
      problems.push(
        `${aiVariable}=${aiLocation} does not offer Voice Live (the AI Services account is created there). Voice Live regions: ${VOICE_LIVE_REGIONS.join(', ')}. ` +
          `Run: azd env set AZURE_AI_LOCATION <one of them> (or AZURE_LOCATION to one with Flex Consumption too: ${both.join(', ')})`,
      );
    }
  }
  const dataLocation = (process.env.ACS_DATA_LOCATION ?? '').trim() || 'United States';
  if (!ACS_DATA_LOCATIONS.some((known) => known.toLowerCase() === dataLocation.toLowerCase())) {
    problems.push(`ACS_DATA_LOCATION=${dataLocation} is not an ACS data location. Choose one of: ${ACS_DATA_LOCATIONS.join(', ')} (azd env set ACS_DATA_LOCATION "<location>")`);
  }
  if (problems.length > 0) problems.push('If Azure offers more than these lists know, skip this check with: azd env set PREPROVISION_SKIP_REGION_CHECK true');
  return problems;
}

/** `East US 2` and `eastus2` name the same region. @param {string} name */
function normalizeRegion(name) {
  return name.toLowerCase().replace(/\s+/g, '');
}
