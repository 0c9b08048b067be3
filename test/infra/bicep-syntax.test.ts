import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bicepFiles, descendants, literal, parameters, parseBicepFile, repoPath, repoRoot, syntaxProblems } from './bicep.js';

describe('Bicep syntax (tree-sitter-bicep, offline)', () => {
  it('finds the Bicep files to check', () => {
    const files = bicepFiles().map(repoPath);
    expect(files).toContain(join('infra', 'main.bicep'));
    expect(files.length).toBeGreaterThan(5);
  });

  it('parses every .bicep file under infra/ without a syntax error', async () => {
    const report: string[] = [];
    for (const file of bicepFiles()) {
      for (const p of await syntaxProblems(readFileSync(file, 'utf8'))) {
        report.push(`${repoPath(file)}:${p.line}:${p.column} ${p.kind} ${p.text}`);
      }
    }
    expect(report).toEqual([]);
  });

  it('reports a broken snippet with the line of the error', async () => {
    const broken = [
      "param location string = 'westeurope'",
      'resource plan \'Microsoft.Web/serverfarms@2024-11-01\' = {',
      "  name: 'plan'",
      '  location: location',
      '  sku: { name: \'FC1\' tier: }',
      '}',
    ].join('\n');
    const problems = await syntaxProblems(broken);
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.map((p) => p.line)).toContain(5);
  });

  it('reports an unclosed resource body as missing', async () => {
    const problems = await syntaxProblems("resource r 'Microsoft.Web/sites@2024-11-01' = {\n  name: 'x'\n");
    expect(problems.length).toBeGreaterThan(0);
  });

  it('every @allowed list decorates a string or int parameter and contains its default (a decorator left above the wrong parameter is caught)', async () => {
    const wrong: string[] = [];
    for (const file of bicepFiles()) {
      for (const declaration of descendants(await parseBicepFile(file), 'parameter_declaration')) {
        const decorators = declaration.previousNamedSibling?.type === 'decorators' ? declaration.previousNamedSibling : undefined;
        const allowed = decorators?.namedChildren.find((d) => d?.namedChildren[0]?.namedChildren[0]?.text === 'allowed');
        if (!allowed) continue;
        const name = declaration.namedChildren[0]?.text ?? '?';
        const type = declaration.namedChildren[1]?.text ?? '?';
        const values = descendants(allowed, 'array')[0]?.namedChildren.map((v) => literal(v) ?? v?.text) ?? [];
        const fallback = declaration.namedChildren[2];
        if (type !== 'string' && type !== 'int') wrong.push(`${repoPath(file)} ${name}: @allowed on a ${type} parameter`);
        else if (fallback && !values.includes(literal(fallback) ?? fallback.text)) wrong.push(`${repoPath(file)} ${name}: default ${fallback.text} not allowed`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('main.parameters.json supplies only parameters main.bicep declares, and every one without a default', async () => {
    const root = await parseBicepFile(join(repoRoot, 'infra', 'main.bicep'));
    const declared = parameters(root);
    const supplied = Object.keys(
      (JSON.parse(readFileSync(join(repoRoot, 'infra', 'main.parameters.json'), 'utf8')) as { parameters: object }).parameters,
    );
    expect(supplied.filter((name) => !declared.includes(name))).toEqual([]);
    expect(declared.filter((name) => !supplied.includes(name)).sort()).toEqual(['tags']);
  });
});
