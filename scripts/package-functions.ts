/**
 * `npm run package:functions [-- --out <folder>]`: the Functions app as it ships (azd runs this as the functions
 * service's prepackage hook and zips the folder: azure.yaml `dist: .deploy/functions`, `remoteBuild: false`).
 * The folder holds host.json, package.json, package-lock.json, the compiled functions/ and shared/ (tsconfig.functions.json)
 * and production dependencies only (`npm ci --omit=dev`), so no dev dependency slows a cold start and the server
 * builds nothing. Dependencies are plain JavaScript; the one native addon (bufferutil, optional) ships prebuilt
 * binaries for every platform, so a package made on Windows or macOS runs on Linux.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';

const repoRoot = resolve(__dirname, '..');

export function packageFunctions(outDir: string, options: { log?: (line: string) => void } = {}): string {
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const out = resolve(repoRoot, outDir);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  log(`package:functions: compiling functions/ and shared/ into ${outDir}/dist`);
  const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
  execFileSync(process.execPath, [tsc, '-p', join(repoRoot, 'tsconfig.functions.json'), '--outDir', join(out, 'dist'), '--sourceMap', 'false'], { stdio: 'inherit' });
  for (const file of ['host.json', 'package.json', 'package-lock.json']) copyFileSync(join(repoRoot, file), join(out, file));
  copyFileSync(join(repoRoot, 'deploy', 'functions.funcignore'), join(out, '.funcignore'));
  log('package:functions: installing production dependencies (npm ci --omit=dev)');
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  execFileSync(npm, ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd: out,
    stdio: 'inherit',
    shell: process.platform === 'win32',
  });
  if (!existsSync(join(out, 'dist', 'functions', 'index.js'))) throw new Error(`${outDir}/dist/functions/index.js was not built`);
  log(`package:functions: ${outDir} is ready`);
  return out;
}

if ((require as unknown as { main?: unknown }).main === module) {
  const flag = process.argv.indexOf('--out');
  const outDir = flag >= 0 ? process.argv[flag + 1] : '.deploy/functions';
  if (!outDir) {
    process.stderr.write('usage: npm run package:functions [-- --out <folder>]\n');
    process.exit(2);
  }
  try {
    packageFunctions(outDir);
  } catch (error) {
    process.stderr.write(`package:functions failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
}
