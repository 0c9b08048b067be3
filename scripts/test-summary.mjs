// Prints the plain `N passed, M failed` line CI reads, from vitest's JSON reports: one per run (Node 22, the deployable
// builds, Node 24), each summarised on its own line first, then the sum as the last line.
import { readFileSync } from 'node:fs';

const files = process.argv.length > 2 ? process.argv.slice(2) : ['test-results/vitest.json'];
const totals = { passed: 0, failed: 0, skipped: 0 };
for (const file of files) {
  let report;
  try {
    report = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    console.log(`no test report at ${file}: ${error.message}`);
    totals.failed += 1;
    continue;
  }
  const passed = report.numPassedTests ?? 0;
  // A suite that fails to load counts as a failure even though it ran no test.
  const failedSuites = (report.testResults ?? []).filter((r) => r.status === 'failed' && (r.assertionResults ?? []).length === 0).length;
  const failed = (report.numFailedTests ?? 0) + failedSuites;
  const skipped = report.numPendingTests ?? 0;
  if (files.length > 1) console.log(`${file}: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
  totals.passed += passed;
  totals.failed += failed + (passed === 0 ? 1 : 0);
  totals.skipped += skipped;
}
console.log(`${totals.passed} passed, ${totals.failed} failed${totals.skipped ? `, ${totals.skipped} skipped` : ''}`);
process.exit(totals.failed > 0 ? 1 : 0);
