import { defineConfig } from 'vitest/config';
import { artifactTests } from './vitest.config.mjs';

/**
 * The deployables built as Azure builds them (test/build). They install packages, compile and zip: run one file at a
 * time, after the rest of the suite, so their CPU use never overlaps the timing-sensitive tests of real calls.
 */
export default defineConfig({
  test: {
    include: artifactTests,
    testTimeout: 60_000,
    hookTimeout: 600_000,
    pool: 'forks',
    maxWorkers: 1,
    reporters: ['default', ['json', { outputFile: process.env.VITEST_ARTIFACTS_JSON_REPORT ?? 'test-results/vitest-artifacts.json' }]],
  },
});
