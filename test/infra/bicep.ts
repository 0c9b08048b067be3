import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Language, type Node, Parser } from 'web-tree-sitter';

/** Syntax-only Bicep parsing with the tree-sitter grammar: no Bicep CLI exists offline. */

export const repoRoot = join(__dirname, '..', '..');
const grammarPath = join(repoRoot, 'node_modules', 'tree-sitter-bicep', 'tree-sitter-bicep.wasm');

let parserPromise: Promise<Parser> | undefined;

export function bicepParser(): Promise<Parser> {
  parserPromise ??= (async () => {
    await Parser.init();
    const parser = new Parser();
    parser.setLanguage(await Language.load(grammarPath));
    return parser;
  })();
  return parserPromise;
}

export interface SyntaxProblem {
  line: number;
  column: number;
  kind: 'ERROR' | 'MISSING';
  text: string;
}

/** Every ERROR or MISSING node, with 1-based line and column. */
export async function syntaxProblems(source: string): Promise<SyntaxProblem[]> {
  const tree = (await bicepParser()).parse(source);
  if (!tree) throw new Error('tree-sitter returned no tree');
  const problems: SyntaxProblem[] = [];
  const visit = (node: Node): void => {
    if (node.type === 'ERROR' || node.isMissing) {
      problems.push({
        line: node.startPosition.row + 1,
        column: node.startPosition.column + 1,
        kind: node.isMissing ? 'MISSING' : 'ERROR',
        text: node.isMissing ? `missing ${node.type}` : node.text.slice(0, 60),
      });
    }
    for (const child of node.children) if (child) visit(child);
  };
  visit(tree.rootNode);
  return problems;
}

export function bicepFiles(dir = join(repoRoot, 'infra')): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...bicepFiles(path));
    else if (entry.name.endsWith('.bicep')) found.push(path);
  }
  return found.sort();
}

export const repoPath = (path: string): string => relative(repoRoot, path);

export async function parseBicepFile(path: string): Promise<Node> {
  const tree = (await bicepParser()).parse(readFileSync(path, 'utf8'));
  if (!tree) throw new Error(`tree-sitter returned no tree for ${path}`);
  return tree.rootNode;
}

export function descendants(node: Node, type: string): Node[] {
  const found: Node[] = [];
  const visit = (n: Node): void => {
    if (n.type === type) found.push(n);
    for (const child of n.namedChildren) if (child) visit(child);
  };
  visit(node);
  return found;
}

/** The literal text of a string without interpolation, else undefined. */
export function literal(node: Node | null | undefined): string | undefined {
  if (!node || node.type !== 'string') return undefined;
  const parts = node.namedChildren.filter((c): c is Node => c !== null);
  if (parts.some((c) => c.type !== 'string_content' && c.type !== 'escape_sequence')) return undefined;
  return parts.map((c) => c.text).join('');
}

export function propertyKey(property: Node): string {
  const key = property.namedChildren[0];
  if (!key) throw new Error('object property without key');
  return literal(key) ?? key.text;
}

/** The properties of an object literal, by key. */
export function properties(object: Node): Map<string, Node> {
  const map = new Map<string, Node>();
  for (const child of object.namedChildren) {
    if (child?.type !== 'object_property') continue;
    const value = child.namedChildren[1];
    if (value) map.set(propertyKey(child), value);
  }
  return map;
}

/** Follows a dotted path of properties from an object literal. */
export function at(object: Node | undefined, ...path: string[]): Node | undefined {
  let current = object;
  for (const key of path) {
    if (!current || current.type !== 'object') return undefined;
    current = properties(current).get(key);
  }
  return current;
}

export function variable(root: Node, name: string): Node | undefined {
  for (const declaration of descendants(root, 'variable_declaration')) {
    if (declaration.namedChildren[0]?.text === name) return declaration.namedChildren[1] ?? undefined;
  }
  return undefined;
}

export interface BicepResource {
  symbol: string;
  type: string;
  body: Node;
}

/** Resource declarations (conditional `= if (...)` ones included), with their type string and body object. */
export function resources(root: Node): BicepResource[] {
  return descendants(root, 'resource_declaration').flatMap((declaration) => {
    const symbol = declaration.namedChildren[0]?.text ?? '';
    const type = literal(declaration.namedChildren[1]) ?? '';
    const body = descendants(declaration, 'object')[0];
    return body ? [{ symbol, type, body }] : [];
  });
}

export interface BicepModule {
  symbol: string;
  path: string;
  /** The condition of `= if (...) {`, without the parentheses; undefined when the module is always deployed. */
  condition?: string;
  body: Node;
}

/** Module declarations with their file path, condition (if any) and body object. */
export function modules(root: Node): BicepModule[] {
  return descendants(root, 'module_declaration').flatMap((declaration) => {
    const symbol = declaration.namedChildren[0]?.text ?? '';
    const path = literal(declaration.namedChildren[1]) ?? '';
    const third = declaration.namedChildren[2];
    const body = descendants(declaration, 'object')[0];
    if (!body) return [];
    const condition = third?.type === 'if_statement' ? third.namedChildren[0]?.text.replace(/^\(|\)$/g, '') : undefined;
    return [{ symbol, path, body, ...(condition !== undefined ? { condition } : {}) }];
  });
}

/** The condition of a resource declared `= if (...) {`, else undefined. */
export function resourceCondition(root: Node, symbol: string): string | undefined {
  const declaration = descendants(root, 'resource_declaration').find((d) => d.namedChildren[0]?.text === symbol);
  const statement = declaration?.namedChildren.find((c) => c?.type === 'if_statement');
  return statement?.namedChildren[0]?.text.replace(/^\(|\)$/g, '');
}

export function outputs(root: Node): string[] {
  return descendants(root, 'output_declaration').map((o) => o.namedChildren[0]?.text ?? '');
}

export function parameters(root: Node): string[] {
  return descendants(root, 'parameter_declaration').map((p) => p.namedChildren[0]?.text ?? '');
}
