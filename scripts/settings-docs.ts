/**
 * Writes docs/settings.md from the configuration schemas (`npm run docs:settings`): every variable the worker and
 * the Functions app read, whether it is required or its default, what values it takes, a one-line description
 * (shared/config/descriptions.ts) and how Azure gets it (infra/main.parameters.json and the Bicep modules).
 * test/docs/settings-docs.test.ts regenerates the page and fails when the committed copy differs.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { z } from 'zod';
import { callControlEnvShape } from '../shared/config/call-control.js';
import { functionsSettingDescriptions, workerSettingDescriptions } from '../shared/config/descriptions.js';
import { functionsConfigSchema } from '../shared/config/functions.js';
import { workerConfigSchema } from '../shared/config/worker.js';

const repoRoot = join(__dirname, '..');
export const SETTINGS_DOC_PATH = join(repoRoot, 'docs', 'settings.md');

type App = 'worker' | 'functions';

interface ZodInternals {
  _zod: { def: { type: string; defaultValue?: unknown; innerType?: ZodInternals; in?: ZodInternals; out?: ZodInternals; entries?: Record<string, string> } };
  minValue?: number | null;
  maxValue?: number | null;
  isInt?: boolean;
}

const internals = (schema: unknown): ZodInternals => schema as ZodInternals;

/** The first number range or enum found in a field's schema (through optional, default and pipes). */
function structure(schema: ZodInternals): { range?: string; options?: string[] } {
  const def = schema._zod.def;
  if (def.type === 'number' && (schema.minValue != null || schema.maxValue != null)) {
    return { range: `${schema.isInt ? 'whole number' : 'number'} ${schema.minValue ?? '…'}–${schema.maxValue ?? '…'}` };
  }
  if (def.type === 'enum' && def.entries) return { options: Object.values(def.entries) };
  for (const inner of [def.out, def.in, def.innerType]) {
    if (!inner) continue;
    const found = structure(inner);
    if (found.range || found.options) return found;
  }
  return {};
}

/** What a field accepts, in words: a range, the schema's own "must be ..." message, the enum's values, a list or text. */
export function allowedValues(field: z.ZodType): string {
  const { range, options } = structure(internals(field));
  if (range) return range;
  const refusal = ['\u0001', '[]'].map((probe) => field.safeParse(probe)).find((r) => !r.success)?.error?.issues[0]?.message;
  if (refusal && !/^Invalid/.test(refusal)) {
    return refusal
      .replace(/^entry \d+: /, '')
      .replace(/\s*\([^)]*\)$/, '')
      .replace(/^(entries )?must (be |look like )?/, (_match, _entries?: string, be?: string) => (be?.startsWith('look') ? 'like ' : ''))
      .replace(/</g, '&lt;');
  }
  if (options) return options.includes('true') && options.includes('false') ? 'true, false (also 1/0, yes/no)' : options.map((o) => `\`${o}\``).join(', ');
  const parsed = field.safeParse('a,b');
  if (parsed.success && Array.isArray(parsed.data)) return 'comma-separated list';
  return 'text';
}

/** `required`, the default as the app sees it, or `–` (optional, no default). */
export function requiredOrDefault(field: z.ZodType): string {
  if (!field.safeParse(undefined).success) return '**required**';
  let node: ZodInternals | undefined = internals(field);
  while (node) {
    const def: ZodInternals['_zod']['def'] = node._zod.def;
    if (def.type === 'default') {
      const value = typeof def.defaultValue === 'function' ? (def.defaultValue as () => unknown)() : def.defaultValue;
      if (Array.isArray(value)) return value.length ? `\`${value.join(',')}\`` : 'empty';
      return value === '' ? 'empty' : `\`${String(value)}\``;
    }
    node = def.in ?? def.innerType;
  }
  return '–';
}

interface ParametersFile {
  parameters: Record<string, { value: unknown }>;
}

/** How a variable reaches the app in Azure: an azd value, set by Bicep from the resources it creates, or not at all. */
export function azureSources(): (app: App, variable: string) => string {
  const parameters = (JSON.parse(readFileSync(join(repoRoot, 'infra', 'main.parameters.json'), 'utf8')) as ParametersFile).parameters;
  const settingsOf = (name: string) => Object.keys((parameters[name]?.value ?? {}) as Record<string, unknown>);
  const appSettings: Record<App, string[]> = { worker: settingsOf('workerSettings'), functions: settingsOf('functionsSettings') };
  const azdDefaults = new Map<string, string>();
  for (const { value } of Object.values(parameters)) {
    const match = typeof value === 'string' ? /^\$\{([A-Z0-9_]+)(?:=([^}]*))?\}$/.exec(value) : null;
    if (match) azdDefaults.set(match[1]!, match[2] ?? '');
  }
  const bicep = (file: string) => readFileSync(join(repoRoot, 'infra', 'modules', file), 'utf8');
  const bicepSet: Record<App, Set<string>> = {
    worker: new Set([...bicep('worker.bicep').matchAll(/name: '([A-Z][A-Z0-9_]+)'/g)].map((m) => m[1]!)),
    functions: new Set([...bicep('functions.bicep').matchAll(/^\s+([A-Z][A-Z0-9_]+):/gm)].map((m) => m[1]!)),
  };
  return (app, variable) => {
    if (appSettings[app].includes(variable)) return `\`azd env set ${variable}\``;
    if (azdDefaults.has(variable)) {
      const fallback = azdDefaults.get(variable);
      return `\`azd env set ${variable}\`${fallback ? ` (azd default \`${fallback}\`)` : ''}`;
    }
    if (bicepSet[app].has(variable)) return 'set by Bicep';
    return 'not set in Azure';
  };
}

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function table(app: App, shape: Record<string, z.ZodType>, keys: readonly string[], descriptions: Readonly<Record<string, string>>, otherApp: ReadonlySet<string>): string[] {
  const source = azureSources();
  const rows = keys.map((key) => {
    const field = shape[key]!;
    const also = otherApp.has(key) ? ` Also read by the ${app === 'worker' ? 'Functions app' : 'worker'}.` : '';
    return `| \`${key}\` | ${cell(requiredOrDefault(field))} | ${cell(allowedValues(field))} | ${cell(`${descriptions[key] ?? 'MISSING DESCRIPTION'}${also}`)} | ${source(app, key)} |`;
  });
  return ['| variable | required / default | values | what it does | in Azure |', '|---|---|---|---|---|', ...rows];
}

/** The whole page, as `npm run docs:settings` writes it. */
export function renderSettingsDocs(): string {
  const worker = workerConfigSchema.shape as unknown as Record<string, z.ZodType>;
  const functions = functionsConfigSchema.shape as unknown as Record<string, z.ZodType>;
  const workerKeys = Object.keys(worker);
  const functionsKeys = new Set(Object.keys(functions));
  const callControl = new Set(Object.keys(callControlEnvShape));
  return [
    '# Settings reference',
    '',
    'For whoever configures the worker or the Functions app, locally or in Azure. Generated from the configuration schemas',
    '(`shared/config/*.ts`) and `shared/config/descriptions.ts` by `npm run docs:settings`: do not edit by hand; a test fails',
    'when this page and the code disagree. A new setting: its field in the schema, one line in `descriptions.ts`, Bicep/azd',
    'wiring where it matters in Azure (`test/infra/wiring.test.ts` checks it), then `npm run docs:settings`.',
    '',
    'Every setting is an environment variable, parsed once at start-up; a wrong value stops the app with a message naming',
    'the variable. A blank value counts as unset. Some settings depend on others (a model or an agent, one of two',
    'credentials, ...): the schema checks those rules too and names the variable to fix.',
    '',
    '*In Azure*: `azd env set NAME value` then `azd provision` sets a value (see [deploy.md](deploy.md)); "set by Bicep" means',
    'the templates wire it from the resources they create; "not set in Azure" means a local-only setting (the lab, secrets',
    'Azure does without).',
    '',
    '## Worker: media relay and agent',
    '',
    'Read by `worker/` (`shared/config/worker.ts`); locally from `.env` (see `.env.sample`).',
    '',
    ...table('worker', worker, workerKeys.filter((k) => !callControl.has(k)), workerSettingDescriptions, functionsKeys),
    '',
    '## Worker: call control',
    '',
    'Tools, Service Bus, Call Automation and call records (`shared/config/call-control.ts`, parsed with the worker\'s',
    'settings). All optional: without ACS or Service Bus those parts are off and calls still work.',
    '',
    ...table('worker', worker, workerKeys.filter((k) => callControl.has(k)), workerSettingDescriptions, functionsKeys),
    '',
    '## Functions app',
    '',
    'Read by `functions/` (`shared/config/functions.ts`); locally from `local.settings.json` (see',
    '`local.settings.sample.json`).',
    '',
    ...table('functions', functions, [...functionsKeys], functionsSettingDescriptions, new Set(workerKeys)),
    '',
  ].join('\n');
}

// Run as a script (npm run docs:settings), not when a test imports it.
if (/settings-docs\.ts$/.test(process.argv[1] ?? '')) {
  writeFileSync(SETTINGS_DOC_PATH, renderSettingsDocs());
  process.stdout.write(`wrote ${SETTINGS_DOC_PATH}\n`);
}
