/** A small Dockerfile reader for the properties the worker image must have (no linter is installable offline). */

export interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

export function parseDockerfile(text: string): Instruction[][] {
  const stages: Instruction[][] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i += 1) {
    const start = i;
    let line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    while (line.endsWith('\\') && i + 1 < lines.length) {
      i += 1;
      const next = lines[i]!.trim();
      line = line.slice(0, -1) + ' ' + (next.startsWith('#') ? '' : next);
    }
    const [keyword = '', ...rest] = line.split(/\s+/);
    const instruction = { keyword: keyword.toUpperCase(), args: rest.join(' '), line: start + 1 };
    if (instruction.keyword === 'FROM') stages.push([]);
    if (stages.length === 0) stages.push([]);
    stages[stages.length - 1]!.push(instruction);
  }
  return stages;
}

/** What is wrong with a worker Dockerfile; empty when it is fine. */
export function workerDockerfileProblems(text: string): string[] {
  const problems: string[] = [];
  const stages = parseDockerfile(text);
  const all = stages.flat();
  if (stages.length < 2) problems.push('not multi-stage: build and runtime must be separate stages');
  const final = stages[stages.length - 1] ?? [];
  const build = stages.slice(0, -1).flat();

  if (all.some((i) => i.keyword === 'HEALTHCHECK')) problems.push('HEALTHCHECK present: Container Apps probes the worker');
  if (!build.some((i) => i.keyword === 'RUN' && /\bnpm ci\b/.test(i.args) && !/--omit=dev/.test(i.args))) {
    problems.push('build stage does not install dev dependencies with npm ci');
  }
  if (!build.some((i) => i.keyword === 'RUN' && /npm run build|tsc\b/.test(i.args))) problems.push('build stage does not compile');
  if (!final.some((i) => i.keyword === 'RUN' && /\bnpm ci\b.*--omit=dev/.test(i.args))) {
    problems.push('runtime stage does not install production dependencies only (npm ci --omit=dev)');
  }
  if (final.some((i) => i.keyword === 'RUN' && /\bnpm (install|ci)\b/.test(i.args) && !/--omit=dev/.test(i.args))) {
    problems.push('runtime stage installs dev dependencies');
  }
  if (!final.some((i) => i.keyword === 'COPY' && /--from=\S+.*\bdist\b/.test(i.args))) problems.push('runtime stage does not copy dist/ from the build stage');

  const users = final.filter((i) => i.keyword === 'USER');
  const user = users[users.length - 1]?.args.split(':')[0];
  if (!user || user === 'root' || user === '0') problems.push('runtime stage runs as root (no non-root USER)');

  const starts = final.filter((i) => i.keyword === 'CMD' || i.keyword === 'ENTRYPOINT');
  const start = starts[starts.length - 1];
  let argv: unknown;
  try {
    argv = start ? JSON.parse(start.args) : undefined;
  } catch {
    argv = undefined;
  }
  if (!Array.isArray(argv)) problems.push('CMD/ENTRYPOINT is not exec form: node would not be PID 1 and SIGTERM would not reach it');
  else if (JSON.stringify(argv) !== JSON.stringify(['node', 'dist/worker/main.js'])) {
    problems.push(`starts ${JSON.stringify(argv)} instead of ["node","dist/worker/main.js"]`);
  }
  if (final.some((i) => i.keyword === 'ENTRYPOINT') && final.some((i) => i.keyword === 'CMD')) {
    problems.push('both ENTRYPOINT and CMD: the start command must be node alone');
  }
  return problems;
}
