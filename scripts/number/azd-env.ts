import { spawnSync } from 'node:child_process';

/** azd is missing, has no environment here, or refused a command: the message says what to do. */
export class AzdError extends Error {
  readonly code = 'AZD';
}

/** The azd environment's values (`azd env get-values`) and `azd env set`, through the azd CLI on PATH. */
export interface AzdEnvironment {
  values(): Record<string, string>;
  set(name: string, value: string): void;
}

export function azdEnvironment(environmentName?: string): AzdEnvironment {
  const run = (args: string[]): string => {
    const result = spawnSync('azd', [...args, ...(environmentName ? ['--environment', environmentName] : [])], { encoding: 'utf8' });
    if (result.error) {
      throw new AzdError(
        (result.error as NodeJS.ErrnoException).code === 'ENOENT'
          ? 'azd (the Azure Developer CLI) is not installed or not on PATH; install it (https://aka.ms/azd-install), or set ACS_ENDPOINT and use --no-azd'
          : `could not run azd: ${result.error.message}`,
      );
    }
    if (result.status !== 0) {
      const said = (result.stderr || result.stdout).trim().split('\n').find((line) => line.trim()) ?? `exit code ${result.status}`;
      throw new AzdError(`azd ${args.slice(0, 2).join(' ')} failed: ${said} (run this command in the project folder after azd up, or name the environment with --environment)`);
    }
    return result.stdout;
  };
  return {
    values() {
      const text = run(['env', 'get-values', '--output', 'json']);
      try {
        const parsed = JSON.parse(text) as unknown;
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
        return Object.fromEntries(Object.entries(parsed).map(([key, value]) => [key, String(value)]));
      } catch (error) {
        throw new AzdError(`azd env get-values gave no JSON object (${(error as Error).message})`);
      }
    },
    set(name, value) {
      run(['env', 'set', name, value]);
    },
  };
}

/** The comma-separated entries of a number list setting. */
export const listEntries = (value: string | undefined): string[] =>
  (value ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0);
