import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './bicep.js';
import { type AzRule, flagValue, flagValues, runHook } from './fake-az.js';

// The azd hooks (infra/hooks/*.mjs) run for real as child processes against a stand-in `az` (test/infra/fake-az)
// that records every call and plays Azure's answers, failures included.

const SUBSCRIPTION = '11111111-2222-3333-4444-555555555555';

describe('hook scripts', () => {
  it('import only Node built-ins and each other: azd runs them before anything is installed', () => {
    const dir = join(repoRoot, 'infra', 'hooks');
    const files = readdirSync(dir);
    expect(files.sort()).toEqual(['lib.mjs', 'postdeploy.mjs', 'predeploy.mjs', 'preprovision.mjs']);
    for (const file of files) {
      const specifiers = [...readFileSync(join(dir, file), 'utf8').matchAll(/(?:^|\n)\s*import\b[^'"]*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]/g)].map((m) => m[1] ?? m[2]!);
      expect(specifiers.length, file).toBeGreaterThan(0);
      for (const specifier of specifiers) expect(specifier.startsWith('node:') || /^\.\/[a-z-]+\.mjs$/.test(specifier), `${file}: ${specifier}`).toBe(true);
    }
  });
});
const OTHER_SUBSCRIPTION = '99999999-8888-7777-6666-555555555555';
const TENANT = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee';
const KEY = 'FunctionKey-SECRET-0123456789';

const postdeployEnv = {
  AZURE_SUBSCRIPTION_ID: SUBSCRIPTION,
  AZURE_RESOURCE_GROUP: 'rg-dev',
  AZURE_FUNCTION_APP_NAME: 'func-abc',
  FUNCTIONS_BASE_URL: 'https://func-abc.azurewebsites.net/',
  ACS_SYSTEM_TOPIC_NAME: 'acs-abc-topic',
  WORKER_APP_NAME: 'ca-worker-abc',
};

const keysReply = { stdout: { masterKey: 'MASTER-SECRET', functionKeys: { default: KEY }, systemKeys: {} } };
const notFound = { stderr: "ERROR: (ResourceNotFound) The Resource 'Microsoft.EventGrid/systemTopics/acs-abc-topic/eventSubscriptions/incoming-call' was not found.", code: 3 };

function existingSubscription(numbers: string[]) {
  return {
    stdout: {
      name: 'incoming-call',
      provisioningState: 'Succeeded',
      destination: { endpointType: 'WebHook', endpointBaseUrl: 'https://func-abc.azurewebsites.net/api/incomingCall' },
      filter: {
        includedEventTypes: ['Microsoft.Communication.IncomingCall'],
        advancedFilters: numbers.length > 0 ? [{ key: 'data.to.PhoneNumber.Value', operatorType: 'StringIn', values: numbers }] : [],
      },
    },
  };
}

function postdeployRules(overrides: Partial<Record<'keys' | 'show' | 'create' | 'app' | 'revisions' | 'deactivate', AzRule['replies']>> = {}): AzRule[] {
  return [
    { args: ['rest', '--method', 'post'], replies: overrides.keys ?? [keysReply] },
    { args: ['event-subscription', 'show'], replies: overrides.show ?? [notFound] },
    { args: ['event-subscription', 'create'], replies: overrides.create ?? [{ stdout: '' }] },
    { args: ['containerapp', 'show'], replies: overrides.app ?? [{ stdout: 'ca-worker-abc--azd-2\n' }] },
    {
      args: ['containerapp', 'revision', 'list'],
      replies: overrides.revisions ?? [{ stdout: [{ name: 'ca-worker-abc--azd-2', properties: { active: true, trafficWeight: 100 } }] }],
    },
    { args: ['containerapp', 'revision', 'deactivate'], replies: overrides.deactivate ?? [{ stdout: '' }] },
  ];
}

const createCall = (calls: string[][]) => calls.find((c) => c.includes('event-subscription') && c.includes('create'));

describe('postdeploy hook', () => {
  it('names the azd environment\'s subscription on every az call, whatever the CLI\'s default subscription is', async () => {
    const run = await runHook('infra/hooks/postdeploy.mjs', postdeployRules(), postdeployEnv);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.calls.length).toBeGreaterThanOrEqual(5);
    for (const call of run.calls) {
      if (call[0] === 'rest') {
        // az rest has no --subscription option: the subscription is in the ARM path.
        expect(flagValue(call, '--url')).toContain(`/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-dev/providers/Microsoft.Web/sites/func-abc/host/default/listKeys?api-version=`);
      } else {
        expect(flagValue(call, '--subscription'), call.join(' ')).toBe(SUBSCRIPTION);
      }
    }
  });

  it('reads the function key from the host listKeys endpoint, retrying while the host is not up yet', async () => {
    const starting = { stderr: 'ERROR: Bad Request({"Code":"BadRequest","Message":"Encountered an error (ServiceUnavailable) from host runtime."})', code: 1 };
    const run = await runHook('infra/hooks/postdeploy.mjs', postdeployRules({ keys: [starting, starting, keysReply] }), postdeployEnv);
    expect(run.code).toBe(0);
    expect(run.calls.filter((c) => c[0] === 'rest')).toHaveLength(3);
    expect(run.stdout).toContain('waiting for the Functions host of func-abc to hand out keys (1/20): ERROR: Bad Request');
    expect(flagValue(createCall(run.calls)!, '--endpoint')).toBe(`https://func-abc.azurewebsites.net/api/incomingCall?code=${KEY}`);
  });

  it('stops at once on an error no wait can fix and prints Azure\'s own error text, not a guess', async () => {
    const denied = {
      stderr: `ERROR: (AuthorizationFailed) The client 'me@example.com' does not have authorization to perform action 'Microsoft.Web/sites/host/listkeys/action' over scope '/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-dev/providers/Microsoft.Web/sites/func-abc'.`,
      code: 1,
    };
    const run = await runHook('infra/hooks/postdeploy.mjs', postdeployRules({ keys: [denied] }), postdeployEnv);
    expect(run.code).toBe(1);
    expect(run.calls.filter((c) => c[0] === 'rest')).toHaveLength(1);
    expect(run.stderr).toContain(`could not read the function key of func-abc in subscription ${SUBSCRIPTION}. Azure said:`);
    expect(run.stderr).toContain("(AuthorizationFailed) The client 'me@example.com' does not have authorization");
    expect(run.calls.some((c) => c.includes('event-subscription'))).toBe(false);
  });

  it('gives up after its attempts with the last error Azure gave, when the host never hands out a key', async () => {
    const empty = { stdout: { masterKey: 'MASTER-SECRET', functionKeys: {} } };
    const run = await runHook('infra/hooks/postdeploy.mjs', postdeployRules({ keys: [empty] }), postdeployEnv);
    expect(run.code).toBe(1);
    expect(run.calls.filter((c) => c[0] === 'rest')).toHaveLength(20);
    expect(run.stderr).toContain('the host answered without a default function key (functionKeys.default)');
    expect(run.stderr).toContain('azd hooks run postdeploy');
  });

  it('never prints the function key, not even inside an error Azure echoes the endpoint in', async () => {
    const handshake = {
      stderr: `ERROR: (Url validation) Webhook validation handshake failed for https://func-abc.azurewebsites.net/api/incomingCall?code=${KEY}. Http POST request failed with response code Unknown.`,
      code: 1,
    };
    const run = await runHook('infra/hooks/postdeploy.mjs', postdeployRules({ create: [handshake] }), postdeployEnv);
    expect(run.code).toBe(1);
    expect(run.calls.filter((c) => c.includes('create'))).toHaveLength(3);
    expect(run.stderr).toContain('Webhook validation handshake failed for https://func-abc.azurewebsites.net/api/incomingCall?code=***.');
    expect(`${run.stdout}${run.stderr}`).not.toContain(KEY);
    expect(`${run.stdout}${run.stderr}`).not.toContain('MASTER-SECRET');
  });

  it('creates the IncomingCall subscription with a short retry policy, filtered on the called numbers when all are exact', async () => {
    const run = await runHook('infra/hooks/postdeploy.mjs', postdeployRules(), { ...postdeployEnv, CALLED_NUMBERS_ALLOWED: '+18005550100, +18005550101' });
    expect(run.code).toBe(0);
    const create = createCall(run.calls)!;
    expect(flagValue(create, '--system-topic-name')).toBe('acs-abc-topic');
    expect(flagValue(create, '-n')).toBe('incoming-call');
    expect(flagValue(create, '--included-event-types')).toBe('Microsoft.Communication.IncomingCall');
    expect(flagValue(create, '--max-delivery-attempts')).toBe('3');
    expect(flagValue(create, '--event-ttl')).toBe('2');
    expect(flagValue(create, '--max-events-per-batch')).toBe('1');
    expect(flagValues(create, '--advanced-filter')).toEqual(['data.to.PhoneNumber.Value', 'StringIn', '+18005550100', '+18005550101']);
    expect(run.stdout).toContain("IncomingCall subscription 'incoming-call' created");
  });

  it.each([
    ['a prefix', '+1833*'],
    ['empty', ''],
  ])('replaces a stale number filter when CALLED_NUMBERS_ALLOWED changes to %s (a full PUT, never `update`, which keeps it)', async (_, allowed) => {
    const run = await runHook(
      'infra/hooks/postdeploy.mjs',
      postdeployRules({ show: [existingSubscription(['+18005550100'])] }),
      { ...postdeployEnv, CALLED_NUMBERS_ALLOWED: allowed },
    );
    expect(run.code).toBe(0);
    expect(run.calls.some((c) => c.includes('event-subscription') && c.includes('update'))).toBe(false);
    const create = createCall(run.calls)!;
    expect(create).not.toContain('--advanced-filter');
    expect(run.stdout).toContain("IncomingCall subscription 'incoming-call' replaced");
    expect(run.stdout).toContain('previous filter removed: data.to.PhoneNumber.Value StringIn +18005550100');
  });

  it('replaces the numbers of an existing filter with the new exact numbers', async () => {
    const run = await runHook(
      'infra/hooks/postdeploy.mjs',
      postdeployRules({ show: [existingSubscription(['+18005550100'])] }),
      { ...postdeployEnv, CALLED_NUMBERS_ALLOWED: '+18005550199' },
    );
    expect(run.code).toBe(0);
    expect(flagValues(createCall(run.calls)!, '--advanced-filter')).toEqual(['data.to.PhoneNumber.Value', 'StringIn', '+18005550199']);
  });

  it('fails with Azure\'s error when the subscription cannot be read for another reason than not existing', async () => {
    const run = await runHook('infra/hooks/postdeploy.mjs', postdeployRules({ show: [{ stderr: "ERROR: (AuthorizationFailed) no access to 'acs-abc-topic'", code: 1 }] }), postdeployEnv);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("(AuthorizationFailed) no access to 'acs-abc-topic'");
    expect(createCall(run.calls)).toBeUndefined();
  });

  it('deactivates worker revisions left active without traffic, keeping the latest ready one serving', async () => {
    const revisions = [
      { name: 'ca-worker-abc--azd-0', properties: { active: false, trafficWeight: 0 } },
      { name: 'ca-worker-abc--azd-1', properties: { active: true, trafficWeight: 0 } },
      { name: 'ca-worker-abc--azd-2', properties: { active: true, trafficWeight: 100 } },
    ];
    const run = await runHook('infra/hooks/postdeploy.mjs', postdeployRules({ revisions: [{ stdout: revisions }] }), postdeployEnv);
    expect(run.code).toBe(0);
    const deactivated = run.calls.filter((c) => c.includes('deactivate'));
    expect(deactivated.map((c) => flagValue(c, '--revision'))).toEqual(['ca-worker-abc--azd-1']);
    expect(flagValue(deactivated[0]!, '-n')).toBe('ca-worker-abc');
    expect(run.stdout).toContain('old worker revision ca-worker-abc--azd-1 deactivated: its replicas drain their live calls');
    expect(run.stdout).toContain('worker revision serving: ca-worker-abc--azd-2');
  });

  it('deactivates nothing when the latest revision is the only active one', async () => {
    const run = await runHook('infra/hooks/postdeploy.mjs', postdeployRules(), postdeployEnv);
    expect(run.code).toBe(0);
    expect(run.calls.filter((c) => c.includes('deactivate'))).toEqual([]);
    expect(run.stdout).toContain('worker revision serving: ca-worker-abc--azd-2 (the only active one)');
  });

  it('names every missing azd value and calls no az at all', async () => {
    const { AZURE_SUBSCRIPTION_ID: _, FUNCTIONS_BASE_URL: __, ...rest } = postdeployEnv;
    const run = await runHook('infra/hooks/postdeploy.mjs', postdeployRules(), rest);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("AZURE_SUBSCRIPTION_ID, FUNCTIONS_BASE_URL are not set in the azd environment; run 'azd provision' first");
    expect(run.calls).toEqual([]);
  });
});

const flexLocations = { stdout: [{ name: 'eastus' }, { name: 'eastus2' }, { name: 'swedencentral' }, { name: 'northeurope' }, { name: 'centralindia' }] };
const account = (id: string, tenantId = TENANT) => ({ stdout: { id, tenantId, user: { name: 'me@example.com', type: 'user' } } });

function preprovisionRules(overrides: Partial<Record<'account' | 'default' | 'flex', AzRule['replies']>> = {}): AzRule[] {
  return [
    { args: ['account', 'show', '--subscription'], replies: overrides.account ?? [account(SUBSCRIPTION)] },
    { args: ['account', 'show'], replies: overrides.default ?? [{ stdout: `${SUBSCRIPTION}\n` }] },
    { args: ['functionapp', 'list-flexconsumption-locations'], replies: overrides.flex ?? [flexLocations] },
  ];
}
const preprovisionEnv = { AZURE_SUBSCRIPTION_ID: SUBSCRIPTION, AZURE_TENANT_ID: TENANT, AZURE_LOCATION: 'eastus2' };

describe('preprovision hook', () => {
  it('passes when az can use azd\'s subscription and the region offers Flex Consumption and Voice Live', async () => {
    const run = await runHook('infra/hooks/preprovision.mjs', preprovisionRules(), preprovisionEnv);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`subscription ${SUBSCRIPTION} and region eastus2 are fine`);
    expect(flagValue(run.calls.find((c) => c.includes('list-flexconsumption-locations'))!, '--subscription')).toBe(SUBSCRIPTION);
  });

  it('fails fast when az is signed in where azd\'s subscription is not reachable, with Azure\'s error and the fix', async () => {
    const missing = { stderr: `ERROR: Subscription '${SUBSCRIPTION}' not found. Check the spelling and casing and try again.`, code: 1 };
    const run = await runHook('infra/hooks/preprovision.mjs', preprovisionRules({ account: [missing] }), preprovisionEnv);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`the Azure CLI cannot use subscription ${SUBSCRIPTION}, the one azd deploys to (AZURE_SUBSCRIPTION_ID)`);
    expect(run.stderr).toContain(`Subscription '${SUBSCRIPTION}' not found.`);
    expect(run.stderr).toContain(`az login --tenant ${TENANT}`);
    expect(run.calls.some((c) => c.includes('list-flexconsumption-locations'))).toBe(false);
  });

  it('fails when az reaches the subscription through another tenant than azd', async () => {
    const run = await runHook('infra/hooks/preprovision.mjs', preprovisionRules({ account: [account(SUBSCRIPTION, 'ffffffff-0000-0000-0000-000000000000')] }), preprovisionEnv);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`azd uses tenant ${TENANT} (AZURE_TENANT_ID)`);
  });

  it('only warns when the CLI\'s default subscription differs, since every hook call names azd\'s', async () => {
    const run = await runHook('infra/hooks/preprovision.mjs', preprovisionRules({ default: [{ stdout: `${OTHER_SUBSCRIPTION}\n` }] }), preprovisionEnv);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain(`WARNING: the Azure CLI's default subscription is ${OTHER_SUBSCRIPTION}, azd deploys to ${SUBSCRIPTION}`);
  });

  it('reads the region the way azd and Azure write it (East US 2 = eastus2)', async () => {
    const displayNames = { stdout: [{ name: 'East US 2' }, { name: 'Sweden Central' }] };
    const run = await runHook('infra/hooks/preprovision.mjs', preprovisionRules({ flex: [displayNames] }), { ...preprovisionEnv, AZURE_LOCATION: 'EastUS2' });
    expect(run.code).toBe(0);
  });

  it('refuses a region without Flex Consumption and lists the regions with Flex Consumption and Voice Live', async () => {
    const run = await runHook('infra/hooks/preprovision.mjs', preprovisionRules(), { ...preprovisionEnv, AZURE_LOCATION: 'westus3' });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('AZURE_LOCATION=westus3 does not offer Azure Functions Flex Consumption. Regions with Flex Consumption and Voice Live: eastus, eastus2, swedencentral.');
  });

  it('refuses a Voice Live region that has none, naming the variable that chose it', async () => {
    const run = await runHook('infra/hooks/preprovision.mjs', preprovisionRules(), { ...preprovisionEnv, AZURE_LOCATION: 'northeurope' });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('AZURE_LOCATION=northeurope does not offer Voice Live');
    const split = await runHook('infra/hooks/preprovision.mjs', preprovisionRules(), { ...preprovisionEnv, AZURE_LOCATION: 'northeurope', AZURE_AI_LOCATION: 'swedencentral' });
    expect(split.code).toBe(0);
    const existing = await runHook('infra/hooks/preprovision.mjs', preprovisionRules(), { ...preprovisionEnv, AZURE_LOCATION: 'northeurope', VOICE_LIVE_ENDPOINT_OVERRIDE: 'https://x.cognitiveservices.azure.com/' });
    expect(existing.code).toBe(0);
  });

  it('refuses an ACS data location ACS does not have, and lists those it has', async () => {
    const run = await runHook('infra/hooks/preprovision.mjs', preprovisionRules(), { ...preprovisionEnv, ACS_DATA_LOCATION: 'Atlantis' });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('ACS_DATA_LOCATION=Atlantis is not an ACS data location. Choose one of: Africa, Asia Pacific');
    expect(run.stderr).toContain('PREPROVISION_SKIP_REGION_CHECK');
  });
});

const predeployEnv = {
  AZURE_SUBSCRIPTION_ID: SUBSCRIPTION,
  AZURE_RESOURCE_GROUP: 'rg-dev',
  AZURE_CONTAINER_REGISTRY_NAME: 'crabc',
  WORKER_PRINCIPAL_ID: 'worker-principal-id',
};
const assignment = (createdOn: Date) => ({ stdout: [{ roleDefinitionName: 'AcrPull', createdOn: createdOn.toISOString() }] });

describe('predeploy hook (first-deploy race: AcrPull before the first image pull)', () => {
  it('goes on at once when the worker\'s AcrPull role was granted long ago, asking in azd\'s subscription', async () => {
    const run = await runHook('infra/hooks/predeploy.mjs', [{ args: ['role', 'assignment', 'list'], replies: [assignment(new Date(Date.now() - 3600_000))] }], predeployEnv);
    expect(run.code).toBe(0);
    expect(run.stdout).not.toContain('waiting');
    const call = run.calls[0]!;
    expect(flagValue(call, '--subscription')).toBe(SUBSCRIPTION);
    expect(flagValue(call, '--assignee')).toBe('worker-principal-id');
    expect(flagValue(call, '--role')).toBe('7f951dda-4ed3-4680-a7ca-43fe172d538d');
    expect(flagValue(call, '--scope')).toBe(`/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-dev/providers/Microsoft.ContainerRegistry/registries/crabc`);
  });

  it('waits for a just granted role to take effect before the deploy pulls the first image', async () => {
    const started = Date.now();
    const run = await runHook('infra/hooks/predeploy.mjs', [{ args: ['role', 'assignment', 'list'], replies: [assignment(new Date())] }], { ...predeployEnv, ROLE_PROPAGATION_WAIT_S: '1' });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/waiting \d s more for it to take effect before the first image pull/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(500);
  });

  it('waits 5 minutes from the assignment by default', async () => {
    // Granted 295 s ago: up to 5 s are left of the 300, even when a loaded machine is slow to start the hook.
    const run = await runHook('infra/hooks/predeploy.mjs', [{ args: ['role', 'assignment', 'list'], replies: [assignment(new Date(Date.now() - 295_000))] }], predeployEnv);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/granted 29\d s ago; waiting [1-5] s more/);
  });

  it('retries while a just written assignment is not listed yet, then goes on', async () => {
    const run = await runHook('infra/hooks/predeploy.mjs', [{ args: ['role', 'assignment', 'list'], replies: [{ stdout: [] }, { stdout: [] }, assignment(new Date(Date.now() - 3600_000))] }], predeployEnv);
    expect(run.code).toBe(0);
    expect(run.calls).toHaveLength(3);
    expect(run.stdout).toContain('not listed yet (1/5)');
  });

  it('fails with the fix when the role is missing for good', async () => {
    const run = await runHook('infra/hooks/predeploy.mjs', [{ args: ['role', 'assignment', 'list'], replies: [{ stdout: [] }] }], predeployEnv);
    expect(run.code).toBe(1);
    expect(run.calls).toHaveLength(5);
    expect(run.stderr).toContain("has no AcrPull role on registry crabc: the worker could not pull its image. Run 'azd provision'");
  });
});
