import { ConfigError, type Env } from '../shared/config/env.js';
import { loadFunctionsConfig } from '../shared/config/functions.js';
import { createLogger, type Logger } from '../shared/log.js';
import { createFunctionsDependencies, type BuiltDependencies } from './dependencies.js';

/** One setting that keeps the app from serving calls; never carries the setting's value (it may be a secret). */
export interface StartupProblem {
  variable: string;
  message: string;
}

export type FunctionsStartup = { ok: true; dependencies: BuiltDependencies } | { ok: false; problems: readonly StartupProblem[]; logger: Logger };

/**
 * Parses the settings and builds the clients, without throwing: in the Functions host a throw while the entry
 * module loads hides every function (no route, no Event Grid handshake, the reason buried in host logs), so a
 * bad setting becomes a start-up result that the routes report instead. Logged once here, naming each variable.
 */
export function startFunctionsApp(env: Env = process.env, options: { logger?: Logger } = {}): FunctionsStartup {
  try {
    const config = loadFunctionsConfig(env);
    return { ok: true, dependencies: createFunctionsDependencies(config, options.logger ? { logger: options.logger } : {}) };
  } catch (error) {
    const logger = options.logger ?? createLogger({ component: 'functions', level: 'info' });
    const problems: StartupProblem[] =
      error instanceof ConfigError
        ? [...error.problems]
        : // Not a settings error: its message may quote a connection string, so only its kind is reported.
          [{ variable: '(start-up)', message: `building the clients failed (${error instanceof Error ? error.name : typeof error}); check the connection settings` }];
    logger.error({ problems }, 'configuration invalid: every function answers 503 and /api/health names the problems until the settings are fixed and the app restarts');
    return { ok: false, problems, logger };
  }
}
