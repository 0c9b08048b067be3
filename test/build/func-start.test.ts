import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { functionsConfigSchema } from '../../shared/config/functions.js';
import { prepareFunctionsAppProcess, type FunctionsAppProcess } from '../../lab/functions-app-process.js';
import { removeLater, repoRoot, stageRepository } from './artifacts.js';

const readJson = <T>(...path: string[]): T => JSON.parse(readFileSync(join(repoRoot, ...path), 'utf8')) as T;

/**
 * What `func start` reads in the project folder (docs/build-and-run.md, "Running the Functions app with func start"): host.json,
 * local.settings.json made from the sample, and package.json `main`, which `npm run build` must have produced.
 */
describe('func start in the project folder', () => {
  it('host.json: version 2.0, routes under /api (CALLBACK_BASE_URL and the Event Grid webhook assume it)', () => {
    const host = readJson<{ version: string; extensions?: { http?: { routePrefix?: string } }; extensionBundle?: { id: string } }>('host.json');
    expect(host.version).toBe('2.0');
    expect(host.extensions?.http?.routePrefix ?? 'api').toBe('api');
    expect(host.extensionBundle?.id).toBe('Microsoft.Azure.Functions.ExtensionBundle');
  });

  it('local.settings.sample.json: the node worker, only settings the app or host reads, no secret, and no number that screens calls out', () => {
    const sample = readJson<{ IsEncrypted: boolean; Values: Record<string, string> }>('local.settings.sample.json');
    expect(sample.IsEncrypted).toBe(false);
    expect(sample.Values.FUNCTIONS_WORKER_RUNTIME).toBe('node');
    // Besides the app's schema, the host reads its own settings and the outbound-calls trigger's connection (prefix
    // SERVICEBUS: an identity-based connection, functions/index.ts).
    const known = new Set([...Object.keys(functionsConfigSchema.shape), 'FUNCTIONS_WORKER_RUNTIME', 'AzureWebJobsStorage', 'SERVICEBUS__fullyQualifiedNamespace']);
    expect(Object.keys(sample.Values).filter((key) => !known.has(key))).toEqual([]);
    for (const key of ['CALLED_NUMBERS_ALLOWED', 'CALLED_NUMBERS_DENIED', 'CALLER_NUMBERS_ALLOWED', 'CALLER_NUMBERS_DENIED', 'AGENT_PROFILE_BY_NUMBER', 'NOT_FOR_US_REDIRECT_TO']) {
      expect(sample.Values[key], key).toBe('');
    }
    for (const key of ['ACS_CONNECTION_STRING', 'SERVICEBUS_CONNECTION_STRING', 'APPLICATIONINSIGHTS_CONNECTION_STRING']) expect(sample.Values[key], key).toBe('');
  });

  describe('after npm run build, on a clean copy of the project', () => {
    let staged: string;
    let app: FunctionsAppProcess;
    beforeAll(async () => {
      staged = stageRepository();
      execFileSync(process.execPath, [join(staged, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: staged, stdio: 'pipe' });
      const sample = readJson<{ Values: Record<string, string> }>('local.settings.sample.json');
      app = await prepareFunctionsAppProcess({ appRoot: staged, host: '127.0.0.1' });
      await app.start(sample.Values);
    }, 180_000);
    afterAll(async () => {
      await app?.close();
      removeLater(staged);
    }, 60_000);

    it('package.json main is the built entry, and it registers every function', () => {
      expect(readJson<{ main: string }>('package.json').main).toBe('dist/functions/index.js');
      expect(app.registered.map((f) => f.name)).toEqual(['incomingCall', 'callbacks', 'health', 'placeCall', 'callStatus', 'cancelCall']);
    });

    it('with the sample copied unchanged, /api/health names each placeholder still to fill in', async () => {
      const health = await fetch(app.urlOf('health'));
      expect(health.status).toBe(503);
      const body = (await health.json()) as { problems: { variable: string }[] };
      expect(body.problems.map((p) => p.variable)).toEqual(expect.arrayContaining(['ACS_ENDPOINT', 'ACS_RESOURCE_ID', 'CALLBACK_BASE_URL', 'WORKER_MEDIA_URL']));
    });
  });
});
