import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import type { Node } from 'web-tree-sitter';
import { functionsConfigSchema } from '../../shared/config/functions.js';
import { workerConfigSchema } from '../../shared/config/worker.js';
import { evaluate, templateScope } from './bicep-eval.js';
import { at, bicepFiles, descendants, literal, modules, outputs, parameters, parseBicepFile, properties, repoPath, repoRoot, resourceCondition, resources, variable } from './bicep.js';

const infra = (...path: string[]): string => join(repoRoot, 'infra', ...path);

/** Keys whose schema rejects "unset": neither optional nor defaulted. */
function requiredKeys(schema: z.ZodObject): string[] {
  return Object.entries(schema.shape)
    .filter(([, field]) => !(field as z.ZodType).safeParse(undefined).success)
    .map(([key]) => key);
}

/** Container env entries `{ name: 'X', value: ... }` of the given array variables. */
function envNames(root: Node, ...variables: string[]): string[] {
  return variables.flatMap((name) => {
    const value = variable(root, name);
    if (!value) throw new Error(`variable ${name} not found`);
    return descendants(value, 'object').flatMap((entry) => {
      const key = literal(properties(entry).get('name'));
      return key ? [key] : [];
    });
  });
}

function objectKeys(root: Node, name: string): string[] {
  const value = variable(root, name);
  if (!value || value.type !== 'object') throw new Error(`object variable ${name} not found`);
  return [...properties(value).keys()];
}

describe('settings wiring: worker container env <-> workerConfigSchema', () => {
  let worker: Node;
  let workerEnv: string[];
  beforeAll(async () => {
    worker = await parseBicepFile(infra('modules', 'worker.bicep'));
    workerEnv = envNames(worker, 'requiredEnv', 'optionalEnv');
  });

  it('sets every variable the worker schema requires', () => {
    expect(requiredKeys(workerConfigSchema).filter((key) => !workerEnv.includes(key))).toEqual([]);
  });

  it('sets what the schema needs in Azure through its cross-field rules (MEDIA_AUTH=acs needs the ACS id; a model or an agent)', () => {
    const required = envNames(worker, 'requiredEnv');
    for (const key of ['MEDIA_AUTH', 'ACS_RESOURCE_ID', 'AZURE_CLIENT_ID', 'APPLICATIONINSIGHTS_CONNECTION_STRING', 'DRAIN_TIMEOUT_S', 'PORT']) {
      expect(required).toContain(key);
    }
    expect(workerEnv).toEqual(expect.arrayContaining(['VOICE_LIVE_MODEL', 'VOICE_LIVE_AGENT_NAME', 'VOICE_LIVE_AGENT_PROJECT']));
  });

  it('sets no variable the worker does not read (no dead settings)', () => {
    const read = Object.keys(workerConfigSchema.shape);
    const dead = workerEnv.filter((key) => !read.includes(key));
    expect(dead).toEqual([]);
  });

  it('never gives the worker an API key: Voice Live uses its managed identity', () => {
    expect(workerEnv).not.toContain('VOICE_LIVE_API_KEY');
    const mediaAuth = descendants(variable(worker, 'requiredEnv')!, 'object').find((o) => literal(properties(o).get('name')) === 'MEDIA_AUTH');
    expect(literal(properties(mediaAuth!).get('value'))).toBe('acs');
  });

  it('passes the three env lists to the container, the optional one filtered on empty values', () => {
    const app = resources(worker).find((r) => r.type.startsWith('Microsoft.App/containerApps@') && r.symbol === 'worker')!;
    const container = descendants(at(app.body, 'properties', 'template', 'containers')!, 'object')[0]!;
    const env = properties(container).get('env')!.text;
    expect(env).toMatch(/^concat\(requiredEnv, filter\(optionalEnv, (\w+) => !empty\(\1\.value\)\), settingsEnv\)$/);
  });
});

interface ParametersFile {
  parameters: Record<string, { value: unknown }>;
}
const parametersFile = (): ParametersFile => JSON.parse(readFileSync(infra('main.parameters.json'), 'utf8')) as ParametersFile;

/** The azd value a `${NAME=default}` parameter reads, else undefined. */
const azdName = (value: unknown): string | undefined => (typeof value === 'string' ? /^\$\{([A-Z0-9_]+)(=[^}]*)?\}$/.exec(value)?.[1] : undefined);

describe('settings wiring: every worker tuning variable can be set with `azd env set NAME value`', () => {
  // The variables the issue names, and the call-control settings a deployer tunes.
  const ISSUE_LIST = [
    'VOICE_LIVE_AGENT_ID', 'VOICE_LIVE_AGENT_VERSION', 'VOICE_LIVE_VOICE_TYPE', 'VOICE_LIVE_VOICE_ENDPOINT_ID', 'VOICE_LIVE_VOICE_TEMPERATURE',
    'VOICE_LIVE_VOICE_RATE', 'VOICE_LIVE_VOICE_STYLE', 'VOICE_LIVE_VOICE_LOCALE', 'VOICE_LIVE_TURN_DETECTION', 'VOICE_LIVE_VAD_THRESHOLD',
    'VOICE_LIVE_VAD_PREFIX_PADDING_MS', 'VOICE_LIVE_VAD_SILENCE_DURATION_MS', 'VOICE_LIVE_REMOVE_FILLER_WORDS', 'VOICE_LIVE_VAD_LANGUAGES',
    'VOICE_LIVE_EOU_MODEL', 'VOICE_LIVE_EOU_THRESHOLD_LEVEL', 'VOICE_LIVE_EOU_TIMEOUT_MS', 'VOICE_LIVE_NOISE_SUPPRESSION',
    'VOICE_LIVE_ECHO_CANCELLATION', 'VOICE_LIVE_TRANSCRIPTION_MODEL', 'VOICE_LIVE_TRANSCRIPTION_LANGUAGE', 'VOICE_LIVE_GREETING_INSTRUCTION',
    'VOICE_LIVE_AUDIO_RATE', 'LOG_LEVEL', 'CALL_MAX_MINUTES', 'CALL_MAX_TOKENS', 'CALL_CAP_ACTION', 'CALL_CAP_GRACE_S', 'RECORD_TRANSCRIPTS',
    'TOOL_TIMEOUT_MS', 'TOOL_FILLER_TEXT', 'TOOL_FILLER_AFTER_MS', 'CUSTOM_TOOLS', 'TRANSFER_TARGET', 'TRANSFER_TIMEOUT_MS', 'DTMF_TRANSFER_KEY',
  ];
  // Variables with a main.bicep parameter of their own, because main.bicep decides with them (model vs agent, the
  // default project, the replica grace period).
  const DEDICATED: Record<string, string> = {
    VOICE_LIVE_MODEL: 'voiceLiveModel',
    VOICE_LIVE_AGENT_NAME: 'voiceLiveAgentName',
    VOICE_LIVE_AGENT_ID: 'voiceLiveAgentId',
    VOICE_LIVE_AGENT_PROJECT: 'voiceLiveAgentProject',
    DRAIN_TIMEOUT_S: 'drainTimeoutSeconds',
  };
  // Variables azd deliberately does not offer: wired from the resources Bicep creates, fixed by the container, or
  // secrets and local-lab overrides that have no place in Azure.
  const NOT_FROM_AZD = {
    fromResources: ['VOICE_LIVE_ENDPOINT', 'ACS_RESOURCE_ID', 'ACS_ENDPOINT', 'SERVICEBUS_FULLY_QUALIFIED_NAMESPACE', 'CALL_EVENTS_QUEUE', 'CALL_RECORDS_QUEUE', 'OUTBOUND_STATUS_QUEUE', 'AZURE_CLIENT_ID', 'APPLICATIONINSIGHTS_CONNECTION_STRING', 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'],
    fixed: ['PORT', 'HOST', 'MEDIA_AUTH'],
    secretsAndLocal: ['VOICE_LIVE_API_KEY', 'ACS_CONNECTION_STRING', 'SERVICEBUS_CONNECTION_STRING', 'ACS_TOKEN_ISSUER', 'ACS_JWKS_URL'],
  };

  let settings: Record<string, unknown>;
  let main: Node;
  let worker: Node;
  beforeAll(async () => {
    settings = parametersFile().parameters.workerSettings!.value as Record<string, unknown>;
    main = await parseBicepFile(infra('main.bicep'));
    worker = await parseBicepFile(infra('modules', 'worker.bicep'));
  });

  it('reads each setting from the azd value of the same name, empty by default (= not set)', () => {
    const wrong = Object.entries(settings).filter(([key, value]) => value !== `\${${key}=}`);
    expect(wrong).toEqual([]);
    expect(Object.keys(settings).length).toBeGreaterThan(40);
  });

  it('offers every variable the issue names, each exactly once (as a setting or a dedicated parameter)', () => {
    const offered = [...Object.keys(settings), ...Object.keys(DEDICATED)];
    expect(ISSUE_LIST.filter((key) => !offered.includes(key))).toEqual([]);
    expect(Object.keys(settings).filter((key) => key in DEDICATED)).toEqual([]);
  });

  it('covers the whole worker schema: each variable is offered through azd, or set from resources, fixed, or local-only', () => {
    const accounted = [...Object.keys(settings), ...Object.keys(DEDICATED), ...Object.values(NOT_FROM_AZD).flat()];
    expect(Object.keys(workerConfigSchema.shape).filter((key) => !accounted.includes(key))).toEqual([]);
    expect(accounted.filter((key) => !(key in workerConfigSchema.shape))).toEqual([]);
    expect(new Set(accounted).size).toBe(accounted.length);
  });

  it('settings are worker variables Bicep does not set itself, and never a secret or a local-lab override', () => {
    const bicepSet = envNames(worker, 'requiredEnv', 'optionalEnv');
    const keys = Object.keys(settings);
    expect(keys.filter((key) => !(key in workerConfigSchema.shape))).toEqual([]);
    expect(keys.filter((key) => bicepSet.includes(key))).toEqual([]);
    expect(keys.filter((key) => [...NOT_FROM_AZD.secretsAndLocal, ...NOT_FROM_AZD.fixed].includes(key))).toEqual([]);
  });

  it('the dedicated parameters read the azd value named after the variable', () => {
    const params = parametersFile().parameters;
    for (const [variableName, param] of Object.entries(DEDICATED)) {
      expect(azdName(params[param]?.value), param).toBe(variableName);
    }
  });

  it('caps each replica at twice the scale rule\'s calls per replica unless MAX_CALLS is set', () => {
    const settingsFor = (workerSettings: Record<string, string>, perReplica = 50) =>
      evaluate(variable(main, 'workerSettingsWithCallCap')!, templateScope(main, { workerSettings, workerConcurrentCallsPerReplica: perReplica }));
    expect(settingsFor({ LOG_LEVEL: 'info', MAX_CALLS: '' })).toEqual({ LOG_LEVEL: 'info', MAX_CALLS: '100' });
    expect(settingsFor({}, 30)).toEqual({ MAX_CALLS: '60' });
    expect(settingsFor({ MAX_CALLS: '0' })).toEqual({ MAX_CALLS: '0' });
    expect(settingsFor({ MAX_CALLS: '75' })).toEqual({ MAX_CALLS: '75' });
    expect(workerConfigSchema.shape.MAX_CALLS).toBeDefined();
  });

  it('reaches the container env: main.bicep hands workerSettings to the worker, which adds each non-empty entry by name', () => {
    const declaration = descendants(main, 'parameter_declaration').find((d) => d.namedChildren[0]?.text === 'workerSettings')!;
    expect(declaration.namedChildren[1]?.text).toBe('object');
    const workerModule = modules(main).find((m) => m.symbol === 'worker')!;
    expect(at(workerModule.body, 'params', 'settings')?.text).toBe('workerSettingsWithCallCap');
    expect(variable(worker, 'settingsEnv')!.text.replace(/\s+/g, ' ')).toMatch(
      /^map\(filter\(items\(settings\), (\w+) => !empty\(\1\.value\)\), (\w+) => \{ name: \2\.key value: string\(\2\.value\) \}\)$/,
    );
  });

  it('an agent (by name or id) switches the worker to agent mode: no model is set alongside it', () => {
    expect(variable(main, 'agentMode')!.text).toBe('!empty(voiceLiveAgentName) || !empty(voiceLiveAgentId)');
    const params = modules(main).find((m) => m.symbol === 'worker')!;
    expect(at(params.body, 'params', 'voiceLiveModel')!.text).toBe("agentMode ? '' : voiceLiveModel");
    expect(at(params.body, 'params', 'voiceLiveAgentId')!.text).toBe('voiceLiveAgentId');
    const optional = envNames(worker, 'optionalEnv');
    expect(optional).toEqual(['VOICE_LIVE_MODEL', 'VOICE_LIVE_AGENT_NAME', 'VOICE_LIVE_AGENT_ID', 'VOICE_LIVE_AGENT_PROJECT']);
  });

  it('no output feeds back into a different input: azd writes every output into the env the parameters are read from', () => {
    const inputs = new Map<string, string>();
    const collect = (param: string, value: unknown): void => {
      const name = azdName(value);
      if (name) inputs.set(name, param);
      else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) collect(k, v);
    };
    for (const [param, { value }] of Object.entries(parametersFile().parameters)) collect(param, value);
    // These outputs echo the value their input had (or its default), so the round trip changes nothing.
    const ECHOES = ['AZURE_LOCATION', 'INCOMING_CALL_SUBSCRIPTION_NAME', 'AZURE_AI_PROJECT_NAME'];
    expect(outputs(main).filter((name) => inputs.has(name) && !ECHOES.includes(name))).toEqual([]);
    // The effective endpoint is an output; the existing-endpoint input has another name.
    expect(outputs(main)).toContain('VOICE_LIVE_ENDPOINT');
    expect(inputs.get('VOICE_LIVE_ENDPOINT_OVERRIDE')).toBe('voiceLiveEndpointOverride');
  });
});

describe('agent mode under azd: a Foundry project, or an existing endpoint', () => {
  let main: Node;
  let ai: Node;
  let roles: Node;
  beforeAll(async () => {
    main = await parseBicepFile(infra('main.bicep'));
    ai = await parseBicepFile(infra('modules', 'ai.bicep'));
    roles = await parseBicepFile(infra('modules', 'role-assignments.bicep'));
  });

  it('the AI Services account allows projects and has the managed identity projects need', () => {
    const account = resources(ai).find((r) => r.type.startsWith('Microsoft.CognitiveServices/accounts@'))!;
    expect(literal(properties(account.body).get('kind'))).toBe('AIServices');
    expect(at(account.body, 'properties', 'allowProjectManagement')!.text).toBe('true');
    expect(literal(at(account.body, 'identity', 'type'))).toBe('SystemAssigned');
  });

  it('creates one Foundry project in that account (API 2025-06-01 or later), named by the aiProjectName parameter or derived', () => {
    const projects = resources(ai).filter((r) => r.type.startsWith('Microsoft.CognitiveServices/accounts/projects@'));
    expect(projects).toHaveLength(1);
    const project = projects[0]!;
    expect(project.type.split('@')[1]! >= '2025-06-01').toBe(true);
    expect(properties(project.body).get('parent')!.text).toBe('account');
    expect(properties(project.body).get('name')!.text).toBe('projectName');
    expect(literal(at(project.body, 'identity', 'type'))).toBe('SystemAssigned');
    expect(outputs(ai)).toContain('projectName');
    const aiModule = modules(main).find((m) => m.symbol === 'ai')!;
    expect(at(aiModule.body, 'params', 'projectName')!.text).toBe('names.aiProject');
    expect(at(variable(main, 'names'), 'aiProject')!.text).toMatch(/^empty\(aiProjectName\) \? '[a-z-]+\$\{resourceToken\}' : aiProjectName$/);
    expect(azdName(parametersFile().parameters.aiProjectName!.value)).toBe('AZURE_AI_PROJECT_NAME');
  });

  it('an agent without a project uses the created project; a named project wins; no project in model mode', () => {
    expect(variable(main, 'voiceLiveAgentProjectOrDefault')!.text.replace(/\s+/g, ' ')).toBe(
      "!empty(voiceLiveAgentProject) ? voiceLiveAgentProject : (agentMode && createAi ? names.aiProject : '')",
    );
    const workerModule = modules(main).find((m) => m.symbol === 'worker')!;
    expect(at(workerModule.body, 'params', 'voiceLiveAgentProject')!.text).toBe('voiceLiveAgentProjectOrDefault');
  });

  it('an existing endpoint replaces the new account: no account, project or AI role is created, the worker uses that endpoint', () => {
    expect(variable(main, 'createAi')!.text).toBe('empty(voiceLiveEndpointOverride)');
    expect(modules(main).find((m) => m.symbol === 'ai')!.condition).toBe('createAi');
    expect(variable(main, 'voiceLiveEndpoint')!.text).toBe('createAi ? ai!.outputs.endpoint : voiceLiveEndpointOverride');
    const workerModule = modules(main).find((m) => m.symbol === 'worker')!;
    expect(at(workerModule.body, 'params', 'voiceLiveEndpoint')!.text).toBe('voiceLiveEndpoint');
    const rolesModule = modules(main).find((m) => m.symbol === 'roles')!;
    expect(at(rolesModule.body, 'params', 'grantAiAccess')!.text).toBe('createAi');
    // The account goes in by name, so the dependency on its module is explicit.
    expect(properties(rolesModule.body).get('dependsOn')!.text).toMatch(/\bai\b/);
    expect(parameters(main)).toContain('voiceLiveEndpointOverride');
  });

  it('the worker identity gets Cognitive Services User and Azure AI User on the new account (inherited by its project), and only then', () => {
    for (const symbol of ['workerCognitiveServicesUser', 'workerAzureAiUser']) {
      expect(resourceCondition(roles, symbol), symbol).toBe('grantAiAccess');
    }
    // The only other conditional roles are ACS's on the recording storage (recording-storage.test.ts) and the alert
    // rules' Reader (alerts.test.ts).
    const others = resources(roles).filter((r) => r.type.startsWith('Microsoft.Authorization/roleAssignments@') && properties(r.body).get('scope')!.text !== 'ai');
    expect(others.map((r) => resourceCondition(roles, r.symbol)).filter((c) => c !== undefined)).toEqual(['grantRecordingStorageAccess', 'grantAlertsQueryAccess']);
  });
});

describe('settings wiring: Functions app settings <-> functionsConfigSchema', () => {
  let functions: Node;
  let main: Node;
  let appSettings: string[];
  beforeAll(async () => {
    functions = await parseBicepFile(infra('modules', 'functions.bicep'));
    main = await parseBicepFile(infra('main.bicep'));
    appSettings = [...objectKeys(functions, 'requiredAppSettings'), ...objectKeys(functions, 'optionalAppSettings')];
  });

  it('sets every variable the Functions schema requires', () => {
    expect(requiredKeys(functionsConfigSchema).filter((key) => !appSettings.includes(key))).toEqual([]);
  });

  it('sets the managed-identity endpoints the schema needs in Azure, and never a connection string', () => {
    const required = objectKeys(functions, 'requiredAppSettings');
    for (const key of ['ACS_ENDPOINT', 'SERVICEBUS_FULLY_QUALIFIED_NAMESPACE', 'AZURE_CLIENT_ID', 'APPLICATIONINSIGHTS_CONNECTION_STRING']) {
      expect(required).toContain(key);
    }
    expect(appSettings).not.toContain('ACS_CONNECTION_STRING');
    expect(appSettings).not.toContain('SERVICEBUS_CONNECTION_STRING');
  });

  it('offers the Functions tunables (recording, publish deadline, log level...) as azd values of the same name', () => {
    const settings = parametersFile().parameters.functionsSettings!.value as Record<string, unknown>;
    expect(Object.entries(settings).filter(([key, value]) => value !== `\${${key}=}`)).toEqual([]);
    for (const key of ['CALL_RECORDING', 'CALL_RECORDING_CHANNEL', 'CALL_RECORDING_FORMAT', 'CALL_RECORDING_STORAGE_URL', 'PUBLISH_DEADLINE_MS', 'MEDIA_RESTART_MAX_ATTEMPTS', 'MEDIA_AUDIO_CHANNEL']) {
      expect(Object.keys(settings)).toContain(key);
    }
    // Schema variables, not ones Bicep sets itself, and never a secret or a local-lab override.
    const read = Object.keys(functionsConfigSchema.shape);
    expect(Object.keys(settings).filter((key) => !read.includes(key) || appSettings.includes(key))).toEqual([]);
    expect(Object.keys(settings).filter((key) => /CONNECTION_STRING|TOKEN_ISSUER|JWKS|_HOST$/.test(key))).toEqual([]);
    // Through the variable that adds our recording container when this deployment creates it (recording-storage.test.ts).
    const functionsModule = modules(main).find((m) => m.symbol === 'functions')!;
    expect(at(functionsModule.body, 'params', 'settings')?.text).toBe('functionsSettingsWithRecordingStorage');
    expect(variable(main, 'functionsSettingsWithRecordingStorage')!.text).toMatch(/^createRecordingStorage\s*\?\s*union\(functionsSettings, \{[^}]*\}\)\s*:\s*functionsSettings$/);
    const config = resources(functions).find((r) => r.type.startsWith('Microsoft.Web/sites/config@'))!;
    expect(properties(config.body).get('properties')!.text.replace(/\s+/g, ' ')).toMatch(/toObject\(filter\(items\(settings\), (\w+) => !empty\(\1\.value\)\), (\w+) => \2\.key, \2 => \2\.value\)/);
  });

  it('covers the whole Functions schema: each variable is set by Bicep, offered through azd, or local-only', () => {
    const settings = Object.keys(parametersFile().parameters.functionsSettings!.value as Record<string, unknown>);
    const localOnly = ['ACS_CONNECTION_STRING', 'SERVICEBUS_CONNECTION_STRING', 'ACS_TOKEN_ISSUER', 'ACS_JWKS_URL', 'OUTBOUND_AUTH_ENTRA_AUTHORITY_HOST', 'OUTBOUND_AUTH_ENTRA_V1_ISSUER_HOST'];
    const accounted = [...appSettings, ...objectKeys(functions, 'platformAppSettings'), ...settings, ...localOnly];
    expect(Object.keys(functionsConfigSchema.shape).filter((key) => !accounted.includes(key))).toEqual([]);
  });

  it('sets no app setting the code does not read, except the named host settings', () => {
    const read = Object.keys(functionsConfigSchema.shape);
    expect(appSettings.filter((key) => !read.includes(key))).toEqual([]);
    expect(objectKeys(functions, 'platformAppSettings').sort()).toEqual([
      'APPLICATIONINSIGHTS_AUTHENTICATION_STRING',
      'AzureWebJobsStorage__blobServiceUri',
      'AzureWebJobsStorage__clientId',
      'AzureWebJobsStorage__credential',
      'SERVICEBUS__clientId',
      'SERVICEBUS__credential',
      'SERVICEBUS__fullyQualifiedNamespace',
    ]);
  });

  it('applies the three setting groups to the app, the optional one filtered on empty values', () => {
    const config = resources(functions).find((r) => r.type.startsWith('Microsoft.Web/sites/config@'))!;
    expect(literal(properties(config.body).get('name'))).toBe('appsettings');
    const value = properties(config.body).get('properties')!.text;
    expect(value).toContain('platformAppSettings');
    expect(value).toContain('requiredAppSettings');
    expect(value).toMatch(/filter\(items\(optionalAppSettings\)/);
  });

  it('runs on Flex Consumption with the Node 22 runtime and no legacy runtime settings', () => {
    const rs = resources(functions);
    const plan = rs.find((r) => r.type.startsWith('Microsoft.Web/serverfarms@'))!;
    expect(literal(at(plan.body, 'sku', 'name'))).toBe('FC1');
    const site = rs.find((r) => r.type.startsWith('Microsoft.Web/sites@'))!;
    const runtime = at(site.body, 'properties', 'functionAppConfig', 'runtime')!;
    expect(literal(properties(runtime).get('name'))).toBe('node');
    expect(literal(properties(runtime).get('version'))).toBe('22');
    expect(appSettings.concat(objectKeys(functions, 'platformAppSettings'))).not.toContain('FUNCTIONS_WORKER_RUNTIME');
  });
});

describe('azd services', () => {
  interface AzureYaml {
    services: Record<string, { host: string; project: string; remoteBuild?: boolean; docker?: { path: string; context: string } }>;
    hooks: Record<string, { posix: { shell: string; run: string }; windows: { shell: string; run: string } }>;
  }
  const azureYaml = parseYaml(readFileSync(join(repoRoot, 'azure.yaml'), 'utf8')) as AzureYaml;
  const hostTypes: Record<string, string> = { function: 'Microsoft.Web/sites@', containerapp: 'Microsoft.App/containerApps@' };

  it('each service has exactly one resource tagged azd-service-name with its name, of the type its host needs', async () => {
    const tagged: { service: string; type: string; file: string }[] = [];
    for (const file of bicepFiles()) {
      for (const resource of resources(await parseBicepFile(file))) {
        for (const prop of descendants(resource.body, 'object_property')) {
          if (literal(prop.namedChildren[0]) === 'azd-service-name') {
            tagged.push({ service: literal(prop.namedChildren[1]) ?? '(not a literal)', type: resource.type, file: repoPath(file) });
          }
        }
      }
    }
    expect(tagged.map((t) => t.service).sort()).toEqual(Object.keys(azureYaml.services).sort());
    for (const [name, service] of Object.entries(azureYaml.services)) {
      const target = tagged.find((t) => t.service === name)!;
      expect(target.type.startsWith(hostTypes[service.host] ?? '?'), `${name} -> ${target.type}`).toBe(true);
    }
  });

  it('points the worker at a Dockerfile that exists, and the hooks at scripts that exist', () => {
    const docker = azureYaml.services.worker!.docker!;
    expect(existsSync(join(repoRoot, azureYaml.services.worker!.project, docker.path))).toBe(true);
    expect(Object.keys(azureYaml.hooks).sort()).toEqual(['postdeploy', 'predeploy', 'preprovision']);
    for (const [name, hook] of Object.entries(azureYaml.hooks)) {
      // One Node script for both platforms: nothing to keep in sync.
      expect(hook.posix.run, name).toBe(`node ./infra/hooks/${name}.mjs`);
      expect(hook.windows.run, name).toBe(hook.posix.run);
      expect(existsSync(join(repoRoot, 'infra', 'hooks', `${name}.mjs`)), name).toBe(true);
    }
  });

  it('gives the deploy hooks every value they require as a main.bicep output (or an azd value), and outputs no secret', async () => {
    const declared = outputs(await parseBicepFile(infra('main.bicep')));
    const fromAzd = ['AZURE_SUBSCRIPTION_ID', 'AZURE_RESOURCE_GROUP', 'AZURE_LOCATION'];
    for (const name of ['postdeploy', 'predeploy']) {
      const hook = readFileSync(infra('hooks', `${name}.mjs`), 'utf8');
      const needed = [...(/requireEnv\(\s*\[([^\]]+)\]/.exec(hook)![1]!.matchAll(/'([A-Z_]+)'/g))].map((m) => m[1]!);
      expect(needed.length, name).toBeGreaterThan(2);
      expect(needed.filter((v) => !fromAzd.includes(v) && !declared.includes(v)), name).toEqual([]);
    }
    expect(declared).toContain('WORKER_APP_NAME');
    expect(declared).toContain('AZURE_CONTAINER_REGISTRY_ENDPOINT');
    expect(declared.filter((name) => /KEY|SECRET|PASSWORD|CONNECTION_STRING/.test(name))).toEqual([]);
  });

  it('keeps the running worker image on re-provision (SERVICE_WORKER_RESOURCE_EXISTS), never the placeholder', async () => {
    const params = JSON.parse(readFileSync(infra('main.parameters.json'), 'utf8')) as { parameters: Record<string, { value: string }> };
    expect(params.parameters.workerExists!.value).toBe('${SERVICE_WORKER_RESOURCE_EXISTS=false}');
    const worker = await parseBicepFile(infra('modules', 'worker.bicep'));
    const existing = descendants(worker, 'resource_declaration').find((d) => d.text.includes('existing = if (workerExists)'));
    expect(existing).toBeDefined();
    const image = variable(worker, 'image')!.text;
    expect(image).toMatch(/^workerExists\s*\?\s*existingWorker!\.properties\.template\.containers\[0\]\.image\s*:/);
    const app = resources(worker).find((r) => r.symbol === 'worker')!;
    const container = descendants(at(app.body, 'properties', 'template', 'containers')!, 'object')[0]!;
    expect(properties(container).get('image')!.text).toBe('image');
  });
});

describe('role assignments', () => {
  // Built-in role ids from MicrosoftDocs azure-docs role-based-access-control/built-in-roles.md.
  const WELL_KNOWN_ROLES: Record<string, { id: string; role: string }> = {
    azureAiUser: { id: '53ca6127-db72-4b80-b1b0-d745d6d5456d', role: 'Azure AI User (Foundry User)' },
    acrPull: { id: '7f951dda-4ed3-4680-a7ca-43fe172d538d', role: 'AcrPull' },
    cognitiveServicesUser: { id: 'a97b65f3-24c7-4388-baec-2e87135dc908', role: 'Cognitive Services User' },
    contributor: { id: 'b24988ac-6180-42a0-ab88-20f7382dd24c', role: 'Contributor' },
    monitoringMetricsPublisher: { id: '3913510d-42f4-4e42-8a64-420c390055eb', role: 'Monitoring Metrics Publisher' },
    serviceBusDataReceiver: { id: '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0', role: 'Azure Service Bus Data Receiver' },
    serviceBusDataSender: { id: '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39', role: 'Azure Service Bus Data Sender' },
    storageBlobDataOwner: { id: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b', role: 'Storage Blob Data Owner' },
    storageBlobDataContributor: { id: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe', role: 'Storage Blob Data Contributor' },
    reader: { id: 'acdd72a7-3385-48ef-bd42-f606fba81ae7', role: 'Reader' },
  };
  const COGNITIVE_SERVICES_OPENAI_USER = '5e0bd9bd-7b93-4f28-af87-19fc36ad61bd';
  const guidPattern = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;

  let rolesFile: Node;
  let table: Map<string, Node>;
  beforeAll(async () => {
    rolesFile = await parseBicepFile(infra('modules', 'role-assignments.bicep'));
    table = properties(variable(rolesFile, 'builtInRoles')!);
  });

  it('the one role table holds exactly the well-known built-in ids', () => {
    const ids = Object.fromEntries([...table].map(([key, value]) => [key, literal(value)]));
    expect(ids).toEqual(Object.fromEntries(Object.entries(WELL_KNOWN_ROLES).map(([key, r]) => [key, r.id])));
    // The accelerator labels the OpenAI User id "Cognitive Services User": not here.
    expect(literal(table.get('cognitiveServicesUser'))).not.toBe(COGNITIVE_SERVICES_OPENAI_USER);
  });

  it('every role assignment in infra/ takes its role id from the table', async () => {
    const offending: string[] = [];
    let count = 0;
    for (const file of bicepFiles()) {
      for (const r of resources(await parseBicepFile(file))) {
        if (!r.type.startsWith('Microsoft.Authorization/roleAssignments@')) continue;
        count += 1;
        const roleId = at(r.body, 'properties', 'roleDefinitionId')?.text ?? '';
        const match = /^subscriptionResourceId\('Microsoft\.Authorization\/roleDefinitions', builtInRoles\.(\w+)\)$/.exec(roleId);
        if (!match || !table.has(match[1]!) || repoPath(file) !== join('infra', 'modules', 'role-assignments.bicep')) {
          offending.push(`${repoPath(file)} ${r.symbol}: ${roleId}`);
        }
        if (!properties(r.body).get('name')?.text.includes(match?.[0] ? `builtInRoles.${match[1]}` : '?')) {
          offending.push(`${r.symbol}: name is not guid(scope, principal, the same role)`);
        }
      }
    }
    expect(offending).toEqual([]);
    expect(count).toBeGreaterThan(0);
  });

  it('no role id appears as a literal anywhere else in infra/', () => {
    const tableText = variable(rolesFile, 'builtInRoles')!.text;
    for (const file of bicepFiles()) {
      let text = readFileSync(file, 'utf8');
      if (file.endsWith('role-assignments.bicep')) text = text.replace(tableText, '');
      expect(text.match(guidPattern) ?? [], repoPath(file)).toEqual([]);
    }
  });

  it('grants exactly the least-privilege set: who gets which role on which resource', () => {
    const granted = resources(rolesFile)
      .filter((r) => r.type.startsWith('Microsoft.Authorization/roleAssignments@'))
      .map((r) => {
        const principal = at(r.body, 'properties', 'principalId')!.text.replace('PrincipalId', '');
        const role = /builtInRoles\.(\w+)\)$/.exec(at(r.body, 'properties', 'roleDefinitionId')!.text)![1];
        return `${principal} ${role} @${properties(r.body).get('scope')!.text}`;
      })
      .sort();
    expect(granted).toEqual(
      [
        'functions storageBlobDataOwner @storage',
        'functions contributor @communication',
        'functions serviceBusDataSender @callEvents',
        'functions serviceBusDataSender @outboundCalls',
        'functions serviceBusDataSender @callRecords',
        'functions serviceBusDataReceiver @outboundCalls',
        'functions serviceBusDataReceiver @outboundCallStatus',
        'functions monitoringMetricsPublisher @appInsights',
        'worker cognitiveServicesUser @ai',
        'worker azureAiUser @ai',
        'worker contributor @communication',
        'worker serviceBusDataReceiver @callEvents',
        'worker serviceBusDataReceiver @outboundCallStatus',
        'worker serviceBusDataSender @callRecords',
        'worker acrPull @registry',
        'worker monitoringMetricsPublisher @appInsights',
        'acs storageBlobDataContributor @recordingStorage',
        'alerts reader @appInsights',
      ].sort(),
    );
  });
});

describe('resource settings the issue requires', () => {
  it('worker: external WebSocket ingress, a single serving revision, probes, drain grace period, connection scale rule, min 1 replica', async () => {
    const worker = await parseBicepFile(infra('modules', 'worker.bicep'));
    const app = resources(worker).find((r) => r.symbol === 'worker')!;
    const config = at(app.body, 'properties', 'configuration')!;
    expect(literal(at(config, 'activeRevisionsMode'))).toBe('Single');
    expect(at(config, 'ingress', 'external')!.text).toBe('true');
    expect(['auto', 'http']).toContain(literal(at(config, 'ingress', 'transport')));
    const template = at(app.body, 'properties', 'template')!;
    expect(at(template, 'terminationGracePeriodSeconds')!.text).toBe('terminationGracePeriodSeconds');
    expect(variable(worker, 'terminationGracePeriodSeconds')!.text).toMatch(/^drainTimeoutSeconds \+ \d+$/);
    const drain = descendants(variable(worker, 'requiredEnv')!, 'object').find((o) => literal(properties(o).get('name')) === 'DRAIN_TIMEOUT_S')!;
    expect(properties(drain).get('value')!.text).toBe('string(drainTimeoutSeconds)');
    const probes = descendants(at(template, 'containers')!, 'object')
      .map((o) => properties(o))
      .filter((p) => p.has('type') && p.has('httpGet'))
      .map((p) => `${literal(p.get('type'))} ${literal(at(p.get('httpGet'), 'path'))}`);
    expect(probes).toEqual(expect.arrayContaining(['Liveness /healthz', 'Readiness /readyz']));
    expect(at(template, 'scale', 'rules')!.text).toContain('concurrentRequests');
    const main = readFileSync(infra('main.bicep'), 'utf8');
    expect(main).toMatch(/@minValue\(1\)\n@description\([^)]*\)\nparam workerMinReplicas int = 1/);
    expect(main).toMatch(/@maxValue\(570\)\nparam drainTimeoutSeconds int/);
  });

  it('Service Bus: call-events with sessions, duplicate detection, TTL and dead-lettering; call-records and the outbound queues exist; the queue settings come from one JSON file the lab reads too', async () => {
    const bus = await parseBicepFile(infra('modules', 'servicebus.bicep'));
    expect(variable(bus, 'queueSettings')!.text).toBe("loadJsonContent('servicebus-queues.json')");
    const queues = resources(bus).filter((r) => r.type.startsWith('Microsoft.ServiceBus/namespaces/queues@'));
    const names = queues.map((q) => literal(properties(q.body).get('name'))!);
    expect(names).toEqual(['call-events', 'call-records', 'outbound-calls', 'outbound-call-status']);
    // Each queue's properties are its entry in the JSON file, nothing else.
    for (const q of queues) expect(at(q.body, 'properties')!.text).toBe(`queueSettings['${literal(properties(q.body).get('name'))}']`);
    const settings = JSON.parse(readFileSync(infra('modules', 'servicebus-queues.json'), 'utf8')) as Record<string, Record<string, unknown>>;
    expect(Object.keys(settings).sort()).toEqual([...names].sort());
    expect(settings['call-events']).toMatchObject({
      requiresSession: true,
      requiresDuplicateDetection: true,
      // Ordinary calls leave events nobody takes (a call.disconnected published after the worker let go, every event of
      // an outbound call never answered): they expire quietly, so a dead letter here means a poison event.
      deadLetteringOnMessageExpiration: false,
      defaultMessageTimeToLive: expect.stringMatching(/^P/),
      maxDeliveryCount: 10,
    });
    expect(settings['call-records']).toMatchObject({ deadLetteringOnMessageExpiration: true, requiresDuplicateDetection: true });
    // Outbound: a repeated request (same messageId) is dropped for a day; the status store is session state.
    expect(settings['outbound-calls']).toMatchObject({ requiresSession: false, requiresDuplicateDetection: true, duplicateDetectionHistoryTimeWindow: 'P1D' });
    expect(settings['outbound-call-status']).toMatchObject({ requiresSession: true });
    // The lab's Service Bus peer runs with exactly these settings.
    const { provisionedQueues, queueOptionsOf } = await import('../../lab/servicebus/provisioned-queues.js');
    expect(provisionedQueues).toEqual(Object.entries(settings).map(([name, p]) => queueOptionsOf(name, p as never)));
    expect(provisionedQueues.find((q) => q.name === 'call-events')).toMatchObject({ maxDeliveryCount: 10, lockDurationMs: 60_000, defaultTimeToLiveMs: 3_600_000, duplicateDetectionWindowMs: 600_000, deadLetteringOnMessageExpiration: false, requiresSession: true });
    const namespace = resources(bus).find((r) => r.type.startsWith('Microsoft.ServiceBus/namespaces@'))!;
    expect(literal(at(namespace.body, 'sku', 'name'))).toBe('Standard');
    expect(at(namespace.body, 'properties', 'disableLocalAuth')!.text).toBe('true');
  });

  it('AI Services: custom subdomain and local auth off; storage: no shared keys', async () => {
    const ai = resources(await parseBicepFile(infra('modules', 'ai.bicep')))[0]!;
    expect(at(ai.body, 'properties', 'customSubDomainName')).toBeDefined();
    expect(at(ai.body, 'properties', 'disableLocalAuth')!.text).toBe('true');
    const storage = resources(await parseBicepFile(infra('modules', 'storage.bicep'))).find((r) => r.type.startsWith('Microsoft.Storage/storageAccounts@'))!;
    expect(at(storage.body, 'properties', 'allowSharedKeyAccess')!.text).toBe('false');
  });

  it('declares one Event Grid system topic for ACS and no subscription (the postdeploy hook writes it)', async () => {
    const all = (await Promise.all(bicepFiles().map(parseBicepFile))).flatMap(resources);
    expect(all.filter((r) => r.type.startsWith('Microsoft.EventGrid/systemTopics@'))).toHaveLength(1);
    expect(all.filter((r) => r.type.includes('eventSubscriptions'))).toEqual([]);
    const hook = readFileSync(infra('hooks', 'postdeploy.mjs'), 'utf8');
    expect(hook).toContain("'eventgrid', 'system-topic', 'event-subscription', 'create'");
    expect(hook).toContain('data.to.PhoneNumber.Value');
  });
});
