import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import dockerignore from '@balena/dockerignore';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './bicep.js';
import { workerDockerfileProblems } from './dockerfile.js';

const read = (...path: string[]): string => readFileSync(join(repoRoot, ...path), 'utf8');

/** Docker's own .dockerignore semantics (patterns anchored at the context root, `**`, `!`), as the CLI applies them. */
function ignoredBy(patterns: string[], path: string): boolean {
  return dockerignore().add(patterns).ignores(path);
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
