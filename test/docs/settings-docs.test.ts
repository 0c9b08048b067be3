import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { functionsSettingDescriptions, workerSettingDescriptions } from '../../shared/config/descriptions.js';
import { functionsConfigSchema } from '../../shared/config/functions.js';
import { workerConfigSchema } from '../../shared/config/worker.js';
import { allowedValues, renderSettingsDocs, requiredOrDefault, SETTINGS_DOC_PATH } from '../../scripts/settings-docs.js';
import { integer } from '../../shared/config/env.js';
import { z } from 'zod';

const apps = [
  { app: 'worker', keys: Object.keys(workerConfigSchema.shape), descriptions: workerSettingDescriptions },
  { app: 'Functions app', keys: Object.keys(functionsConfigSchema.shape), descriptions: functionsSettingDescriptions },
];

describe('docs/settings.md, the settings reference generated from the schemas', () => {
  it('is what `npm run docs:settings` writes from the current schemas (run it after changing a setting)', () => {
    const committed = readFileSync(SETTINGS_DOC_PATH, 'utf8');
    const fresh = renderSettingsDocs();
    expect(committed === fresh, 'docs/settings.md is out of date: run `npm run docs:settings` and commit the result').toBe(true);
  });

  it.each(apps)('describes every variable the $app reads, in one line (shared/config/descriptions.ts)', ({ keys, descriptions }) => {
    const missing = keys.filter((key) => !descriptions[key]?.trim());
    expect(missing, `add a line for each to shared/config/descriptions.ts`).toEqual([]);
    expect(keys.filter((key) => /\n/.test(descriptions[key] ?? ''))).toEqual([]);
  });

  it.each(apps)('describes no variable the $app does not read (no stale lines)', ({ keys, descriptions }) => {
    expect(Object.keys(descriptions).filter((key) => !keys.includes(key))).toEqual([]);
  });

  it('lists each variable of each app once, with its default or required', () => {
    const page = renderSettingsDocs();
    for (const { keys } of apps) for (const key of keys) expect(page).toContain(`| \`${key}\` |`);
    expect(page).toMatch(/\| `VOICE_LIVE_ENDPOINT` \| \*\*required\*\* \|/);
    expect(page).toMatch(/\| `PORT` \| `8080` \| whole number 0–65535 \|/);
  });

  it('reads ranges, enums and the schema\'s own "must be" messages as the allowed values', () => {
    expect(allowedValues(integer(5, 10).default(6))).toBe('whole number 5–10');
    expect(allowedValues(z.enum(['a', 'b']).optional())).toBe('`a`, `b`');
    expect(allowedValues(z.string().regex(/^x$/, 'must be x or nothing').optional())).toBe('x or nothing');
    expect(allowedValues(z.string().optional())).toBe('text');
    expect(requiredOrDefault(integer(5, 10).default(6))).toBe('`6`');
    expect(requiredOrDefault(z.string())).toBe('**required**');
    expect(requiredOrDefault(z.string().optional())).toBe('–');
  });

  it('says how Azure sets each variable: an azd value, Bicep, or not at all', () => {
    const page = renderSettingsDocs();
    expect(page).toMatch(/\| `CALLED_NUMBERS_ALLOWED` \|.*\| `azd env set CALLED_NUMBERS_ALLOWED` \|/);
    expect(page).toMatch(/\| `VOICE_LIVE_ENDPOINT` \|.*\| set by Bicep \|/);
    expect(page).toMatch(/\| `VOICE_LIVE_API_KEY` \|.*\| not set in Azure \|/);
  });
});
