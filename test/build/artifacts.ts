import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { unzipSync, zipSync, type Zippable } from 'fflate';
import ignore from 'ignore';

export const repoRoot = join(__dirname, '..', '..');

/**
 * The project's files as a clone has them: committed files plus new files git does not ignore (a user's work tree
 * before they commit), never node_modules, dist or anything .gitignore leaves out.
 */
export function projectFiles(root = repoRoot): string[] {
  const listed = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return listed
    .split('\0')
    .filter((path) => path !== '')
    .filter((path) => existsSync(join(root, path)) && !lstatSync(join(root, path)).isSymbolicLink());
}

export function copyFiles(files: readonly string[], from: string, to: string): void {
  for (const path of files) {
    mkdirSync(dirname(join(to, path)), { recursive: true });
    copyFileSync(join(from, path), join(to, path));
  }
}

/**
 * A clean copy of the project as azd sees it after its restore step (`npm install` in the project folder): the
 * project's files, and this checkout's node_modules linked in (installed from the same package-lock.json).
 */
export function stageRepository(): string {
  const staged = mkdtempSync(join(tmpdir(), 'staged-repo-'));
  copyFiles(projectFiles(), repoRoot, staged);
  symlinkSync(join(repoRoot, 'node_modules'), join(staged, 'node_modules'), 'dir');
  return staged;
}

/** Every file under `root`, relative, with `/` separators, symlinks followed. */
export function walk(root: string, at = root): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(at)) {
    const path = join(at, entry);
    if (statSync(path).isDirectory()) found.push(...walk(root, path));
    else found.push(relative(root, path).split(sep).join('/'));
  }
  return found;
}

export function folderBytes(root: string): number {
  return walk(root).reduce((sum, path) => sum + statSync(join(root, path)).size, 0);
}

/**
 * The zip azd deploys for a Function App (azure-dev cli/azd/pkg/project/project_utils.go, createDeployableZip):
 * the package folder recursively, minus `.azure/`, the ignore file itself, `local.settings.json`, and what the
 * folder's `.funcignore` excludes (gitignore semantics: azd uses github.com/denormal/go-gitignore; here the
 * `ignore` package, which follows the same gitignore rules).
 */
export function zipLikeAzd(packageRoot: string, zipPath: string): { bytes: number; files: string[] } {
  const ignoreFile = join(packageRoot, '.funcignore');
  const rules = ignore();
  if (existsSync(ignoreFile)) rules.add(readFileSync(ignoreFile, 'utf8').replace(/^\uFEFF/, ''));
  const files = walk(packageRoot).filter((path) => {
    const name = path.split('/').pop();
    if (path === '.funcignore' || name === 'local.settings.json') return false;
    if (path.split('/').includes('.azure')) return false;
    return !rules.ignores(path);
  });
  const entries: Zippable = {};
  for (const path of files) entries[path] = [readFileSync(join(packageRoot, path)), { level: 6 }];
  const zipped = zipSync(entries);
  writeFileSync(zipPath, zipped);
  return { bytes: zipped.length, files };
}

/** Extracts a zip as the platform does into its site folder; files readable by any user (the host does not run as root). */
export function unzipTo(zipPath: string, destination: string): void {
  const entries = unzipSync(readFileSync(zipPath));
  for (const [path, data] of Object.entries(entries)) {
    if (path.endsWith('/')) continue;
    mkdirSync(dirname(join(destination, path)), { recursive: true });
    writeFileSync(join(destination, path), data);
  }
  chmodSync(destination, 0o755);
}

export const mebibytes = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

/**
 * Removes a scratch folder in a detached `rm -rf` that outlives the test: an installed node_modules is tens of
 * thousands of files, and waiting for it would only slow the suite.
 */
export function removeLater(folder: string): void {
  spawn('rm', ['-rf', folder], { detached: true, stdio: 'ignore' }).unref();
}
