import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', 'dist/**'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Real sockets on 127.0.0.1 and CPU-heavy audio checks share two cores: keep parallelism modest.
    pool: 'forks',
    maxWorkers: 2,
    // VITEST_JSON_REPORT: where .ci/run wants the report of its second run (Node 22).
    reporters: ['default', ['json', { outputFile: process.env.VITEST_JSON_REPORT ?? 'test-results/vitest.json' }]],
  },
});
