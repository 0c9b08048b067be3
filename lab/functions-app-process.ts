import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createInterface } from 'node:readline';
import type { Env } from '../shared/config/env.js';
import type { FunctionsHost, HostedRoute } from './functions-host.js';
import { freePort } from './free-port.js';
import type { FunctionError, TriggerShape } from './functions-app-host.js';

type RouteShape = Pick<HostedRoute, 'name' | 'route' | 'methods' | 'authLevel'>;
export type { FunctionError, TriggerShape };

interface ReadyLine {
  functions: RouteShape[];
  triggers?: TriggerShape[];
  errors?: FunctionError[];
}

export interface FunctionsAppProcess extends FunctionsHost {
  /** Starts the app with these settings (its whole environment, as the app settings of a Function App are). */
  start(settings: Env): Promise<void>;
  /** The HTTP functions the app registered, once started. */
  readonly registered: readonly RouteShape[];
  /** The non-HTTP functions the host runs (their queue, and the setting their connection came from), once started. */
  readonly triggers: readonly TriggerShape[];
  /** Functions the host could not index or listen for ("The 'x' function is in error: ..."); the rest run on. */
  readonly functionErrors: readonly FunctionError[];
  readonly process: ChildProcess | undefined;
}

/**
 * A built Functions app (a folder with package.json, host.json, dist/ and node_modules) served in a process of its
 * own by lab/functions-app-host.ts. Its address and key are fixed before it starts, because its own settings
 * (CALLBACK_BASE_URL) name that address.
 */
export async function prepareFunctionsAppProcess(options: { appRoot: string; host: string; port?: number; functionKey?: string }): Promise<FunctionsAppProcess> {
  const port = options.port || (await freePort(options.host));
  const functionKey = options.functionKey ?? randomBytes(24).toString('base64url');
  const url = `http://${options.host}:${port}`;
  let child: ChildProcess | undefined;
  let registered: RouteShape[] = [];
  let triggers: TriggerShape[] = [];
  let functionErrors: FunctionError[] = [];

  return {
    url,
    functionKey,
    get registered() {
      return registered;
    },
    get triggers() {
      return triggers;
    },
    get functionErrors() {
      return functionErrors;
    },
    get process() {
      return child;
    },
    setRoutes() {
      throw new Error('a built Functions app serves the functions it registers itself');
    },
    urlOf(name, params = {}) {
      const route = registered.find((r) => r.name === name);
      if (!route) throw new Error(`the app registered no function named ${name}`);
      const path = route.route.replace(/\{\*?([A-Za-z_][A-Za-z0-9_]*)(?::[^}?]+)?\??\}/g, (_m, key: string) => encodeURIComponent(params[key] ?? ''));
      return `${url}/api/${path}${route.authLevel === 'anonymous' ? '' : `?code=${encodeURIComponent(functionKey)}`}`;
    },
    async start(settings) {
      const hostScript = resolvePath(__dirname, 'functions-app-host.ts');
      // tsx from the lab's own node_modules: the app's folder has production dependencies only.
      const tsx = pathToFileURL(createRequire(__filename).resolve('tsx')).href;
      child = spawn(process.execPath, ['--import', tsx, hostScript, resolvePath(options.appRoot)], {
        cwd: resolvePath(options.appRoot),
        env: { ...settings, LAB_FUNCTIONS_PORT: String(port), LAB_FUNCTIONS_HOST: options.host, LAB_FUNCTIONS_KEY: functionKey, PATH: process.env.PATH },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-8000)));
      const started = child;
      const ready = await new Promise<ReadyLine>((resolve, reject) => {
        const lines = createInterface({ input: started.stdout! });
        const timer = setTimeout(() => reject(new Error(`the Functions app did not start within 30 s: ${stderr}`)), 30_000);
        started.once('exit', (code) => {
          clearTimeout(timer);
          reject(new Error(`the Functions app exited (${code}) before serving: ${stderr}`));
        });
        lines.on('line', (line) => {
          try {
            const ready = JSON.parse(line) as Partial<ReadyLine>;
            if (!ready.functions) return;
            clearTimeout(timer);
            resolve({ ...ready, functions: ready.functions });
          } catch {
            // the app's own log lines go to stdout too; only the ready line is JSON with `functions`
          }
        });
      });
      registered = ready.functions;
      triggers = ready.triggers ?? [];
      functionErrors = ready.errors ?? [];
    },
    async close() {
      const running = child;
      if (!running || running.exitCode !== null || running.signalCode !== null) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => running.kill('SIGKILL'), 3000);
        running.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        running.kill('SIGTERM');
      });
    },
  };
}

