import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, posix } from 'node:path';
import dockerignore from '@balena/dockerignore';
import { DockerfileParser, Env as EnvInstruction, JSONInstruction, ModifiableInstruction } from 'dockerfile-ast';
import { copyFiles, projectFiles } from './artifacts.js';

/**
 * Carries out a Dockerfile's instructions without a Docker engine, faithfully for the instructions our Dockerfile
 * uses, and refuses anything it cannot carry out faithfully (a glob, an absolute path in RUN, ADD, a stage it
 * does not know), so a change to the Dockerfile that this runner would get wrong fails loudly.
 *
 * What it cannot reproduce, by design: the base image's own files (the host's Node runs every stage; the test
 * reports its version beside the image's tag) and file ownership (files are root's, readable by all, as COPY
 * without --chown makes them).
 */
export interface Stage {
  name: string | undefined;
  baseImage: string;
  /** The stage's filesystem root on this machine; the image's `/x` is `<root>/x`. */
  root: string;
  workdir: string;
  env: Record<string, string>;
  user: string | undefined;
  cmd: string[] | undefined;
}

export interface BuiltImage {
  stages: Stage[];
  /** The last stage: what the image holds and runs. */
  runtime: Stage;
  /** The build context as sent to the builder (after .dockerignore). */
  contextFiles: string[];
}

/** The build context the Docker CLI (or ACR Tasks) sends: the project's files minus .dockerignore, Docker's semantics. */
export function dockerContext(projectRoot: string, destination: string): string[] {
  const ignoreFile = join(projectRoot, '.dockerignore');
  const rules = dockerignore().add(existsSync(ignoreFile) ? readFileSync(ignoreFile, 'utf8').split('\n') : []);
  const files = projectFiles(projectRoot).filter((path) => !rules.ignores(path));
  copyFiles(files, projectRoot, destination);
  return files;
}

export function runDockerfile(options: { dockerfile: string; context: string; contextFiles: string[]; into: string; log?: (line: string) => void; env?: Record<string, string> }): BuiltImage {
  const log = options.log ?? (() => undefined);
  const parsed = DockerfileParser.parse(readFileSync(options.dockerfile, 'utf8'));
  const stages: Stage[] = [];
  let stage: Stage | undefined;
  const inImage = (s: Stage, path: string) => join(s.root, posix.isAbsolute(path) ? path : posix.join(s.workdir, path));

  for (const instruction of parsed.getInstructions()) {
    const keyword = instruction.getKeyword();
    const args = instruction.getArguments().map((a) => a.getValue());
    if (keyword === 'FROM') {
      const asIndex = args.findIndex((a) => a.toUpperCase() === 'AS');
      const root = join(options.into, `stage-${stages.length}`);
      mkdirSync(root, { recursive: true });
      chmodSync(root, 0o755);
      stage = { name: asIndex >= 0 ? args[asIndex + 1] : undefined, baseImage: args[0]!, root, workdir: '/', env: {}, user: undefined, cmd: undefined };
      stages.push(stage);
      log(`FROM ${args.join(' ')}`);
      continue;
    }
    if (!stage) throw new Error(`${keyword} before FROM`);
    const current = stage;
    switch (keyword) {
      case 'WORKDIR': {
        current.workdir = posix.resolve(current.workdir, args[0]!);
        mkdirSync(inImage(current, current.workdir), { recursive: true });
        break;
      }
      case 'ENV': {
        if (!(instruction instanceof EnvInstruction)) throw new Error('ENV not parsed as ENV');
        for (const property of instruction.getProperties()) current.env[property.getName()] = property.getUnescapedValue() ?? '';
        break;
      }
      case 'COPY': {
        const flags = instruction instanceof ModifiableInstruction ? instruction.getFlags() : [];
        const paths = args.filter((a) => !a.startsWith('--'));
        const from = flags.find((f) => f.getName() === 'from')?.getValue() ?? undefined;
        const unknownFlag = flags.find((f) => f.getName() !== 'from');
        if (unknownFlag) throw new Error(`COPY --${unknownFlag.getName()} is not emulated`);
        const destination = paths.pop()!;
        const source = from === undefined ? undefined : stages.find((s) => s.name === from) ?? stages[Number(from)];
        if (from !== undefined && !source) throw new Error(`COPY --from=${from}: no such stage`);
        for (const path of paths) {
          if (/[*?[]/.test(path)) throw new Error(`COPY ${path}: wildcards are not emulated`);
          const src = source ? inImage(source, path) : join(options.context, path);
          if (!source && !options.contextFiles.some((f) => f === path || f.startsWith(`${path.replace(/\/$/, '')}/`))) {
            throw new Error(`COPY ${path}: not in the build context (left out by .dockerignore?)`);
          }
          if (!existsSync(src)) throw new Error(`COPY ${path}: not found`);
          const intoDirectory = destination.endsWith('/') || paths.length > 1 || statSync(src).isDirectory();
          const dest = inImage(current, intoDirectory && !statSync(src).isDirectory() ? posix.join(destination, basename(path)) : destination);
          mkdirSync(statSync(src).isDirectory() ? dest : join(dest, '..'), { recursive: true });
          // A directory's contents are copied, not the directory itself, as Docker does.
          cpSync(src, dest, { recursive: true });
        }
        log(`COPY ${from === undefined ? '' : `--from=${from} `}${args.join(' ')}`);
        break;
      }
      case 'RUN': {
        const command = args.join(' ');
        if (/(^|\s)\/(?!dev\/null)/.test(command)) throw new Error(`RUN ${command}: absolute paths are not emulated`);
        log(`RUN ${command}`);
        const home = join(current.root, 'root');
        mkdirSync(home, { recursive: true });
        execFileSync('sh', ['-c', command], {
          cwd: inImage(current, current.workdir),
          stdio: ['ignore', 'pipe', 'pipe'],
          env: { PATH: process.env.PATH ?? '', HOME: home, ...(options.env ?? {}), ...current.env },
          maxBuffer: 256 * 1024 * 1024,
        });
        break;
      }
      case 'USER':
        current.user = args[0];
        break;
      case 'CMD':
      case 'ENTRYPOINT': {
        if (keyword === 'ENTRYPOINT') throw new Error('ENTRYPOINT is not emulated');
        const strings = instruction instanceof JSONInstruction ? instruction.getJSONStrings() : [];
        if (strings.length === 0) throw new Error(`${keyword} in shell form is not emulated (exec form keeps node as PID 1)`);
        current.cmd = strings.map((s) => s.getJSONValue());
        break;
      }
      case 'EXPOSE':
      case 'LABEL':
      case 'ARG':
        break;
      default:
        throw new Error(`${keyword} is not emulated`);
    }
  }
  const runtime = stages[stages.length - 1];
  if (!runtime) throw new Error('no stage');
  return { stages, runtime, contextFiles: options.contextFiles };
}
