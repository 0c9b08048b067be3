import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const repoRoot = join(__dirname, '..', '..');
const run = promisify(execFile);

interface Violation {
  rule: string;
  from: string;
  to: string;
}

/** Runs dependency-cruiser's own CLI (as `npm run lint:imports` does) in `cwd` and returns its violations. */
async function cruise(cwd: string, folders: string[]): Promise<Violation[]> {
  const cli = join(repoRoot, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruiser.mjs');
  const args = [cli, ...folders, '--config', '.dependency-cruiser.cjs', '--output-type', 'json'];
  // The CLI exits non-zero when it finds violations; its JSON report is on stdout either way.
  const { stdout } = await run(process.execPath, args, { cwd, maxBuffer: 64 * 1024 * 1024 }).catch((error: { stdout?: string; stderr?: string }) => {
    if (!error.stdout) throw new Error(`dependency-cruiser failed: ${error.stderr ?? String(error)}`);
    return { stdout: error.stdout };
  });
  const report = JSON.parse(stdout) as { summary: { violations: { rule: { name: string }; from: string; to: string }[] } };
  return report.summary.violations.map((v) => ({ rule: v.rule.name, from: v.from, to: v.to }));
}

const describeViolations = (violations: Violation[]) => violations.map((v) => `${v.rule}: ${v.from} -> ${v.to}`).join('\n');

describe('import rules of the code that ships (.dependency-cruiser.cjs)', () => {
  it('hold on the real import graph: production code imports no test code, no dev dependency, and neither app imports the other', async () => {
    const violations = await cruise(repoRoot, ['functions', 'worker', 'shared', 'lab', 'test', 'bench', 'scripts']);
    // The message names each offending import, so a failure says what to move.
    expect(describeViolations(violations)).toBe('');
  });

  describe('catch each kind of offending import (a tree made for the test)', () => {
    const tree = mkdtempSync(join(tmpdir(), 'import-rules-'));
    afterAll(() => rmSync(tree, { recursive: true, force: true }));
    const write = (path: string, text: string) => {
      mkdirSync(dirname(join(tree, path)), { recursive: true });
      writeFileSync(join(tree, path), text);
    };
    cpSync(join(repoRoot, '.dependency-cruiser.cjs'), join(tree, '.dependency-cruiser.cjs'));
    cpSync(join(repoRoot, 'tsconfig.json'), join(tree, 'tsconfig.json'));
    cpSync(join(repoRoot, 'package.json'), join(tree, 'package.json'));
    symlinkSync(join(repoRoot, 'node_modules'), join(tree, 'node_modules'), 'dir');
    write('lab/emulator.ts', 'export const emulator = 1;\n');
    write('test/helper.ts', 'export const helper = 1;\n');
    write('shared/fine.ts', "import { z } from 'zod';\nexport const fine = z.string();\n");
    write('functions/uses-lab.ts', "import { emulator } from '../lab/emulator.js';\nexport const a = emulator;\n");
    write('functions/uses-test-helper-type.ts', "import type { helper } from '../test/helper.js';\nexport type A = typeof helper;\n");
    write('worker/uses-functions.ts', "import { a } from '../functions/uses-lab.js';\nexport const b = a;\n");
    write('shared/uses-worker.ts', "import { b } from '../worker/uses-functions.js';\nexport const c = b;\n");
    write('worker/uses-dev-dependency.ts', "import { describe } from 'vitest';\nexport const d = describe;\n");
    write('worker/uses-missing.ts', "import { e } from './not-there.js';\nexport const f = e;\n");
    write('functions/uses-worker.ts', "import { f } from '../worker/uses-missing.js';\nexport const h = f;\n");
    write('functions/index.test.ts', "import { emulator } from '../lab/emulator.js';\nexport const g = emulator;\n");

    it('names every broken rule with the offending import, and lets tests import the lab', async () => {
      const violations = await cruise(tree, ['functions', 'worker', 'shared', 'lab', 'test']);
      const found = violations.map((v) => `${v.rule}: ${v.from} -> ${v.to.replace(/^.*node_modules\//, 'node_modules/')}`).sort();
      expect(found).toEqual(
        [
          'functions-imports-worker: functions/uses-worker.ts -> worker/uses-missing.ts',
          'production-imports-a-dev-dependency: worker/uses-dev-dependency.ts -> node_modules/vitest/dist/index.d.ts',
          'production-imports-test-code: functions/uses-lab.ts -> lab/emulator.ts',
          'production-imports-test-code: functions/uses-test-helper-type.ts -> test/helper.ts',
          'shared-imports-an-app: shared/uses-worker.ts -> worker/uses-functions.ts',
          'unresolvable-import: worker/uses-missing.ts -> ./not-there.js',
          'worker-imports-functions: worker/uses-functions.ts -> functions/uses-lab.ts',
        ].sort(),
      );
    });
  });
});
