import { defineConfig } from 'vitest/config';

/** The tests that build the deployables (npm ci, tsc, zip): run on their own afterwards (vitest.artifacts.config.mts). */
export const artifactTests = ['test/build/functions-package.test.ts', 'test/build/worker-image.test.ts', 'test/build/func-start.test.ts'];

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', 'dist/**', '.deploy/**', ...artifactTests],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Real sockets on 127.0.0.1 and CPU-heavy audio checks share two cores: keep parallelism modest.
    pool: 'forks',
    maxWorkers: 2,
    // VITEST_JSON_REPORT: where .ci/run wants the report of a run (one per Node version).
    reporters: ['default', ['json', { outputFile: process.env.VITEST_JSON_REPORT ?? 'test-results/vitest.json' }]],
  },
});
