// Import rules of the code that ships: `npm run lint:imports`, and test/build/import-rules.test.ts in the suite.
// What ships: the Functions app (functions/ + shared/) and the worker image (worker/ + shared/). Neither contains
// lab/, bench/, test/ or scripts/, so an import of those from production code breaks the build Azure runs.
const production = '^(functions|worker|shared)/';
const testFile = '\\.test\\.ts$';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'production-imports-test-code',
      comment: 'functions/, worker/ and shared/ ship; lab/, bench/, test/ and scripts/ do not (.funcignore, .dockerignore).',
      severity: 'error',
      from: { path: production, pathNot: testFile },
      to: { path: '^(lab|bench|test|scripts)/' },
    },
    {
      name: 'production-imports-a-test-file',
      comment: 'A *.test.ts file is left out of both deployables.',
      severity: 'error',
      from: { path: production, pathNot: testFile },
      to: { path: testFile },
    },
    {
      name: 'functions-imports-worker',
      comment: 'The Functions zip leaves worker/ out; what both need belongs in shared/.',
      severity: 'error',
      from: { path: '^functions/' },
      to: { path: '^worker/' },
    },
    {
      name: 'worker-imports-functions',
      comment: 'The worker image copies shared/ and worker/ only; what both need belongs in shared/.',
      severity: 'error',
      from: { path: '^worker/' },
      to: { path: '^functions/' },
    },
    {
      name: 'shared-imports-an-app',
      comment: 'shared/ ships in both deployables, so it can know neither app.',
      severity: 'error',
      from: { path: '^shared/' },
      to: { path: '^(functions|worker)/' },
    },
    {
      name: 'production-imports-a-dev-dependency',
      comment: 'Both deployables install production dependencies only (npm ci --omit=dev).',
      severity: 'error',
      from: { path: production, pathNot: testFile },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'production-imports-an-unlisted-package',
      comment: 'A package that is not in package.json is only there by accident of hoisting.',
      severity: 'error',
      from: { path: production, pathNot: testFile },
      to: { dependencyTypes: ['npm-no-pkg', 'npm-unknown'] },
    },
    {
      name: 'unresolvable-import',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|dist)/' },
    // Type-only imports count too: `tsc` needs the imported file even when the emitted JavaScript does not.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
  },
};
