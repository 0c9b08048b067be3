import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './bicep.js';
import { workerDockerfileProblems } from './dockerfile.js';

const read = (...path: string[]): string => readFileSync(join(repoRoot, ...path), 'utf8');

/** gitignore-style matching, the subset .funcignore uses: `dir/`, `*`, `**`, unanchored names. */
function ignoredBy(patterns: string[], path: string): boolean {
  let ignored = false;
  for (const raw of patterns) {
    const negate = raw.startsWith('!');
    let pattern = negate ? raw.slice(1) : raw;
    const directoryOnly = pattern.endsWith('/');
    if (directoryOnly) pattern = pattern.slice(0, -1);
    const anchored = pattern.includes('/');
    const body = pattern
      .replace(/^\//, '')
      .split('**/')
      .map((part) => part.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]'))
      .join('(?:.*/)?');
    const regex = new RegExp(`${anchored ? '^' : '(?:^|/)'}${body}${directoryOnly ? '/' : '(?:$|/)'}`);
    if (regex.test(path)) ignored = !negate;
  }
  return ignored;
}

const patternsOf = (text: string): string[] =>
  text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));

describe('worker/Dockerfile', () => {
  it('is multi-stage, production dependencies only, non-root, node as PID 1, no HEALTHCHECK', () => {
    expect(workerDockerfileProblems(read('worker', 'Dockerfile'))).toEqual([]);
  });

  it('the checker rejects a single-stage root image started through a shell with a HEALTHCHECK', () => {
    const bad = ['FROM node:22', 'COPY . .', 'RUN npm install', 'HEALTHCHECK CMD curl -f http://localhost:8080/healthz', 'CMD npm start'].join('\n');
    const problems = workerDockerfileProblems(bad);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringContaining('not multi-stage'),
        expect.stringContaining('HEALTHCHECK'),
        expect.stringContaining('root'),
        expect.stringContaining('exec form'),
        expect.stringContaining('--omit=dev'),
      ]),
    );
  });

  it('the checker rejects USER root and a different start command', () => {
    const bad = [
      'FROM node:22 AS build', 'RUN npm ci', 'RUN npm run build',
      'FROM node:22-slim', 'RUN npm ci --omit=dev', 'COPY --from=build /app/dist ./dist', 'USER root', 'CMD ["npm", "start"]',
    ].join('\n');
    expect(workerDockerfileProblems(bad)).toEqual([expect.stringContaining('root'), expect.stringContaining('instead of')]);
  });

  it('.dockerignore keeps node_modules, dist, infra and tests out, and everything the build copies in', () => {
    const patterns = patternsOf(read('.dockerignore'));
    for (const path of ['node_modules/zod/index.js', 'worker/node_modules/x', 'dist/worker/main.js', 'infra/main.bicep', 'test/infra/wiring.test.ts', 'worker/playout.test.ts', '.git/HEAD', '.env']) {
      expect(ignoredBy(patterns, path), path).toBe(true);
    }
    const copied = [...read('worker', 'Dockerfile').matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1]!.split(/\s+/));
    expect(copied).toContain('package-lock.json');
    for (const path of copied) expect(ignoredBy(patterns, path), path).toBe(false);
  });
});

describe('.funcignore', () => {
  const patterns = patternsOf(read('.funcignore'));

  it('keeps the worker, infra, lab, bench, tests and node_modules out of the Functions package', () => {
    for (const path of [
      'worker/main.ts', 'worker/Dockerfile', 'infra/main.bicep', 'infra/hooks/postdeploy.mjs', 'lab/acs-token-issuer.ts', 'bench/relay.ts',
      'test/infra/wiring.test.ts', 'functions/incoming-call.test.ts', 'shared/privacy.test.ts', 'node_modules/zod/package.json',
      'dist/worker/main.js', 'dist/lab/start.js', 'local.settings.json', '.azure/dev/.env', 'azure.yaml',
    ]) {
      expect(ignoredBy(patterns, path), path).toBe(true);
    }
  });

  it('keeps what the Functions host and the remote build need', () => {
    for (const path of ['host.json', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'functions/index.ts', 'shared/log.ts', 'shared/config/functions.ts', 'dist/functions/index.js', 'dist/shared/log.js']) {
      expect(ignoredBy(patterns, path), path).toBe(false);
    }
  });

  it('the matcher itself tells a kept file from an ignored one', () => {
    expect(ignoredBy(['worker/'], 'worker/a.ts')).toBe(true);
    expect(ignoredBy(['worker/'], 'workers.ts')).toBe(false);
    expect(ignoredBy(['**/*.test.ts'], 'a/b/c.test.ts')).toBe(true);
    expect(ignoredBy(['*.md'], 'docs/x.md')).toBe(true);
    expect(ignoredBy(['dist/worker/'], 'dist/functions/index.js')).toBe(false);
  });
});
