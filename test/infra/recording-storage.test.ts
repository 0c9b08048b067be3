import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Node } from 'web-tree-sitter';
import { functionsConfigSchema } from '../../shared/config/functions.js';
import { at, descendants, literal, modules, outputs, parameters, parseBicepFile, properties, repoRoot, resources, variable } from './bicep.js';
import { type BicepValue, conditionNode, evaluate, outputNode, templateScope } from './bicep-eval.js';

/**
 * Call recording under azd: CALL_RECORDING=audio gives ACS an identity and, unless the deployer names their own
 * container (CALL_RECORDING_STORAGE_URL), a recording storage account, a container, a lifecycle rule and the role
 * ACS writes with, and hands the container URL to the Functions app. The templates' own expressions are evaluated
 * for each scenario (bicep-eval.ts), so these tests follow the conditions Bicep deploys with, not their spelling.
 */

const infra = (...path: string[]): string => join(repoRoot, 'infra', ...path);
const STORAGE_BLOB_DATA_CONTRIBUTOR = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe';
const TOKEN = 'abc123def456g';
const OUR_CONTAINER_URL = `https://strec${TOKEN}.blob.core.windows.net/recordings`;
const OWN_URL = 'https://theirs.blob.core.windows.net/calls';
const ACS_PRINCIPAL = '11111111-2222-3333-4444-555555555555';

/** main.parameters.json as azd resolves it in an environment where nothing was set: `${NAME=default}` -> default. */
function azdDefaults(value: unknown): BicepValue {
  if (typeof value === 'string') {
    const match = /^\$\{[A-Z0-9_]+(?:=([^}]*))?\}$/.exec(value);
    return match ? (match[1] ?? '') : value;
  }
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, azdDefaults(v)]));
  return value as BicepValue;
}
const parametersFile = JSON.parse(readFileSync(infra('main.parameters.json'), 'utf8')) as { parameters: Record<string, { value: unknown }> };
const DEFAULT_FUNCTIONS_SETTINGS = azdDefaults(parametersFile.parameters.functionsSettings!.value) as Record<string, BicepValue>;

interface Scenario {
  name: string;
  functionsSettings: Record<string, BicepValue>;
  identity: boolean;
  storage: boolean;
  url: string | undefined;
}
const SCENARIOS: Scenario[] = [
  { name: 'default deployment (nothing set)', functionsSettings: DEFAULT_FUNCTIONS_SETTINGS, identity: false, storage: false, url: undefined },
  { name: 'no functionsSettings at all', functionsSettings: {}, identity: false, storage: false, url: undefined },
  { name: 'CALL_RECORDING=off', functionsSettings: { ...DEFAULT_FUNCTIONS_SETTINGS, CALL_RECORDING: 'off' }, identity: false, storage: false, url: undefined },
  { name: 'CALL_RECORDING=audio', functionsSettings: { ...DEFAULT_FUNCTIONS_SETTINGS, CALL_RECORDING: 'audio' }, identity: true, storage: true, url: OUR_CONTAINER_URL },
  {
    name: 'CALL_RECORDING=audio with the deployer\'s own CALL_RECORDING_STORAGE_URL',
    functionsSettings: { ...DEFAULT_FUNCTIONS_SETTINGS, CALL_RECORDING: 'audio', CALL_RECORDING_STORAGE_URL: OWN_URL },
    identity: true,
    storage: false,
    url: OWN_URL,
  },
];

describe('call recording storage under azd', () => {
  let main: Node;
  let storageModule: Node;
  let communicationModule: Node;
  let rolesModule: Node;
  let functionsModule: Node;

  beforeAll(async () => {
    main = await parseBicepFile(infra('main.bicep'));
    storageModule = await parseBicepFile(infra('modules', 'recording-storage.bicep'));
    communicationModule = await parseBicepFile(infra('modules', 'communication.bicep'));
    rolesModule = await parseBicepFile(infra('modules', 'role-assignments.bicep'));
    functionsModule = await parseBicepFile(infra('modules', 'functions.bicep'));
  });

  const moduleBody = (symbol: string): Node => modules(main).find((m) => m.symbol === symbol)!.body;

  /** What the recording-storage module outputs, from its own expressions (Azure supplies the blob endpoint). */
  function recordingStorageOutputs(mainScope: (name: string) => BicepValue): Record<string, BicepValue> {
    const account = evaluate(at(moduleBody('recordingStorage'), 'params', 'storageAccountName')!, mainScope) as string;
    const given: Record<string, BicepValue> = { storageAccountName: account, location: 'x', tags: {}, coolAfterDays: 30, deleteAfterDays: 0 };
    const scope = templateScope(storageModule, given);
    const container = resources(storageModule).find((r) => r.type.startsWith('Microsoft.Storage/storageAccounts/blobServices/containers@'))!;
    const resourceStubs = {
      storage: { name: account, properties: { primaryEndpoints: { blob: `https://${account}.blob.core.windows.net/` } } },
      container: { name: evaluate(properties(container.body).get('name')!, scope) },
    };
    const withResources = templateScope(storageModule, { ...given, ...resourceStubs });
    return Object.fromEntries(outputs(storageModule).map((name) => [name, evaluate(outputNode(storageModule, name), withResources)]));
  }

  function mainScope(functionsSettings: Record<string, BicepValue>): (name: string) => BicepValue {
    const given: Record<string, BicepValue> = {
      functionsSettings,
      resourceToken: TOKEN,
      environmentName: 'env',
      recordingCoolAfterDays: 30,
      recordingDeleteAfterDays: 0,
      communication: { outputs: { principalId: ACS_PRINCIPAL } },
    };
    const scope = templateScope(main, given);
    given.recordingStorage = { outputs: recordingStorageOutputs(scope) };
    return templateScope(main, given);
  }

  /** The Functions app settings the `appsettings` resource applies, for the settings main.bicep passes. */
  function functionsAppSettings(scope: (name: string) => BicepValue): Record<string, BicepValue> {
    const settings = evaluate(at(moduleBody('functions'), 'params', 'settings')!, scope);
    const given: Record<string, BicepValue> = Object.fromEntries(parameters(functionsModule).map((name) => [name, `<${name}>`]));
    given.settings = settings;
    given.functionApp = { properties: { defaultHostName: 'func.azurewebsites.net' } };
    const config = resources(functionsModule).find((r) => r.type.startsWith('Microsoft.Web/sites/config@'))!;
    return evaluate(properties(config.body).get('properties')!, templateScope(functionsModule, given)) as Record<string, BicepValue>;
  }

  describe.each(SCENARIOS)('$name', (scenario) => {
    it(`ACS identity ${scenario.identity ? 'on' : 'off'}; recording storage and its role ${scenario.storage ? 'created' : 'not created'}`, () => {
      const scope = mainScope(scenario.functionsSettings);
      expect(evaluate(conditionNode(main, 'recordingStorage')!, scope)).toBe(scenario.storage);
      expect(evaluate(at(moduleBody('communication'), 'params', 'systemAssignedIdentity')!, scope)).toBe(scenario.identity);
      expect(evaluate(at(moduleBody('roles'), 'params', 'grantRecordingStorageAccess')!, scope)).toBe(scenario.storage);
    });

    it(`the Functions app gets CALL_RECORDING_STORAGE_URL = ${scenario.url ?? '(unset)'}`, () => {
      const appSettings = functionsAppSettings(mainScope(scenario.functionsSettings));
      expect(appSettings.CALL_RECORDING_STORAGE_URL).toBe(scenario.url);
      // Nothing else of the deployer's settings is changed or dropped (empty ones are left unset, as before).
      for (const [key, value] of Object.entries(scenario.functionsSettings)) {
        if (key !== 'CALL_RECORDING_STORAGE_URL') expect(appSettings[key], key).toBe(value === '' ? undefined : value);
      }
    });

    it('outputs where recordings go and the ACS principal to grant, and nothing azd would read back as an input', () => {
      const scope = mainScope(scenario.functionsSettings);
      expect(evaluate(outputNode(main, 'RECORDING_CONTAINER_URL'), scope)).toBe(scenario.url ?? '');
      // The communication module's output is empty without the identity (its own expression, below).
      expect(evaluate(outputNode(main, 'ACS_PRINCIPAL_ID'), scope)).toBe(ACS_PRINCIPAL);
    });
  });

  it('the container URL we hand over is the one the Functions config accepts, https://<account>.blob.core.windows.net/recordings', () => {
    const url = recordingStorageOutputs(mainScope({ CALL_RECORDING: 'audio' })).containerUrl as string;
    expect(url).toBe(OUR_CONTAINER_URL);
    expect(functionsConfigSchema.shape.CALL_RECORDING_STORAGE_URL.parse(url)).toBe(url);
    // A storage account name: 3-24 lowercase letters and digits, and not the Functions account.
    const account = evaluate(at(variable(main, 'names'), 'recordingStorage')!, mainScope({}));
    expect(account).toMatch(/^[a-z0-9]{3,24}$/);
    expect(account).not.toBe(evaluate(at(variable(main, 'names'), 'storage')!, mainScope({})));
  });

  it('no output is named CALL_RECORDING_STORAGE_URL: azd would feed our container back in as the deployer\'s own storage', () => {
    expect(outputs(main)).not.toContain('CALL_RECORDING_STORAGE_URL');
  });

  it('ACS gets a system-assigned identity only when asked, and outputs its principal then only', () => {
    const acs = resources(communicationModule).find((r) => r.type.startsWith('Microsoft.Communication/communicationServices@'))!;
    // identity on communicationServices is in the 2025-05-01 types (bicep-types-az ManagedServiceIdentity).
    expect(acs.type.split('@')[1]! >= '2025-05-01').toBe(true);
    const on = templateScope(communicationModule, { systemAssignedIdentity: true, communication: { identity: { principalId: ACS_PRINCIPAL } } });
    const off = templateScope(communicationModule, { systemAssignedIdentity: false, communication: {} });
    expect(evaluate(properties(acs.body).get('identity')!, on)).toEqual({ type: 'SystemAssigned' });
    expect(evaluate(properties(acs.body).get('identity')!, off)).toBeNull();
    expect(evaluate(outputNode(communicationModule, 'principalId'), on)).toBe(ACS_PRINCIPAL);
    expect(evaluate(outputNode(communicationModule, 'principalId'), off)).toBe('');
  });

  it('the role is Storage Blob Data Contributor for the ACS principal on the recording storage account, and only when it is created', () => {
    const assignment = resources(rolesModule).find((r) => r.symbol === 'acsRecordingStorage')!;
    const scope = (grant: boolean): ((name: string) => BicepValue) =>
      templateScope(rolesModule, { grantRecordingStorageAccess: grant, acsPrincipalId: ACS_PRINCIPAL, recordingStorageAccountName: `strec${TOKEN}` });
    expect(evaluate(conditionNode(rolesModule, 'acsRecordingStorage')!, scope(true))).toBe(true);
    expect(evaluate(conditionNode(rolesModule, 'acsRecordingStorage')!, scope(false))).toBe(false);
    expect(evaluate(at(assignment.body, 'properties', 'principalId')!, scope(true))).toBe(ACS_PRINCIPAL);
    expect(literal(at(assignment.body, 'properties', 'principalType'))).toBe('ServicePrincipal');
    const roleId = /builtInRoles\.(\w+)\)$/.exec(at(assignment.body, 'properties', 'roleDefinitionId')!.text)![1]!;
    expect(evaluate(at(variable(rolesModule, 'builtInRoles'), roleId)!, scope(true))).toBe(STORAGE_BLOB_DATA_CONTRIBUTOR);
    // Scoped to the account main.bicep creates: the same name goes to the module and to the role assignment.
    expect(properties(assignment.body).get('scope')!.text).toBe('recordingStorage');
    const existing = resources(rolesModule).find((r) => r.symbol === 'recordingStorage')!;
    expect(existing.type.startsWith('Microsoft.Storage/storageAccounts@')).toBe(true);
    expect(properties(existing.body).get('name')!.text).toBe('recordingStorageAccountName');
    const s = mainScope({ CALL_RECORDING: 'audio' });
    expect(evaluate(at(moduleBody('roles'), 'params', 'recordingStorageAccountName')!, s)).toBe(
      evaluate(at(moduleBody('recordingStorage'), 'params', 'storageAccountName')!, s),
    );
    expect(evaluate(at(moduleBody('roles'), 'params', 'acsPrincipalId')!, s)).toBe(ACS_PRINCIPAL);
    // The roles module names the account, so it must wait for the module that creates it.
    expect(properties(moduleBody('roles')).get('dependsOn')!.text).toMatch(/\brecordingStorage\b/);
  });

  it('the recording account: no shared keys, no public blobs, TLS 1.2, a private container', () => {
    const account = resources(storageModule).find((r) => r.type.startsWith('Microsoft.Storage/storageAccounts@'))!;
    expect(at(account.body, 'properties', 'allowSharedKeyAccess')!.text).toBe('false');
    expect(at(account.body, 'properties', 'allowBlobPublicAccess')!.text).toBe('false');
    expect(literal(at(account.body, 'properties', 'minimumTlsVersion'))).toBe('TLS1_2');
    const container = resources(storageModule).find((r) => r.type.startsWith('Microsoft.Storage/storageAccounts/blobServices/containers@'))!;
    expect(literal(at(container.body, 'properties', 'publicAccess'))).toBe('None');
  });

  it('lifecycle: recordings move to cool after recordingCoolAfterDays (30 by default), are deleted only if recordingDeleteAfterDays is set', () => {
    const policy = resources(storageModule).find((r) => r.type.startsWith('Microsoft.Storage/storageAccounts/managementPolicies@'))!;
    const scope = (coolAfterDays: number, deleteAfterDays: number): ((name: string) => BicepValue) =>
      templateScope(storageModule, { coolAfterDays, deleteAfterDays });
    const rule = (cool: number, del: number): BicepValue => evaluate(at(policy.body, 'properties', 'policy', 'rules')!, scope(cool, del));
    expect(rule(30, 0)).toEqual([
      {
        name: 'recordings-lifecycle',
        enabled: true,
        type: 'Lifecycle',
        definition: {
          filters: { blobTypes: ['blockBlob'], prefixMatch: ['recordings/'] },
          actions: { baseBlob: { tierToCool: { daysAfterModificationGreaterThan: 30 } } },
        },
      },
    ]);
    expect((rule(30, 365) as { definition: { actions: unknown } }[])[0]!.definition.actions).toEqual({
      baseBlob: { tierToCool: { daysAfterModificationGreaterThan: 30 }, delete: { daysAfterModificationGreaterThan: 365 } },
    });
    // Both 0: no policy (an empty rule would be rejected).
    expect(evaluate(conditionNode(storageModule, 'lifecycle')!, scope(0, 0))).toBe(false);
    expect(evaluate(conditionNode(storageModule, 'lifecycle')!, scope(30, 0))).toBe(true);
    // main.bicep passes its parameters through, read from azd values with these defaults.
    const body = moduleBody('recordingStorage');
    expect(at(body, 'params', 'coolAfterDays')!.text).toBe('recordingCoolAfterDays');
    expect(at(body, 'params', 'deleteAfterDays')!.text).toBe('recordingDeleteAfterDays');
    expect(parametersFile.parameters.recordingCoolAfterDays!.value).toBe('${CALL_RECORDING_COOL_AFTER_DAYS=30}');
    expect(parametersFile.parameters.recordingDeleteAfterDays!.value).toBe('${CALL_RECORDING_DELETE_AFTER_DAYS=0}');
  });

  it('the evaluator follows what it cannot evaluate by throwing, not guessing', () => {
    const scope = templateScope(main, { functionsSettings: { CALL_RECORDING: 'audio' } });
    const uniqueString = descendants(main, 'call_expression').find((c) => c.namedChildren[0]?.text === 'uniqueString')!;
    expect(() => evaluate(uniqueString, scope)).toThrow(/unsupported function uniqueString/);
    // The module's outputs were not given: the taken branch needs them.
    expect(() => evaluate(variable(main, 'functionsSettingsWithRecordingStorage')!, scope)).toThrow(/unknown identifier recordingStorage/);
  });
});
