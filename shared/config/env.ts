import { z } from 'zod';

/** Raised at start-up when a setting is missing or wrong; the message names every offending variable. */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(readonly problems: readonly { variable: string; message: string }[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  ${p.variable}: ${p.message}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export type Env = Readonly<Record<string, string | undefined>>;

/**
 * Validates environment variables against a zod object schema whose keys are the variable names.
 * Blank values count as unset, so `FOO=` in a .env file falls back to the default.
 */
export function parseEnv<S extends z.ZodObject>(schema: S, env: Env): z.infer<S> {
  const cleaned: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = env[key];
    if (value !== undefined && value.trim() !== '') cleaned[key] = value.trim();
  }
  const result = schema.safeParse(cleaned);
  if (result.success) return result.data;
  throw new ConfigError(
    result.error.issues.map((issue) => {
      const variable = issue.path.length > 0 ? String(issue.path[0]) : '(settings)';
      const missing = issue.code === 'invalid_type' && issue.path.length === 1 && cleaned[variable] === undefined;
      return { variable, message: missing ? 'is required but not set' : issue.message };
    }),
  );
}

// Reusable field parsers: each reads a string and says plainly what it wanted.

export const integer = (min: number, max: number) =>
  z
    .string()
    .regex(/^-?\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));

export const decimal = (min: number, max: number) =>
  z
    .string()
    .regex(/^-?\d+(\.\d+)?$/, 'must be a number')
    .transform(Number)
    .pipe(z.number().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));

export const boolean = () =>
  z
    .string()
    .transform((value) => value.toLowerCase())
    .pipe(z.enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'must be true or false' }))
    .transform((value) => value === 'true' || value === '1' || value === 'yes');

export const url = (protocols: readonly string[]) =>
  z
    .string()
    .refine((value) => {
      try {
        return protocols.includes(new URL(value).protocol.replace(':', ''));
      } catch {
        return false;
      }
    }, `must be a ${protocols.join(' or ')} URL`);

export const list = () =>
  z.string().transform((value) =>
    value
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item.length > 0),
  );

export const guid = () =>
  z
    .string()
    .regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, 'must be a GUID');

/** An agent profile's name (AGENT_PROFILE_BY_NUMBER on the Functions app, AGENT_PROFILES on the worker): a URL path segment as is. */
export const AGENT_PROFILE_NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;
export const agentProfileName = () =>
  z.string().regex(AGENT_PROFILE_NAME, 'profile names are 1-32 lowercase letters, digits, _ or -, starting with a letter or digit');
