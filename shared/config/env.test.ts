import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, boolean, integer, list, parseEnv, url } from './env.js';

const schema = z.object({
  PORT: integer(1, 65535).default(8080),
  ENDPOINT: url(['https']),
  DEBUG: boolean().default(false),
  NAMES: list().default([]),
});

describe('parseEnv', () => {
  it('applies defaults and converts types', () => {
    expect(parseEnv(schema, { ENDPOINT: 'https://x.example' })).toEqual({
      PORT: 8080,
      ENDPOINT: 'https://x.example',
      DEBUG: false,
      NAMES: [],
    });
  });

  it('treats blank values as unset', () => {
    expect(parseEnv(schema, { ENDPOINT: 'https://x.example', PORT: '  ' }).PORT).toBe(8080);
  });

  it('names every wrong variable and says what is wrong', () => {
    let error: unknown;
    try {
      parseEnv(schema, { PORT: 'eighty', ENDPOINT: 'http://x', DEBUG: 'maybe' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    expect(message).toContain('PORT: must be a whole number');
    expect(message).toContain('ENDPOINT: must be a https URL');
    expect(message).toContain('DEBUG: must be true or false');
  });

  it('reports a missing required variable by name', () => {
    expect(() => parseEnv(schema, {})).toThrow(/ENDPOINT: is required but not set/);
  });

  it('splits comma-separated lists', () => {
    expect(parseEnv(schema, { ENDPOINT: 'https://x', NAMES: ' a, b ,,c ' }).NAMES).toEqual(['a', 'b', 'c']);
  });
});
