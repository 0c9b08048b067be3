import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLab, type Lab } from '../../lab/lab.js';
import { folderBytes, mebibytes, removeLater, repoRoot, walk } from './artifacts.js';
import { dockerContext, runDockerfile, type BuiltImage } from './dockerfile-runner.js';

/**
 * The builder's network settings: RUN reaches the registry as this machine does (its CA bundle and proxy, which the
 * machine's own npm configuration names), as a Docker builder uses its host's network; nothing else crosses over.
 */
function builderNetworkEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && /^(NODE_EXTRA_CA_CERTS|SSL_CERT_FILE|SSL_CERT_DIR|https?_proxy|HTTPS?_PROXY|no_proxy|NO_PROXY|npm_config_(registry|cafile|ca|proxy|https_proxy|strict_ssl))$/.test(key)) env[key] = value;
  }
  if (!env.npm_config_cafile) {
    const cafile = execFileSync('npm', ['config', 'get', 'cafile'], { encoding: 'utf8' }).trim();
    if (cafile && cafile !== 'null' && cafile !== 'undefined') env.npm_config_cafile = cafile;
  }
  if (!env.npm_config_registry) env.npm_config_registry = execFileSync('npm', ['config', 'get', 'registry'], { encoding: 'utf8' }).trim();
  return env;
}

/**
 * The worker image as ACR Tasks builds it (azure.yaml: docker.context ".", remoteBuild): the context after
 * .dockerignore, each stage of worker/Dockerfile carried out, then the worker started from the runtime stage's
 * files with the image's own command, as its unprivileged user, and a call run through it.
 */
describe('the worker image, built from its Dockerfile and context', () => {
  let work: string;
  let image: BuiltImage;
  let lab: Lab | undefined;

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'worker-image-'));
    chmodSync(work, 0o755);
    const context = join(work, 'context');
    const contextFiles = dockerContext(repoRoot, context);
    // npm's cache lives in each stage's HOME, as in the image; `npm cache clean` there touches nothing else.
    image = runDockerfile({ dockerfile: join(context, 'worker', 'Dockerfile'), context, contextFiles, into: join(work, 'stages'), env: builderNetworkEnv() });
    const app = join(image.runtime.root, image.runtime.workdir);
    process.stdout.write(
      `[artifact] worker runtime stage (/app): ${mebibytes(folderBytes(app))}, of which node_modules ${mebibytes(folderBytes(join(app, 'node_modules')))}; ` +
        `build context ${contextFiles.length} files; base image ${image.runtime.baseImage}, stages run on this machine's Node ${process.version}\n`,
    );
  }, 400_000);

  afterAll(async () => {
    await lab?.close();
    removeLater(work);
  }, 120_000);

  it('sends a build context without tests, lab, infra, functions or local settings', () => {
    const leaked = image.contextFiles.filter((path) => /(^|\/)(lab|test|infra|bench|functions|scripts)\//.test(path) || /\.test\.ts$|(^|\/)\.env$|local\.settings\.json$/.test(path));
    expect(leaked).toEqual([]);
    expect(image.contextFiles).toEqual(expect.arrayContaining(['package.json', 'package-lock.json', 'worker/main.ts', 'shared/log.ts']));
  });

  it('holds the compiled worker and production dependencies only, and runs node as an unprivileged user', () => {
    const app = join(image.runtime.root, image.runtime.workdir);
    const files = walk(app).filter((path) => !path.startsWith('node_modules/'));
    expect(files).toContain('dist/worker/main.js');
    expect(files.filter((path) => !/^(dist\/(worker|shared)\/.+\.js(\.map)?|package\.json|package-lock\.json)$/.test(path))).toEqual([]);
    const installed = JSON.parse(readFileSync(join(app, 'node_modules', '.package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
    expect(Object.entries(installed.packages).filter(([, entry]) => entry.dev).map(([path]) => path)).toEqual([]);
    expect(image.runtime.cmd).toEqual(['node', 'dist/worker/main.js']);
    expect(image.runtime.user).toBe('node');
    expect(image.runtime.env.NODE_ENV).toBe('production');
  });

  it('takes a whole call when started with the image command from the runtime stage', async () => {
    const runtime = image.runtime;
    lab = await startLab({
      worker: 'child-process',
      workerCommand: {
        command: runtime.cmd![0]!,
        args: runtime.cmd!.slice(1),
        cwd: join(runtime.root, runtime.workdir),
        env: runtime.env,
        // USER node: not root, so nothing under /app can be written (files are root's), as in the image.
        ...(process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {}),
      },
      logLevel: 'silent',
    });
    const call = await lab.placeCall();
    let heardFrames = 0;
    call.on('heard', () => heardFrames++);
    await call.waitFor('MediaStreamingStarted', 20_000);
    await expect.poll(() => heardFrames, { timeout: 10_000 }).toBeGreaterThan(10);
    await call.hangUp();
    await call.waitFor('CallDisconnected', 5000);
  });
});
